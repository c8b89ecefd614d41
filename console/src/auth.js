// Signing in. Development: the gateway mints a token for a development identity. Production:
// OpenID Connect authorization code flow with PKCE (S256) against the configured issuer; the
// console is a public client and keeps no secret.
import { api, session } from "./api.js";

const PENDING = "igny8.oidc";

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

export async function devSignIn(user) {
  const token = await api("/console/dev-tokens", {
    method: "POST",
    body: { user },
    account: false,
  });
  session.signIn(token.access_token, user);
}

async function discover(issuer) {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the identity provider's discovery answered ${response.status}`);
  const found = await response.json();
  if (found.issuer.replace(/\/$/, "") !== issuer.replace(/\/$/, ""))
    throw new Error("the identity provider names another issuer");
  return found;
}

export async function oidcSignIn(oidc) {
  const found = await discover(oidc.issuer);
  const verifier = random(48);
  const challenge = base64url(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
  );
  const pending = {
    verifier,
    state: random(16),
    nonce: random(16),
    token_endpoint: found.token_endpoint,
    client_id: oidc.client_id,
    redirect_uri: `${location.origin}/callback`,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: pending.redirect_uri,
    scope: oidc.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${found.authorization_endpoint}?${params}`);
}

function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

/** Finish the sign-in on /callback: exchange the code with the PKCE verifier. */
export async function oidcCallback(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (params.get("error"))
    throw new Error(params.get("error_description") || params.get("error"));
  if (!pending || params.get("state") !== pending.state)
    throw new Error("this sign-in was not started here (state mismatch): sign in again");
  const response = await fetch(pending.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code") || "",
      redirect_uri: pending.redirect_uri,
      client_id: pending.client_id,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok)
    throw new Error(tokens.error_description || tokens.error || `token endpoint ${response.status}`);
  const identity = claims(tokens.id_token || "");
  if (tokens.id_token && identity.nonce !== pending.nonce)
    throw new Error("the identity token does not carry this sign-in's nonce");
  // The gateway verifies the access token against the issuer's keys on every call.
  session.signIn(tokens.access_token, identity.email || identity.sub || "");
}
