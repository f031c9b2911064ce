// admin.js: the admin panel, which finds users and sets their roles. The
// server checks the caller's role on every call (read from the stored
// user); hiding the panel from others is only a convenience.
import * as api from './api.js';
import { el, $, say, showProblem } from './ui.js';

const roles = ['user', 'moderator', 'admin'];

export async function search(prefix) {
  const res = await api.request('GET', '/api/users?limit=50&search=' + encodeURIComponent(prefix));
  if (!res.ok) { if (res.status !== 401) showProblem(res); return; }
  $('#admin-users').replaceChildren(...res.data.users.map(row));
}

function row(u) {
  const form = el('form', { class: 'inline roles', novalidate: true, dataset: { id: u.id } },
    el('strong', {}, u.username), ' ',
    roles.map(r => el('label', {}, el('input', { type: 'checkbox', name: 'role', value: r, checked: (u.roles || []).includes(r) }), ' ' + r)),
    el('span', { class: 'field-error', dataset: { for: 'roles' } }),
    el('button', { type: 'submit' }, 'Save roles'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const chosen = [...form.querySelectorAll('input[name=role]:checked')].map(i => i.value);
    const res = await api.request('PUT', `/api/users/${u.id}/roles`, { json: { roles: chosen } });
    if (!res.ok) { if (res.status !== 401) showProblem(res, form); return; }
    say(`${res.data.user.username} now has the roles: ${res.data.user.roles.join(', ')}.`);
  });
  return el('li', {}, form);
}

export function wire() {
  const form = $('#admin-search-form');
  form.addEventListener('submit', (e) => { e.preventDefault(); search(form.elements.search.value.trim()); });
}
