// boards.js: boards, lists, cards, attachments, members, invitations and
// notifications. Every change is one API call; the page then shows the
// board the server answers (or reads it again), so what is on screen is
// always what the server holds. Cards move with the keyboard (the arrow
// buttons on each card, or Alt+arrow keys on a focused card) and by drag
// and drop.
import * as api from './api.js';
import { el, $, $$, say, showProblem, clearErrors } from './ui.js';

let board = null;
let focusAfter = null; // {cardId, key}: what gets the focus back after a redraw

const fail = (res, form) => { if (res.status !== 401) showProblem(res, form); };

export function reset() {
  board = null;
  $('#board-list').replaceChildren();
  $('#board-view').replaceChildren();
  $('#board-view').hidden = true;
  $('#notif-list').replaceChildren();
  $('#notif-count').textContent = '';
}

export async function load() {
  const res = await api.request('GET', '/api/boards');
  if (!res.ok) return fail(res);
  $('#board-list').replaceChildren(...res.data.boards.map(b => el('li', {},
    el('button', { type: 'button', class: 'board-open', dataset: { id: b.id }, onclick: () => open(b.id) },
      (b.isFavourite ? '★ ' : '') + b.title),
    el('span', { class: 'muted' }, ` ${b.memberCount} member${b.memberCount === 1 ? '' : 's'}`))));
  loadNotifications();
}

async function open(id) {
  const res = await api.request('GET', '/api/boards/' + id);
  if (!res.ok) {
    fail(res);
    if (res.status === 404) { board = null; render(); load(); }
    return;
  }
  board = res.data.board;
  render();
  $('#board-title').focus();
}

async function reload() {
  if (board) await open(board.id);
}

// call runs one change to the current board. An answer holding the board
// is shown at once; any other success reads the board again.
async function call(method, path, opts = {}, form) {
  const res = await api.request(method, `/api/boards/${board.id}${path}`, opts);
  if (!res.ok) {
    fail(res, form);
    if (res.status === 404) await reload();
    return null;
  }
  if (res.data?.board) { board = res.data.board; render(); } else { await reload(); }
  if (form) { form.reset(); clearErrors(form); }
  return res;
}

function inlineForm(cls, label, name, value, onsubmit, button) {
  const form = el('form', { class: 'inline ' + cls, novalidate: true },
    el('label', {}, label + ' ', el('input', { name, value: value ?? '', required: true })),
    el('span', { class: 'field-error', dataset: { for: name } }),
    el('button', { type: 'submit' }, button));
  form.addEventListener('submit', (e) => { e.preventDefault(); clearErrors(form); onsubmit(form); });
  return form;
}

function fileForm(cls, label, name, accept, onsubmit, button) {
  const form = el('form', { class: 'inline ' + cls, novalidate: true },
    el('label', {}, label + ' ', el('input', { name, type: 'file', accept })),
    el('span', { class: 'field-error', dataset: { for: name } }),
    el('button', { type: 'submit' }, button));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    const file = form.elements[name].files[0];
    if (!file) { showProblem({ status: 422, problem: { detail: 'Choose a file first.', errors: { [name]: 'Choose a file.' } } }, form); return; }
    const fd = new FormData();
    fd.append(name, file, file.name);
    onsubmit(form, fd);
  });
  return form;
}

function render() {
  const view = $('#board-view');
  if (!board) { view.hidden = true; view.replaceChildren(); return; }
  view.hidden = false;
  const bg = board.backgroundURL || '';
  view.replaceChildren(...[
    el('div', { class: 'board-head' },
      el('h3', { id: 'board-title', tabindex: '-1' }, board.title),
      el('button', { type: 'button', id: 'board-favourite', 'aria-pressed': board.isFavourite ? 'true' : 'false',
        onclick: () => call('PUT', '/favourite', { json: { favourite: !board.isFavourite } }) },
      board.isFavourite ? '★ Favourite' : '☆ Mark as favourite'),
      el('button', { type: 'button', onclick: () => { board = null; render(); load(); } }, 'Close board')),
    // Only the server's own files are shown as images: the page's policy
    // allows images from this origin only. Another URL is shown as text.
    bg.startsWith('/api/files/') ? el('img', { class: 'banner', src: bg, alt: 'Board background' })
      : bg ? el('p', { class: 'muted' }, 'Background URL: ' + bg) : null,
    el('details', { class: 'board-settings' }, el('summary', {}, 'Board settings, members and invitations'),
      inlineForm('rename-board', 'Title', 'title', board.title,
        (f) => call('PATCH', '', { json: { title: f.elements.title.value } }, f), 'Rename'),
      fileForm('background-form', 'Background image', 'background', 'image/*',
        (f, fd) => call('PUT', '/background', { form: fd }, f), 'Upload background'),
      el('h4', {}, 'Members'),
      el('ul', { class: 'plain members' }, board.members.map(m => el('li', {},
        m.pictureURL ? el('img', { src: m.pictureURL, alt: '', class: 'avatar' }) : null,
        m.username + (m.owner ? ' (owner)' : ''),
        m.owner ? null : el('button', { type: 'button', onclick: () => call('DELETE', '/members/' + m.id) },
          m.id === api.currentClaims()?.sub ? 'Leave' : 'Remove')))),
      inlineForm('invite-form', 'Invite by username', 'username', '', invite, 'Invite'),
      el('button', { type: 'button', class: 'danger', onclick: deleteBoard }, 'Delete board')),
    el('div', { class: 'lists' },
      board.lists.map((l, i) => renderList(l, i)),
      el('section', { class: 'list add-list' },
        inlineForm('add-list', 'New list', 'name', '', (f) => call('POST', '/lists', { json: { name: f.elements.name.value } }, f), 'Add list'))),
  ].filter(Boolean));
  if (focusAfter) {
    // The same move button if it can still be used, else the card itself.
    const card = $(`.card[data-id="${CSS.escape(focusAfter.cardId)}"]`);
    const button = card && $(`[data-key="${focusAfter.key}"]`, card);
    const target = button && !button.disabled ? button : card;
    focusAfter = null;
    if (target) target.focus();
  }
}

