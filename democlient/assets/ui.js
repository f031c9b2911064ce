// ui.js: small DOM helpers. Everything the server returns is put on the
// page with textContent or as an attribute value, never parsed as HTML, so
// a board named "<img src=x onerror=...>" is shown as those characters.

// el makes an element: attrs are set as properties (on*) or attributes;
// children are nodes or strings, and strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

let messageTimer = null;

// say shows a message in the status line; kind is "info" or "error".
export function say(text, kind = 'info') {
  const m = $('#message');
  m.textContent = text;
  m.className = kind;
  m.hidden = false;
  clearTimeout(messageTimer);
  if (kind === 'info') messageTimer = setTimeout(() => { m.hidden = true; }, 6000);
}

export function clearErrors(form) {
  if (!form) return;
  for (const s of $$('.field-error', form)) s.textContent = '';
  for (const i of $$('[aria-invalid]', form)) i.removeAttribute('aria-invalid');
}

// fieldFor names the form field a 409 conflict is about.
const conflictField = { email_taken: 'email', username_taken: 'username' };

// showProblem tells the user what a failed answer means, as the issue's
// "Bad input" asks: 409 and 422 name their fields next to the fields, 429
// and 503 say when to try again, the rest is a message. A 401 has already
// led to a refresh or to the login form (api.js) and is only explained.
export function showProblem(res, form) {
  const p = res.problem || {};
  clearErrors(form);
  let text = p.detail || p.title || ('The server answered ' + res.status + '.');
  const errors = { ...(p.errors || {}) };
  if (res.status === 409 && conflictField[p.code]) errors[conflictField[p.code]] = p.detail;
  if (res.status === 429 || res.status === 503) {
    const after = parseInt(res.headers?.get('Retry-After') || '', 10);
    text += Number.isFinite(after) ? ` Try again in ${after} s.` : ' Try again in a little while.';
  }
  let placed = 0;
  if (form) {
    for (const [field, msg] of Object.entries(errors)) {
      const slot = $(`.field-error[data-for="${CSS.escape(field)}"]`, form);
      if (!slot) continue;
      slot.textContent = msg;
      const input = form.elements[field];
      if (input) input.setAttribute('aria-invalid', 'true');
      placed++;
    }
  }
  const rest = Object.entries(errors).filter(([f]) => !form || !$(`.field-error[data-for="${CSS.escape(f)}"]`, form));
  if (rest.length) text += ' ' + rest.map(([f, m]) => `${f}: ${m}`).join('; ');
  say(`${res.status || 'Error'}${p.code ? ' ' + p.code : ''}: ${text}`, 'error');
  if (placed && form) {
    const first = $('[aria-invalid]', form);
    if (first) first.focus();
  }
}
