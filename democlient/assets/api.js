// api.js: every call to the corkboard API goes through request(), which
// keeps the access token in memory only, refreshes it through the HttpOnly
// refresh cookie when a call answers 401, records each request for the
// "What happens" panel, and shares logins, refreshes and logouts with the
// other tabs of this browser.

let accessToken = null;
let claims = null;
let refreshing = null; // the refresh in flight, shared by every caller in this tab
const listeners = { token: [], loggedOut: [], request: [] };
const channel = 'BroadcastChannel' in self ? new BroadcastChannel('corkboard-auth') : null;

// on registers a listener: "token" (the access token changed; its
// arguments are the claims and whether another tab sent it), "loggedOut" (the session is gone: show the login form),
// "request" (a request finished; its log entry is the argument).
export function on(event, fn) { listeners[event].push(fn); }
function emit(event, ...args) { for (const fn of listeners[event]) fn(...args); }

export function currentClaims() { return claims; }
export function loggedIn() { return accessToken !== null; }

// decodeClaims reads a JWT's payload. It does not verify anything: only
// the server can, and the page only displays what the token says.
export function decodeClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const text = new TextDecoder().decode(Uint8Array.from(atob(part), c => c.charCodeAt(0)));
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function setToken(token, { broadcast = true } = {}) {
  accessToken = token;
  claims = token ? decodeClaims(token) : null;
  emit('token', claims, !broadcast);
  if (broadcast && channel) channel.postMessage(token ? { type: 'token', token } : { type: 'loggedOut' });
}

// adoptTokens takes the answer of signup, login, refresh or
// change-password. The refresh token is not in it: it came as a cookie.
export function adoptTokens(body) { setToken(body.accessToken); }

// forget drops the access token, tells the other tabs, and shows the login.
export function forget() {
  setToken(null);
  emit('loggedOut');
}

if (channel) {
  // Another tab of this browser logged in, refreshed or logged out. The
  // refresh cookie is shared by all tabs, so they share one session: a
  // tab that took a new token passes it on, and a logout ends them all.
  channel.onmessage = (e) => {
    if (e.data?.type === 'token' && typeof e.data.token === 'string') {
      setToken(e.data.token, { broadcast: false });
    } else if (e.data?.type === 'loggedOut' && accessToken !== null) {
      setToken(null, { broadcast: false });
      emit('loggedOut');
    }
  };
}

// refresh asks for a new access token with the refresh cookie. Callers in
// this tab that need one at the same moment share one request; two tabs
// refreshing at the same moment each send the same cookie, and the server's
// grace window answers the later one with the same new session state
// instead of treating it as a stolen token.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const res = await send('POST', '/api/auth/refresh', { auth: false });
      if (res.ok) adoptTokens(res.data);
      return res;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

// tokenCodes are the 401 codes that are about the access token, which a
// refresh may cure. Another 401 (invalid_credentials: a wrong current
// password) is an answer to show.
const tokenCodes = new Set(['token_expired', 'session_revoked', 'missing_token', 'invalid_token']);

// request calls the API and answers {ok, status, data, problem, headers,
// blob}. With auth (the default) it sends the access token; a 401 about
// the token leads to one refresh and one retry, and when the refresh is
// refused too, to the login form. json is a value sent as JSON; form is a
// FormData sent as multipart; blob asks for the body as a Blob.
export async function request(method, path, { json, form, auth = true, blob = false } = {}) {
  let res = await send(method, path, { json, form, auth, blob });
  if (auth && res.status === 401 && tokenCodes.has(res.problem?.code)) {
    const r = await refresh();
    if (r.ok) {
      res = await send(method, path, { json, form, auth, blob });
    } else if (r.status !== 401) {
      return r; // the refresh could not be done now (busy, offline): say so, keep the session
    }
    if (res.status === 401 && tokenCodes.has(res.problem?.code)) {
      forget();
    }
  }
  return res;
}

async function send(method, path, { json, form, auth, blob }) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser writes the multipart Content-Type and boundary
  }
  if (auth && accessToken) headers['Authorization'] = 'Bearer ' + accessToken;
  const started = performance.now();
  const entry = { method, path, status: 0, code: '', ms: 0, at: new Date() };
  let res;
  try {
    const r = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    res = { ok: r.ok, status: r.status, headers: r.headers, data: null, problem: null, blob: null };
    const type = r.headers.get('Content-Type') || '';
    if (type.startsWith('application/problem+json')) {
      res.problem = await r.json();
      entry.code = res.problem.code || '';
    } else if (blob && r.ok) {
      res.blob = await r.blob();
    } else if (type.startsWith('application/json')) {
      res.data = await r.json();
    } else {
      await r.arrayBuffer();
    }
    if (!r.ok && !res.problem) {
      res.problem = { status: r.status, title: r.statusText, detail: 'The server answered ' + r.status + '.' };
    }
  } catch (err) {
    // The network failed or the answer was not what it said it was.
    res = { ok: false, status: 0, headers: new Headers(), data: null, blob: null,
      problem: { status: 0, title: 'No answer', detail: 'The server could not be reached (' + err.message + '). Try again.' } };
  }
  entry.status = res.status;
  entry.ms = Math.round(performance.now() - started);
  emit('request', entry);
  return res;
}