function renderList(list, li) {
  const cards = el('ul', { class: 'cards', dataset: { list: list.id } }, list.cards.map((c, ci) => renderCard(c, li, ci)));
  cards.addEventListener('dragover', (e) => { e.preventDefault(); cards.classList.add('drop'); });
  cards.addEventListener('dragleave', () => cards.classList.remove('drop'));
  cards.addEventListener('drop', (e) => {
    e.preventDefault();
    cards.classList.remove('drop');
    const id = e.dataTransfer.getData('text/plain');
    if (!id) return;
    // The new position: before the first other card whose middle is below the pointer.
    const others = $$('.card', cards).filter(c => c.dataset.id !== id);
    let pos = others.findIndex(c => { const r = c.getBoundingClientRect(); return e.clientY < r.top + r.height / 2; });
    if (pos < 0) pos = others.length;
    moveCard(id, list.id, pos);
  });
  return el('section', { class: 'list', dataset: { id: list.id }, 'aria-label': 'List ' + list.name },
    el('h4', {}, list.name),
    el('div', { class: 'row small' },
      el('button', { type: 'button', 'aria-label': `Move list ${list.name} left`, disabled: li === 0,
        onclick: () => call('PATCH', `/lists/${list.id}`, { json: { position: li - 1 } }) }, '◀'),
      el('button', { type: 'button', 'aria-label': `Move list ${list.name} right`, disabled: li === board.lists.length - 1,
        onclick: () => call('PATCH', `/lists/${list.id}`, { json: { position: li + 1 } }) }, '▶'),
      el('button', { type: 'button', class: 'danger', onclick: () => confirm(`Delete the list ${list.name} and its cards?`) && call('DELETE', `/lists/${list.id}`) }, 'Delete list')),
    el('details', {}, el('summary', {}, 'Rename'),
      inlineForm('rename-list', 'Name', 'name', list.name, (f) => call('PATCH', `/lists/${list.id}`, { json: { name: f.elements.name.value } }, f), 'Rename')),
    cards,
    inlineForm('add-card', 'New card', 'title', '', (f) => call('POST', `/lists/${list.id}/cards`, { json: { title: f.elements.title.value } }, f), 'Add card'));
}

function renderCard(card, li, ci) {
  const lists = board.lists;
  const n = lists[li].cards.length;
  const move = (key, label, enabled, to) => el('button', { type: 'button', dataset: { key }, 'aria-label': `${label}: ${card.title}`, disabled: !enabled,
    onclick: () => { focusAfter = { cardId: card.id, key }; to(); } }, key);
  const item = el('li', { class: 'card', draggable: 'true', tabindex: '0', dataset: { id: card.id }, 'aria-label': `Card ${card.title}, ${ci + 1} of ${n} in ${lists[li].name}` },
    el('span', { class: 'card-title' }, card.title),
    el('div', { class: 'row small moves' },
      move('←', 'Move to the previous list', li > 0, () => moveCard(card.id, lists[li - 1].id, ci)),
      move('↑', 'Move up', ci > 0, () => moveCard(card.id, lists[li].id, ci - 1)),
      move('↓', 'Move down', ci < n - 1, () => moveCard(card.id, lists[li].id, ci + 1)),
      move('→', 'Move to the next list', li < lists.length - 1, () => moveCard(card.id, lists[li + 1].id, ci))),
    el('details', { class: 'card-details' }, el('summary', {}, 'Details'),
      cardDetails(card)));
  item.addEventListener('dragstart', (e) => { e.dataTransfer.setData('text/plain', card.id); e.dataTransfer.effectAllowed = 'move'; });
  item.addEventListener('keydown', (e) => {
    if (!e.altKey || e.target !== item) return;
    const key = { ArrowLeft: '←', ArrowUp: '↑', ArrowDown: '↓', ArrowRight: '→' }[e.key];
    const b = key && $(`[data-key="${key}"]`, item);
    if (b && !b.disabled) { e.preventDefault(); b.click(); }
  });
  return item;
}

