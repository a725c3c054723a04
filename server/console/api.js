// The JSON API client: the signed-in session, bearer headers, and errors that name the field
// at fault so forms can show the message next to it.

const SESSION_KEY = "fieldsync.console.session";
const DEVICE_KEY = "fieldsync.console.device.";

let current = load();
const signedOutHandlers = [];

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && saved.token && Date.parse(saved.expires_at ?? "") < Date.now()) return null;
    return saved && saved.token ? saved : null;
  } catch {
    return null;
  }
}

/** An answer the server refused: HTTP status, error code, message and the field it names. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

/** The field a message starts with (`customer.name: is required`), for older error bodies. */
export function fieldOf(message) {
  const m = /^([a-z_][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z_][a-z0-9_]*(?:\[\d+\])?)*): /.exec(message || "");
  return m ? m[1] : null;
}

export function session() {
  return current;
}

export function onSignedOut(handler) {
  signedOutHandlers.push(handler);
}

export function signOut() {
  current = null;
  sessionStorage.removeItem(SESSION_KEY);
  for (const handler of signedOutHandlers) handler();
}

/** `POST /v1/login`; keeps the device id the server gave this browser for this user. */
export async function login(username, password) {
  const deviceKey = DEVICE_KEY + username;
  const body = {
    username,
    password,
    device_name: `Dispatcher console (${navigator.platform || "browser"})`,
    device_id: localStorage.getItem(deviceKey) || null,
  };
  const answer = await request("POST", "/v1/login", body, { anonymous: true });
  localStorage.setItem(deviceKey, answer.device_id);
  current = {
    token: answer.token,
    expires_at: typeof answer.expires_at === "number" ? new Date(answer.expires_at).toISOString() : answer.expires_at,
    user: answer.user,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(current));
  return current;
}

async function request(method, path, body, { anonymous = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!anonymous && current) headers.Authorization = `Bearer ${current.token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check the connection and try again.", null);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (res.ok) return data;
  const detail = (data && (data.error || data)) || {};
  const message = detail.message || `The server answered ${res.status} ${res.statusText}.`;
  const error = new ApiError(res.status, detail.code || "http_" + res.status, message, detail.field || fieldOf(message));
  if (res.status === 401 && !anonymous && current) signOut();
  throw error;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body ?? {});
export const put = (path, body) => request("PUT", path, body ?? {});

/** A random UUID, also where `crypto.randomUUID` is missing (plain HTTP on another host). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A query string from the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Bytes of an attachment as an object URL (the bearer header cannot go on an <img>). */
export async function blobUrl(path) {
  const res = await fetch(path, { headers: { Authorization: `Bearer ${current?.token ?? ""}` } });
  if (!res.ok) throw new ApiError(res.status, "http_" + res.status, `could not load ${path}`, null);
  return URL.createObjectURL(await res.blob());
}
