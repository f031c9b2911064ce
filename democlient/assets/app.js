// app.js: the demo client's entry point. It shows one view at a time, runs
// the account flows (sign-up, login, current user, sessions, password
// change and reset, email verification, logout) and keeps the "What
// happens" panel up to date. Boards live in boards.js, roles in admin.js.
import * as api from './api.js';
import { el, $, $$, say, showProblem, clearErrors } from './ui.js';
import * as boards from './boards.js';
import * as admin from './admin.js';

let me = null;
let pageToken = ''; // the reset or verification token from the link, kept off the address bar

function show(view) {
  for (const s of $$('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const b of $$('#nav [data-show]')) b.setAttribute('aria-current', b.dataset.show === view ? 'page' : 'false');
  if (view === 'boards') boards.load();
  if (view === 'notifications') boards.loadNotifications();
  if (view === 'account') { renderMe(); loadSessions(); }
  if (view === 'admin') admin.search('');
}

function showLogin() {
  me = null;
  $('#nav').hidden = true;
  $('#whoami').textContent = '';
  boards.reset();
  show('auth');
}

// enter shows the app once the page holds an access token.
async function enter() {
  const res = await api.request('GET', '/api/users/me');
  if (!res.ok) {
    if (res.status !== 401) showProblem(res);
    return;
  }
  me = res.data.user;
  renderWho();
  $('#nav').hidden = false;
  show('boards');
}

function renderWho() {
  const who = $('#whoami');
  who.replaceChildren();
  if (!me) return;
  if (me.pictureURL) who.append(el('img', { src: me.pictureURL, alt: '', class: 'avatar' }));
  who.append(el('span', { id: 'whoami-name' }, me.username));
  $('#nav-admin').hidden = !(me.roles || []).includes('admin');
}

function renderMe() {
  const box = $('#me');
  box.replaceChildren();
  if (!me) return;
  const rows = [
    ['Username', me.username], ['Email', me.email],
    ['Email verified', me.emailVerified ? 'yes' : 'no'], ['Full name', me.fullName || '—'],
    ['Colour', me.color || '—'], ['Roles', (me.roles || []).join(', ')], ['Since', me.createdAt],
  ];
  if (me.pictureURL) box.append(el('img', { src: me.pictureURL, alt: 'Your picture', class: 'picture' }));
  box.append(el('dl', {}, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
}

async function reloadMe() {
  const res = await api.request('GET', '/api/users/me');
  if (!res.ok) { if (res.status !== 401) showProblem(res); return; }
  me = res.data.user;
  renderWho();
  renderMe();
}

async function loadSessions() {
  const res = await api.request('GET', '/api/auth/sessions');
  if (!res.ok) { if (res.status !== 401) showProblem(res); return; }
  const list = $('#session-list');
  list.replaceChildren(...res.data.sessions.map(s => el('li', {},
    el('span', {}, `${s.current ? '(this browser) ' : ''}${s.userAgent || 'unknown client'} — ${s.ip} — since ${s.createdAt}, last used ${s.lastUsedAt}`),
    el('button', { type: 'button', onclick: () => revoke(s) }, s.current ? 'Revoke (logs this browser out)' : 'Revoke'))));
}

async function revoke(s) {
  const res = await api.request('DELETE', '/api/auth/sessions/' + encodeURIComponent(s.id));
  if (!res.ok) { if (res.status !== 401) showProblem(res); return; }
  say('Session revoked.');
  if (s.current) { api.forget(); return; }
  loadSessions();
}

// formJSON reads the named inputs of a form (files excepted) as strings.
function formJSON(form, names) {
  const out = {};
  for (const n of names) {
    const v = form.elements[n].value;
    if (v !== '') out[n] = v;
  }
  return out;
}

function busy(form, on) {
  for (const b of $$('button', form)) b.disabled = on;
}

// submit wires a form: fn gets the form and answers the API response.
function submit(sel, fn) {
  const form = $(sel);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    busy(form, true);
    try {
      await fn(form);
    } finally {
      busy(form, false);
    }
  });
}

function wireAuth() {
  submit('#login-form', async (form) => {
    const login = form.elements.login.value.trim();
    const body = { password: form.elements.password.value };
    if (login.includes('@')) body.email = login; else body.username = login;
    const res = await api.request('POST', '/api/auth/login', { json: body, auth: false });
    if (!res.ok) return showProblem(res, form);
    form.reset();
    api.adoptTokens(res.data);
    say('Logged in.');
    await enter();
  });

  submit('#signup-form', async (form) => {
    const fields = formJSON(form, ['username', 'email', 'password', 'fullName', 'color']);
    const file = form.elements.picture.files[0];
    let res;
    if (file) {
      // With a picture, the same fields travel as multipart.
      const fd = new FormData();
      for (const [k, v] of Object.entries(fields)) fd.append(k, v);
      fd.append('picture', file, file.name);
      res = await api.request('POST', '/api/auth/signup', { form: fd, auth: false });
    } else {
      res = await api.request('POST', '/api/auth/signup', { json: fields, auth: false });
    }
    if (!res.ok) return showProblem(res, form);
    form.reset();
    api.adoptTokens(res.data);
    say('Welcome! A mail with a link to confirm your address is on its way.');
    await enter();
  });

  submit('#forgot-form', async (form) => {
    const res = await api.request('POST', '/api/auth/forgot-password', { json: { email: form.elements.email.value.trim() }, auth: false });
    if (!res.ok) return showProblem(res, form);
    form.reset();
    say(res.data.message);
  });

  submit('#reset-form', async (form) => {
    const body = { token: pageToken, password: form.elements.password.value, passwordConfirm: form.elements.passwordConfirm.value };
    const res = await api.request('POST', '/api/auth/reset-password', { json: body, auth: false });
    if (!res.ok) return showProblem(res, form);
    form.reset();
    pageToken = '';
    history.replaceState(null, '', '/');
    say(res.data.message);
    showLogin();
  });

  $('#verify-button').addEventListener('click', async (e) => {
    e.target.disabled = true;
    const res = await api.request('POST', '/api/auth/verify-email', { json: { token: pageToken }, auth: false });
    e.target.disabled = false;
    if (!res.ok) return showProblem(res);
    pageToken = '';
    say(`The address ${res.data.user.email} is confirmed.`);
    history.replaceState(null, '', '/');
    start();
  });
}

function wireAccount() {
  $('#me-reload').addEventListener('click', reloadMe);
  $('#sessions-reload').addEventListener('click', loadSessions);
  $('#resend-verification').addEventListener('click', async () => {
    const res = await api.request('POST', '/api/auth/resend-verification');
    if (!res.ok) { if (res.status !== 401) showProblem(res); return; }
    say(res.data.message);
  });
  for (const b of $$('[data-probe]')) {
    b.addEventListener('click', async () => {
      const res = await api.request('GET', b.dataset.probe);
      $('#probe-result').textContent = res.ok
        ? `${b.dataset.probe}: ${res.status} ${res.data.message}`
        : `${b.dataset.probe}: ${res.status} ${res.problem.code || ''} — ${res.problem.detail || ''}`;
    });
  }
  submit('#picture-form', async (form) => {
    const fd = new FormData();
    const file = form.elements.picture.files[0];
    if (!file) { showProblem({ status: 422, problem: { detail: 'Choose a picture first.', errors: { picture: 'Choose a file.' } } }, form); return; }
    fd.append('picture', file, file.name);
    const res = await api.request('PUT', `/api/users/${me.id}/picture`, { form: fd });
    if (!res.ok) return res.status === 401 ? undefined : showProblem(res, form);
    form.reset();
    me = res.data.user;
    renderWho();
    renderMe();
    say('Picture updated.');
  });
  submit('#password-form', async (form) => {
    const res = await api.request('POST', '/api/auth/change-password', { json: formJSON(form, ['currentPassword', 'newPassword']) });
    if (!res.ok) {
      if (res.status === 401 && res.problem.code === 'invalid_credentials') {
        return showProblem({ ...res, problem: { ...res.problem, errors: { currentPassword: 'This is not your current password.' } } }, form);
      }
      return res.status === 401 ? undefined : showProblem(res, form);
    }
    form.reset();
    api.adoptTokens(res.data);
    say('Password changed: every other session is logged out, this one has a fresh start.');
    loadSessions();
  });
  $('#logout').addEventListener('click', async () => {
    await api.request('POST', '/api/auth/logout', { auth: false });
    api.forget();
    say('Logged out.');
  });
  $('#logout-all').addEventListener('click', async () => {
    const res = await api.request('POST', '/api/auth/logout-all');
    if (!res.ok && res.status !== 401) return showProblem(res);
    api.forget();
    say('Logged out everywhere: every session of this account has ended.');
  });
  for (const b of $$('#nav [data-show]')) b.addEventListener('click', () => show(b.dataset.show));
}

// The teaching panel: the request log, the decoded claims with their
// countdown, and what document.cookie shows.
function wirePanel() {
  const log = $('#request-log');
  api.on('request', (e) => {
    const time = e.at.toLocaleTimeString();
    log.prepend(el('li', { class: e.status >= 400 || e.status === 0 ? 'bad' : 'good' },
      el('span', { class: 'method' }, e.method), ' ', el('span', { class: 'path' }, e.path), ' → ',
      el('strong', { class: 'status' }, String(e.status || 'no answer')), e.code ? ' ' + e.code : '',
      ` (${e.ms} ms, ${time})`));
    while (log.children.length > 60) log.lastChild.remove();
    showCookie();
  });
  $('#log-clear').addEventListener('click', () => log.replaceChildren());
  api.on('token', (c) => {
    $('#claims').textContent = c ? JSON.stringify(c, null, 2) : '';
    tick();
  });
  api.on('loggedOut', () => {
    if (!$('#view-reset').hidden || !$('#view-verify').hidden) return;
    say('You are logged out. Log in again.', 'error');
    showLogin();
  });
  setInterval(tick, 1000);
  showCookie();
}

function tick() {
  const c = api.currentClaims();
  const out = $('#token-countdown');
  if (!c) { out.textContent = 'No access token: not logged in.'; return; }
  const left = Math.round(c.exp - Date.now() / 1000);
  out.textContent = left > 0
    ? `Expires in ${left} s (at ${new Date(c.exp * 1000).toLocaleTimeString()}).`
    : 'Expired: the next call answers 401 token_expired, and the page refreshes it.';
  out.className = left > 0 ? '' : 'expired';
}

function showCookie() {
  $('#cookie-view').textContent = JSON.stringify(document.cookie);
}

// start picks the view from the address: the pages the emails link to, or
// the app, restored with the refresh cookie when this browser has one.
async function start() {
  const params = new URLSearchParams(location.search);
  if (location.pathname === '/reset-password' || location.pathname === '/verify-email') {
    pageToken = params.get('token') || pageToken;
    // The token leaves the address bar (and the history) at once.
    history.replaceState(null, '', location.pathname);
    if (!pageToken) say('This link has no token in it: open the link from the mail again.', 'error');
    show(location.pathname === '/reset-password' ? 'reset' : 'verify');
    return;
  }
  const res = await api.refresh();
  if (res.ok) {
    await enter();
  } else {
    if (res.status !== 401) showProblem(res);
    showLogin();
  }
}

wireAuth();
wireAccount();
wirePanel();
boards.wire();
admin.wire();
// A token from another tab: a login there logs this tab in, as the
// shared cookie would on the next refresh anyway.
api.on('token', (c, remote) => {
  if (remote && c && (!me || c.sub !== me.id) && $('#view-reset').hidden && $('#view-verify').hidden) enter();
});
start();
