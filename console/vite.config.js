// The console is built into dist/, which the gateway serves at `/` (GATEWAY_CONSOLE_DIR).
// `npm run dev` serves it with hot reload and sends /v1 to a gateway on GATEWAY_URL.
import { defineConfig } from "vite";

export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022" },
  server: {
    proxy: { "/v1": process.env.GATEWAY_URL || "http://127.0.0.1:8100" },
  },
});
