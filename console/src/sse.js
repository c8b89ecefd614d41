// Server-sent events over fetch: the browser's EventSource cannot send the Authorization header,
// and a token in the URL would land in logs. Reconnects resume with Last-Event-ID.
import { ApiError, authHeaders } from "./api.js";

function parseFrame(frame) {
  let id = null;
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return { id, event, data: data.join("\n") };
}

/** Follow `/v1{path}`; returns a function that stops following. */
export function follow(path, { onEvent, onEnd, onError, onState }) {
  const controller = new AbortController();
  let lastId = null;
  let stopped = false;

  async function connect(attempt) {
    try {
      const headers = { ...authHeaders(), Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(`/v1${path}`, { headers, signal: controller.signal });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, body);
      }
      onState?.("live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (frame.id) lastId = frame.id;
          if (frame.data) {
            try {
              onEvent(frame.event, JSON.parse(frame.data));
            } catch {
              /* a frame that is not JSON is not ours */
            }
          }
        }
      }
      if (!stopped) {
        onState?.("ended");
        onEnd?.();
      }
    } catch (failure) {
      if (stopped || failure.name === "AbortError") return;
      if (failure instanceof ApiError && failure.status >= 400 && failure.status < 500) {
        onState?.("refused");
        onError?.(failure);
        return;
      }
      onState?.("reconnecting");
      setTimeout(() => connect(attempt + 1), Math.min(8000, 500 * 2 ** attempt));
    }
  }

  connect(0);
  return () => {
    stopped = true;
    controller.abort();
  };
}