function cardDetails(card) {
  const edit = el('form', { class: 'card-edit', novalidate: true },
    el('label', {}, 'Title ', el('input', { name: 'title', value: card.title, required: true })),
    el('span', { class: 'field-error', dataset: { for: 'title' } }),
    el('label', {}, 'Description ', el('textarea', { name: 'description', rows: '3' }, card.description || '')),
    el('span', { class: 'field-error', dataset: { for: 'description' } }),
    el('button', { type: 'submit' }, 'Save card'));
  edit.addEventListener('submit', (e) => {
    e.preventDefault();
    call('PATCH', `/cards/${card.id}`, { json: { title: edit.elements.title.value, description: edit.elements.description.value } }, edit);
  });
  return [
    edit,
    el('h5', {}, 'Attachments'),
    el('ul', { class: 'plain' }, (card.attachments || []).map(a => el('li', {},
      el('button', { type: 'button', onclick: () => download(card, a) }, `Download ${a.name}`),
      ` ${a.contentType}, ${a.size} bytes `,
      el('button', { type: 'button', class: 'danger', onclick: () => call('DELETE', `/cards/${card.id}/attachments/${a.id}`) }, 'Remove')))),
    fileForm('attach-form', 'Attach a file (image or PDF)', 'file', 'image/*,application/pdf',
      (f, fd) => call('POST', `/cards/${card.id}/attachments`, { form: fd }, f), 'Attach'),
    el('button', { type: 'button', class: 'danger', onclick: () => call('DELETE', `/cards/${card.id}`) }, 'Delete card'),
  ];
}

// download fetches an attachment with the access token (a plain link
// would carry none) and hands the bytes to the browser as a download.
async function download(card, a) {
  const res = await api.request('GET', `/api/boards/${board.id}/cards/${card.id}/attachments/${a.id}`, { blob: true });
  if (!res.ok) return fail(res);
  const url = URL.createObjectURL(res.blob);
  const link = el('a', { href: url, download: a.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function moveCard(cardId, listId, position) {
  return call('PATCH', `/cards/${cardId}`, { json: { listId, position } });
}

// invite finds the user by exact username, then invites them by id.
async function invite(form) {
  const name = form.elements.username.value.trim();
  const found = await api.request('GET', '/api/users?limit=100&search=' + encodeURIComponent(name));
  if (!found.ok) return fail(found, form);
  const u = found.data.users.find(x => x.username.toLowerCase() === name.toLowerCase());
  if (!u) {
    showProblem({ status: 404, problem: { detail: `There is no user named ${name}.`, errors: { username: 'No such user.' } } }, form);
    return;
  }
  const res = await call('POST', '/invites', { json: { userId: u.id } }, form);
  if (res) say(`${u.username} is invited.`);
}

async function deleteBoard() {
  if (!confirm(`Delete the board ${board.title}, with its lists, cards and files?`)) return;
  const res = await api.request('DELETE', '/api/boards/' + board.id);
  if (!res.ok) return fail(res);
  board = null;
  render();
  load();
}

export async function loadNotifications() {
  const res = await api.request('GET', '/api/notifications');
  if (!res.ok) return fail(res);
  const ns = res.data.notifications;
  $('#notif-count').textContent = ns.length ? `(${ns.length})` : '';
  $('#notif-list').replaceChildren(...ns.map(n => el('li', { class: 'notification', dataset: { id: n.id } },
    el('span', {}, n.type === 'invite'
      ? `${n.fromUsername} invites you to the board ${n.boardTitle}.`
      : `${n.fromUsername} ${n.accepted ? 'accepted' : 'declined'} your invitation to ${n.boardTitle}.`),
    n.type === 'invite' ? el('button', { type: 'button', class: 'accept', onclick: () => answer(n, 'accept') }, 'Accept') : null,
    n.type === 'invite' ? el('button', { type: 'button', class: 'decline', onclick: () => answer(n, 'decline') }, 'Decline') : null,
    el('button', { type: 'button', onclick: () => dismiss(n) }, 'Dismiss'))));
}

async function answer(n, what) {
  const res = await api.request('POST', `/api/notifications/${n.id}/${what}`);
  if (!res.ok) { fail(res); return loadNotifications(); }
  await loadNotifications();
  if (what === 'accept') {
    say(`You joined ${n.boardTitle}.`);
    document.querySelector('#nav [data-show="boards"]').click();
    await open(res.data.board.id);
  } else {
    say('Invitation declined.');
  }
}

async function dismiss(n) {
  const res = await api.request('DELETE', `/api/notifications/${n.id}`);
  if (!res.ok) fail(res);
  loadNotifications();
}

export function wire() {
  const form = $('#board-create-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const res = await api.request('POST', '/api/boards', { json: { title: form.elements.title.value } });
    if (!res.ok) return fail(res, form);
    form.reset();
    await load();
    await open(res.data.board.id);
  });
  $('#notif-reload').addEventListener('click', loadNotifications);
}
