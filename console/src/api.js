// The one way the console talks to the gateway: `/v1` with the user's bearer token and the chosen
// account. Every refusal becomes an ApiError carrying the API's own reason.

const TOKEN = "igny8.token";
const ACCOUNT = "igny8.account";
const USER = "igny8.user";

// sessionStorage: the token lives as long as the tab, never in a URL or a cookie.
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  get account() {
    return sessionStorage.getItem(ACCOUNT);
  },
  get user() {
    return sessionStorage.getItem(USER);
  },
  signIn(token, user) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(USER, user || "");
    sessionStorage.removeItem(ACCOUNT);
  },
  useAccount(accountId) {
    sessionStorage.setItem(ACCOUNT, accountId);
  },
  signOut() {
    for (const key of [TOKEN, ACCOUNT, USER]) sessionStorage.removeItem(key);
  },
};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const error = (body && body.error) || {};
    super(error.message || fallback || `the gateway answered ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.fields = error.errors || [];
    this.requestId = error.request_id || null;
    this.body = body;
  }
}

let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export function authHeaders(withAccount = true) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (withAccount && session.account) headers["X-Account-Id"] = session.account;
  return headers;
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 300) } };
  }
}

/** Call `/v1{path}`; returns the parsed JSON (null for 204), or the Response when `raw`. */
export async function api(path, options = {}) {
  const { method = "GET", body, headers = {}, raw = false, account = true, idempotencyKey } =
    options;
  const sent = { ...authHeaders(account), ...headers };
  let payload = body;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Blob)) {
    payload = JSON.stringify(body);
    sent["Content-Type"] = "application/json";
  }
  if (idempotencyKey) sent["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(`/v1${path}`, { method, headers: sent, body: payload });
  } catch (failure) {
    throw new ApiError(0, null, `the gateway could not be reached (${failure.message})`);
  }
  if (response.ok && raw) return response;
  const data = response.status === 204 ? null : await parse(response);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && session.token) onSignedOut(error);
    throw error;
  }
  return data;
}

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const found = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return found.length ? `?${new URLSearchParams(found).toString()}` : "";
}

export function newKey(prefix) {
  return `${prefix}-${crypto.randomUUID()}`;
}
