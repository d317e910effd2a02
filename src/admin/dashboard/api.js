// api.js - calls to the admin API with the operator's token, kept for this tab only.

const KEY = 'clmsync.admin-token';

export class AuthError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

// sessionStorage: the token lives as long as the tab, is not shared with other tabs and is
// never sent anywhere but in the Authorization header of these calls.
export function getToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(t) {
  sessionStorage.setItem(KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
}

const TIMEOUT_MS = 15000;

// Calls the admin API. path is relative to the page ("admin/v1/status"), so a dashboard served
// under a proxy's prefix still reaches its own listener. Returns the parsed JSON body. Throws
// AuthError on 401 and 403 (the token is dropped either way), ApiError for any other failed answer, and
// ApiError with status 0 when the listener cannot be reached.
export async function api(method, path, body, token = getToken()) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error',
    signal: AbortSignal.timeout(TIMEOUT_MS) };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'unreachable', e.name === 'TimeoutError'
      ? 'the admin listener did not answer in time' : 'the admin listener cannot be reached');
  }
  let data = null;
  const text = await r.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  const err = data && data.error ? data.error : {};
  // 403: a valid token without the admin role; it is no more use here than a wrong one
  if (r.status === 401 || r.status === 403) {
    if (token === getToken()) clearToken();
    throw new AuthError(r.status, r.status === 403 ? 'this token does not have the admin role'
      : err.message || 'the token was not accepted');
  }
  if (!r.ok) throw new ApiError(r.status, err.code, err.message);
  return data;
}

export const enc = encodeURIComponent;
