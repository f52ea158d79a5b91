// davd's file manager. Plain JavaScript, no dependencies. Every name is put
// into the page with textContent or as a property, never as HTML; every
// request that changes something carries X-Davd-UI, which a cross-site form
// cannot send.
'use strict';
(() => {
const $ = (id) => document.getElementById(id);
const D = JSON.parse($('davd-data').textContent);
const prefix = D.prefix, ui = D.ui;
let cur = D.listing.path, access = D.listing.access, entries = D.listing.entries;
let sortKey = 'name', sortDir = 1, busy = 0, opsTimer = 0;
const rowsEl = $('rows');

// --- names and URLs -------------------------------------------------------
const join = (dir, n) => (dir === '/' ? '' : dir) + '/' + n;
const parent = (p) => p.slice(0, p.lastIndexOf('/')) || '/';
const base = (p) => p.slice(p.lastIndexOf('/') + 1);
const url = (name, dir) => prefix + name.split('/').map(encodeURIComponent).join('/') + (dir && name !== '/' ? '/' : '');
const absURL = (name, dir) => location.origin + url(name, dir);
const el = (tag, props, ...kids) => {
  const e = document.createElement(tag);
  if (props) for (const k in props) {
    if (k === 'text') e.textContent = props[k];
    else if (k === 'cls') e.className = props[k];
    else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, props[k]);
    else e[k] = props[k];
  }
  for (const k of kids) if (k != null) e.append(k);
  return e;
};

// --- formatting -------------------------------------------------------------
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
function human(n) {
  if (n < 1024) return n + ' B';
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < UNITS.length - 1);
  return (n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + UNITS[i];
}
const tf = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});
const KINDS = {
  img: 'png jpg jpeg gif webp avif bmp ico svg heic tif tiff', aud: 'mp3 ogg oga flac wav m4a opus aac',
  vid: 'mp4 webm mkv mov avi m4v', arc: 'zip tar gz tgz bz2 xz zst 7z rar', pdf: 'pdf',
  code: 'js mjs ts go py rs c h cc cpp java rb php sh json xml yaml yml toml css html htm sql',
  text: 'txt md csv log ini conf cfg rst',
};
const EXT = {};
for (const k in KINDS) for (const x of KINDS[k].split(' ')) EXT[x] = k;
const kind = (name, dir) => dir ? 'dir' : EXT[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] || 'file';

// --- messages ---------------------------------------------------------------
const WORDS = {400: 'The server refused the request', 401: 'You need to sign in', 403: 'Not allowed',
  404: 'Not found', 405: 'Not possible here', 409: 'Conflict', 412: 'Already exists', 413: 'Too large',
  415: 'Not supported', 423: 'Locked by someone else', 429: 'Too many attempts; wait a moment',
  502: 'Not possible', 503: 'The server cannot do this now', 507: 'The server has no space left'};
function say(text, ok) {
  const m = $('msg');
  m.textContent = text;
  m.className = ok ? 'ok' : '';
  m.hidden = !text;
}
// explain turns a failed response into words: what went wrong, then the
// server's own reason ("403 Forbidden: /x: permission denied (needs delete)").
async function explain(res, what) {
  let body = '';
  try { body = (await res.text()).trim(); } catch (e) { /* gone */ }
  if (res.status === 207) {
    const doc = new DOMParser().parseFromString(body, 'application/xml');
    const bad = [];
    for (const r of doc.getElementsByTagNameNS('DAV:', 'response')) {
      const st = r.getElementsByTagNameNS('DAV:', 'status')[0];
      const href = r.getElementsByTagNameNS('DAV:', 'href')[0];
      if (st && href && !/ 2\d\d /.test(st.textContent)) bad.push(decodeURIComponent(href.textContent) + ' (' + st.textContent.replace(/^HTTP\/[\d.]+ /, '') + ')');
    }
    return what + ': some items failed: ' + (bad.slice(0, 5).join('; ') || 'see the server log');
  }
  body = body.replace(/^\d{3} [^:]*: /, '').slice(0, 300);
  return what + ': ' + (WORDS[res.status] || 'Error ' + res.status) + (body ? ' — ' + body : '');
}
async function request(method, name, dir, headers, what) {
  let res;
  try {
    res = await fetch(url(name, dir), {method, headers: Object.assign({'X-Davd-UI': '1'}, headers || {}), credentials: 'same-origin'});
  } catch (e) {
    throw new Error(what + ': the server could not be reached');
  }
  if (res.ok && res.status !== 207) return res;
  throw new Error(await explain(res, what));
}

// --- listing ------------------------------------------------------------------
function crumbs() {
  const nav = $('crumbs');
  nav.textContent = '';
  const parts = cur === '/' ? [] : cur.slice(1).split('/');
  const rootLabel = prefix ? prefix.slice(1) : 'Files';
  const items = [['/', rootLabel]];
  let p = '';
  for (const s of parts) { p += '/' + s; items.push([p, s]); }
  items.forEach(([path, label], i) => {
    if (i) nav.append(el('span', {cls: 'sep', text: '/', 'aria-hidden': 'true'}));
    nav.append(i === items.length - 1 ? el('span', {text: label, 'aria-current': 'page'}) : el('a', {href: url(path, true), text: label}));
  });
  document.title = (prefix + cur + (cur === '/' ? '' : '/')) + ' · davd';
}

function makeRow(e) {
  const path = join(cur, e.n);
  const box = el('input', {type: 'checkbox', checked: !!e.sel, 'aria-label': 'Select ' + e.n});
  const link = el('a', {href: url(path, e.d), text: e.n + (e.d ? '/' : ''), cls: 'n'});
  const size = el('td', {cls: 'size', text: e.d ? '' : human(e.s), title: e.d ? '' : e.s.toLocaleString() + ' bytes'});
  const d = new Date(e.m);
  const act = el('td', {cls: 'act'});
  if (!e.d) act.append(el('button', {type: 'button', cls: 'pv', text: 'View', title: 'Preview', 'aria-label': 'Preview ' + e.n}));
  const tr = el('tr', {}, el('td', {cls: 'sel'}, box),
    el('td', {cls: 'name'}, el('span', {cls: 'ico i-' + kind(e.n, e.d), 'aria-hidden': 'true'}), link),
    size, el('td', {cls: 'mtime', text: tf.format(d), title: d.toISOString()}), act);
  tr.entry = e;
  tr.dataset.name = e.n;
  if (e.sel) tr.className = 'selected';
  e.row = tr;
  return tr;
}

function compare(a, b) {
  if (a.d !== b.d) return a.d ? -1 : 1; // folders first, whatever the order
  let c = 0;
  if (sortKey === 'size') c = a.s - b.s;
  else if (sortKey === 'mtime') c = a.m - b.m;
  return (c || collator.compare(a.n, b.n) || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0)) * sortDir;
}

// render draws the sorted, filtered rows: the first screenful at once, the
// rest in slices between frames, so that a folder of 10,000 entries is
// usable at once. A newer render cancels the slices of an older one.
let renderGen = 0;
function render() {
  entries.sort(compare);
  const v = $('filter').value.trim().toLowerCase();
  const shown = v ? entries.filter((e) => e.n.toLowerCase().includes(v)) : entries;
  const gen = ++renderGen;
  rowsEl.textContent = '';
  const slice = (from, n) => {
    if (gen !== renderGen) return;
    const frag = document.createDocumentFragment();
    const to = Math.min(shown.length, from + n);
    for (let i = from; i < to; i++) frag.append(shown[i].row || makeRow(shown[i]));
    rowsEl.append(frag);
    if (to < shown.length) setTimeout(slice, 0, to, 2500);
    else rowsEl.dataset.complete = '1';
  };
  delete rowsEl.dataset.complete;
  slice(0, 200);
  for (const th of document.querySelectorAll('#list th[aria-sort]')) th.removeAttribute('aria-sort');
  $('list').querySelector('[data-sort=' + sortKey + ']').parentNode.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
  $('empty').hidden = entries.length > 0;
  tools();
}

function applyFilter() { render(); }

async function refresh() {
  try {
    const res = await fetch(ui + 'list?path=' + encodeURIComponent(cur), {credentials: 'same-origin'});
    if (!res.ok) throw new Error(await explain(res, 'Listing ' + cur));
    const l = await res.json();
    const sel = new Set(entries.filter((e) => e.sel).map((e) => e.n));
    entries = l.entries;
    for (const e of entries) e.sel = sel.has(e.n);
    access = l.access;
    render();
  } catch (e) { say(e.message); }
}

// --- selection and the toolbar ------------------------------------------------------
const selected = () => entries.filter((e) => e.sel);
function setSel(e, on) {
  e.sel = on;
  if (!e.row) return;
  e.row.className = on ? 'selected' : '';
  e.row.querySelector('input').checked = on;
}
function tools() {
  const n = selected().length;
  for (const b of document.querySelectorAll('[data-need]')) {
    b.hidden = ![...b.dataset.need].every((c) => access.includes(c));
    if (b.dataset.sel) b.disabled = b.dataset.sel === '1' ? n !== 1 : n === 0;
  }
  const one = n === 1 && selected()[0].d ? join(cur, selected()[0].n) : cur;
  $('zip').href = ui + 'zip?path=' + encodeURIComponent(one);
  $('zip').textContent = one === cur ? 'Download ZIP' : 'Download “' + base(one) + '” as ZIP';
  $('selall').checked = n > 0 && n === entries.length;
}

rowsEl.addEventListener('change', (ev) => {
  const tr = ev.target.closest('tr');
  if (tr && ev.target.type === 'checkbox') { setSel(tr.entry, ev.target.checked); tools(); }
});
rowsEl.addEventListener('click', (ev) => {
  const b = ev.target.closest('button.pv');
  if (b) preview(b.closest('tr').entry);
});
$('selall').addEventListener('change', (ev) => {
  const on = ev.target.checked;
  for (const e of entries) if (e.sel !== on && (!on || (e.row && e.row.parentNode))) { e.sel = on; if (e.row) setSel(e, on); }
  tools();
});
for (const b of document.querySelectorAll('[data-sort]')) {
  b.addEventListener('click', () => {
    const k = b.dataset.sort;
    sortDir = k === sortKey ? -sortDir : 1;
    sortKey = k;
    render();
  });
}
$('filter').addEventListener('input', applyFilter);

// --- dialogs (never alert, confirm or prompt) -----------------------------------------
function dialog({title, text = '', input = null, body = null, ok = 'OK', danger = false, cancel = true}) {
  const dlg = $('dlg'), inp = $('dlginput'), okb = $('dlgok'), cb = $('dlgcancel');
  $('dlgtitle').textContent = title;
  $('dlgtext').textContent = text;
  $('dlgtext').hidden = !text;
  inp.hidden = input === null;
  inp.value = input || '';
  $('dlgbody').textContent = '';
  if (body) $('dlgbody').append(body);
  okb.textContent = ok;
  okb.className = danger ? 'primary danger' : 'primary';
  cb.hidden = !cancel;
  return new Promise((resolve) => {
    const done = (v) => {
      okb.onclick = cb.onclick = inp.onkeydown = dlg.onclose = null;
      if (dlg.open) dlg.close();
      resolve(v);
    };
    okb.onclick = () => done(input === null ? true : inp.value);
    cb.onclick = () => done(null);
    dlg.onclose = () => done(null);
    inp.onkeydown = (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); okb.click(); } };
    dlg.showModal();
    if (input !== null) { inp.focus(); inp.select(); } else okb.focus();
  });
}
function checkName(n) {
  if (!n || n === '.' || n === '..' || n.includes('/') || n.includes('\\')) {
    say('“' + n + '” is not a usable name: no slashes, and not . or ..');
    return false;
  }
  return true;
}

// pick asks for a destination folder, starting at the current one. The
// picker is aria-busy while a folder's listing loads (its size is not
// final until then), and only the newest listing is shown: a quick
// second click never mixes two folders' entries.
async function pick(title) {
  let at = cur, shown = 0;
  const box = el('div', {cls: 'picker'});
  const show = async () => {
    const mine = ++shown;
    box.textContent = '';
    box.setAttribute('aria-busy', 'true');
    box.append(el('div', {cls: 'here', text: 'Into: ' + (prefix + at)}));
    if (at !== '/') box.append(el('a', {href: '#', text: '.. (up)', onclick: (ev) => { ev.preventDefault(); at = parent(at); show(); }}));
    let entries = [], problem = '';
    try {
      const res = await fetch(ui + 'list?dirs=1&path=' + encodeURIComponent(at), {credentials: 'same-origin'});
      if (res.ok) entries = (await res.json()).entries; else problem = await explain(res, 'Listing');
    } catch (e) { problem = 'Listing: ' + e.message; }
    if (mine !== shown) return; // a newer folder is being shown
    if (problem) box.append(el('div', {text: problem}));
    for (const e of entries) {
      box.append(el('a', {href: '#', text: e.n + '/', 'data-name': e.n, onclick: (ev) => { ev.preventDefault(); at = join(at, e.n); show(); }}));
    }
    box.setAttribute('aria-busy', 'false');
  };
  await show();
  return (await dialog({title, body: box, ok: 'Choose this folder'})) ? at : null;
}

// --- actions -------------------------------------------------------------------
async function run(what, fn) {
  busy++;
  pollOps();
  try { await fn(); say(''); } catch (e) { say(e.message); } finally { busy--; await refresh(); }
}

$('newfolder').onclick = async () => {
  const n = await dialog({title: 'New folder', text: 'Name of the new folder in ' + (prefix + cur), input: '', ok: 'Create'});
  if (n === null || !checkName(n.trim())) return;
  run('create', () => request('MKCOL', join(cur, n.trim()), true, null, 'Creating “' + n.trim() + '”'));
};
$('rename').onclick = async () => {
  const e = selected()[0];
  if (!e) return;
  const n = await dialog({title: 'Rename', text: 'New name for “' + e.n + '”', input: e.n, ok: 'Rename'});
  if (n === null || n === e.n || !checkName(n.trim())) return;
  run('rename', () => request('MOVE', join(cur, e.n), e.d, {Destination: absURL(join(cur, n.trim()), e.d), Overwrite: 'F'}, 'Renaming “' + e.n + '”'));
};
async function transfer(method) {
  const sel = selected();
  const verb = method === 'MOVE' ? 'Move' : 'Copy';
  const dest = await pick(verb + ' ' + (sel.length === 1 ? '“' + sel[0].n + '”' : sel.length + ' items') + ' to…');
  if (dest === null) return;
  run(method, async () => {
    for (const e of sel) {
      await request(method, join(cur, e.n), e.d, {Destination: absURL(join(dest, e.n), e.d), Overwrite: 'F', Depth: 'infinity'},
        (method === 'MOVE' ? 'Moving “' : 'Copying “') + e.n + '”');
    }
  });
}
$('move').onclick = () => transfer('MOVE');
$('copy').onclick = () => transfer('COPY');
$('delete').onclick = async () => {
  const sel = selected();
  if (!sel.length) return;
  const names = sel.slice(0, 8).map((e) => e.n + (e.d ? '/' : '')).join('\n') + (sel.length > 8 ? '\n… and ' + (sel.length - 8) + ' more' : '');
  const ok = await dialog({title: 'Delete ' + (sel.length === 1 ? 'this item' : sel.length + ' items') + '?', text: names + '\n\nFolders are deleted with everything in them. This cannot be undone.', ok: 'Delete', danger: true});
  if (!ok) return;
  run('delete', async () => {
    for (const e of sel) await request('DELETE', join(cur, e.n), e.d, null, 'Deleting “' + e.n + '”');
  });
};
$('zip').addEventListener('click', () => { setTimeout(pollOps, 300); });

// --- preview: images as images, text as text (never as HTML) ---------------------------------
async function preview(e) {
  const path = join(cur, e.n), k = kind(e.n, false);
  const box = el('div');
  const ext = e.n.slice(e.n.lastIndexOf('.') + 1).toLowerCase();
  if (k === 'img') {
    box.append(el('img', {src: url(path), alt: e.n}));
  } else if (k === 'code' || k === 'text' || e.s === 0) {
    const pre = el('pre', {text: 'Loading…'});
    box.append(pre);
    fetch(url(path), {headers: {Range: 'bytes=0-262143'}, credentials: 'same-origin'})
      .then(async (res) => { pre.textContent = res.ok ? await res.text() : await explain(res, 'Preview'); })
      .catch(() => { pre.textContent = 'The file could not be read.'; });
  } else {
    box.append(el('p', {text: 'No preview for .' + ext + ' files.'}));
  }
  box.append(el('p', {}, el('a', {href: url(path), download: e.n, text: 'Download ' + e.n + ' (' + human(e.s) + ')', id: 'pvdownload'})));
  await dialog({title: e.n, body: box, ok: 'Close', cancel: false});
}

// --- running operations: the signed-in user's own, from the server's registry -------------------
const VERB = {COPY: 'Copying', MOVE: 'Moving', DELETE: 'Deleting', GET: 'Zipping', PUT: 'Uploading'};
async function pollOps() {
  clearTimeout(opsTimer);
  let list = [];
  try {
    const res = await fetch(ui + 'ops', {credentials: 'same-origin'});
    if (res.ok) list = (await res.json()).operations;
  } catch (e) { /* try again below */ }
  const box = $('ops');
  box.textContent = '';
  for (const o of list) {
    if (o.method === 'GET' && !o.path.endsWith('/zip')) continue;
    const bar = el('progress', {'aria-label': 'Progress'});
    if (o.total_resources > 0) { bar.max = o.total_resources; bar.value = o.resources; } else if (o.total_bytes > 0) { bar.max = o.total_bytes; bar.value = o.bytes; }
    const label = (VERB[o.method] || o.method) + ' ' + (o.method === 'GET' ? 'a folder' : decodeURIComponent(o.path)) + (o.destination ? ' → ' + decodeURIComponent(o.destination) : '');
    const detail = o.resources + (o.total_resources ? ' of ' + o.total_resources : '') + ' items · ' + human(o.bytes) + (o.total_bytes ? ' of ' + human(o.total_bytes) : '') + ' · ' + Math.round(o.seconds) + ' s' + (o.current ? ' · ' + o.current : '');
    const cancel = o.cancellable ? el('button', {type: 'button', text: 'Cancel', onclick: () => cancelOp(o.id)}) : el('span');
    box.append(el('div', {cls: 'op', 'data-id': o.id, 'data-resources': o.resources, 'data-bytes': o.bytes}, el('span', {text: label}), cancel, bar, el('span', {cls: 'detail', text: detail})));
  }
  box.hidden = box.childElementCount === 0;
  if (busy > 0 || !box.hidden) opsTimer = setTimeout(pollOps, 250);
}
async function cancelOp(id) {
  const res = await fetch(ui + 'ops?cancel=' + encodeURIComponent(id), {method: 'POST', headers: {'X-Davd-UI': '1'}, credentials: 'same-origin'});
  if (!res.ok) say(await explain(res, 'Cancelling'));
  pollOps();
}

// --- uploads: files and folders, by button or drag and drop ---------------------------------------
let upload = null;
async function startUpload(items) {
  if (!items.length) return;
  if (upload) { say('An upload is running; wait for it or cancel it first.'); return; }
  const dir = cur;
  const total = items.reduce((t, i) => t + i.file.size, 0) || 1;
  const u = upload = {cancelled: false, xhr: null, done: 0};
  const list = $('uplist');
  list.textContent = '';
  for (const it of items) {
    it.bar = el('progress', {max: it.file.size || 1, value: 0});
    it.li = el('li', {}, el('span', {text: it.rel}), it.bar);
    list.append(it.li);
  }
  $('uploads').hidden = false;
  const overall = () => {
    $('upbar').value = u.done / total;
    $('uptotal').textContent = human(u.done) + ' of ' + human(total);
  };
  overall();
  busy++;
  let failed = 0;
  try {
    const dirs = [...new Set(items.flatMap((it) => {
      const parts = it.rel.split('/').slice(0, -1);
      return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    }))].sort((a, b) => a.split('/').length - b.split('/').length);
    for (const d of dirs) {
      if (u.cancelled) break;
      const res = await fetch(url(join(dir, d), true), {method: 'MKCOL', headers: {'X-Davd-UI': '1'}, credentials: 'same-origin'});
      if (!res.ok && res.status !== 405) throw new Error(await explain(res, 'Creating folder “' + d + '”'));
    }
    for (const it of items) {
      if (u.cancelled) { it.li.classList.add('failed'); continue; }
      const err = await put(u, join(dir, it.rel), it, overall);
      if (err) { failed++; it.li.classList.add('failed'); it.li.title = err; say(err); }
    }
  } catch (e) { say(e.message); failed++; } finally {
    busy--;
    upload = null;
    $('uptotal').textContent = u.cancelled ? 'Upload cancelled' : failed ? failed + ' failed' : 'Uploaded ' + items.length + (items.length === 1 ? ' file' : ' files');
    if (!failed && !u.cancelled) say('');
    refresh();
  }
}
function put(u, name, it, overall) {
  return new Promise((resolve) => {
    const x = u.xhr = new XMLHttpRequest();
    let last = 0;
    x.open('PUT', url(name));
    x.setRequestHeader('X-Davd-UI', '1');
    x.upload.onprogress = (ev) => { it.bar.value = ev.loaded; u.done += ev.loaded - last; last = ev.loaded; overall(); };
    x.onload = () => {
      u.done += it.file.size - last; last = it.file.size; it.bar.value = it.file.size || 1; overall();
      if (x.status >= 200 && x.status < 300) resolve(null);
      else resolve(x.status + ': ' + (WORDS[x.status] || 'failed') + ' — ' + x.responseText.replace(/^\d{3} [^:]*: /, '').slice(0, 200));
    };
    x.onerror = () => resolve('Uploading “' + it.rel + '”: the server could not be reached');
    x.onabort = () => resolve('Uploading “' + it.rel + '”: cancelled');
    x.send(it.file);
  });
}
$('upcancel').onclick = () => { if (upload) { upload.cancelled = true; if (upload.xhr) upload.xhr.abort(); } else $('uploads').hidden = true; };
$('upload').onclick = () => $('files').click();
$('uploaddir').onclick = () => $('dirfiles').click();
$('files').onchange = (ev) => { startUpload([...ev.target.files].map((f) => ({file: f, rel: f.name}))); ev.target.value = ''; };
$('dirfiles').onchange = (ev) => { startUpload([...ev.target.files].map((f) => ({file: f, rel: f.webkitRelativePath || f.name}))); ev.target.value = ''; };

// Dropped folders are read through the entries API, a level at a time.
async function readEntry(entry, rel, out) {
  if (entry.isFile) {
    out.push({file: await new Promise((ok, no) => entry.file(ok, no)), rel: rel + entry.name});
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((ok, no) => reader.readEntries(ok, no));
      if (!batch.length) break;
      for (const e of batch) await readEntry(e, rel + entry.name + '/', out);
    }
  }
}
const canDrop = (ev) => access.includes('c') && ev.dataTransfer && [...ev.dataTransfer.types].includes('Files');
document.addEventListener('dragover', (ev) => { if (canDrop(ev)) { ev.preventDefault(); $('drop').hidden = false; } });
$('drop').addEventListener('dragleave', () => { $('drop').hidden = true; });
document.addEventListener('drop', async (ev) => {
  if (!canDrop(ev)) return;
  ev.preventDefault();
  $('drop').hidden = true;
  const entriesIn = [...ev.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  const out = [];
  try {
    if (entriesIn.length) for (const e of entriesIn) await readEntry(e, '', out);
    else for (const f of ev.dataTransfer.files) out.push({file: f, rel: f.name});
  } catch (e) { say('The dropped files could not be read.'); return; }
  startUpload(out);
});

// --- search: served by the server, read as it streams --------------------------------------------
let searching = null;
async function search() {
  const q = $('search').value.trim();
  if (searching) searching.abort();
  if (!q) { $('results').hidden = true; return; }
  const ac = searching = new AbortController();
  const rows = $('rrows'), st = $('rstatus');
  rows.textContent = '';
  $('results').hidden = false;
  st.textContent = 'Searching…';
  let n = 0;
  try {
    const res = await fetch(ui + 'search?path=' + encodeURIComponent(cur) + '&q=' + encodeURIComponent(q), {signal: ac.signal, credentials: 'same-origin'});
    if (!res.ok) throw new Error(await explain(res, 'Search'));
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line) continue;
        const h = JSON.parse(line);
        if (h.done) {
          st.textContent = n + (n === 1 ? ' match' : ' matches') + ' among ' + h.visited + ' items' + (h.truncated ? ' (stopped early: narrow the search)' : '') + (h.error ? ' — ' + h.error : '');
          continue;
        }
        n++;
        const rel = cur === '/' ? h.p : h.p.slice(cur.length);
        rows.append(el('tr', {}, el('td', {cls: 'name'}, el('span', {cls: 'ico i-' + kind(h.p, h.d), 'aria-hidden': 'true'}),
          el('a', {href: url(h.p, h.d), text: rel.replace(/^\//, '') + (h.d ? '/' : '')})), el('td', {cls: 'size', text: h.d ? '' : human(h.s), title: h.d ? '' : h.s + ' bytes'})));
        st.textContent = 'Searching… ' + n + ' found';
      }
    }
  } catch (e) { if (e.name !== 'AbortError') st.textContent = e.message; }
}
$('searchbtn').onclick = search;
$('search').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') search(); });
$('rclose').onclick = () => { if (searching) searching.abort(); $('results').hidden = true; $('search').value = ''; };

// --- keyboard ------------------------------------------------------------------------------
document.addEventListener('keydown', (ev) => {
  if ($('dlg').open) return;
  const t = ev.target, inField = t.tagName === 'INPUT' && t.type !== 'checkbox';
  if (ev.key === '/' && !inField) { ev.preventDefault(); $('filter').focus(); return; }
  if (inField) {
    if (ev.key === 'ArrowDown' && t.id === 'filter') { ev.preventDefault(); focusRow(0, 1); }
    return;
  }
  const tr = t.closest && t.closest('#rows tr');
  const visible = [...rowsEl.rows];
  const i = tr ? visible.indexOf(tr) : -1;
  switch (ev.key) {
  case 'ArrowDown': ev.preventDefault(); focusRow(i + 1, 1); break;
  case 'ArrowUp': ev.preventDefault(); if (i <= 0) $('filter').focus(); else focusRow(i - 1, -1); break;
  case ' ': if (tr && t.type !== 'checkbox') { ev.preventDefault(); setSel(tr.entry, !tr.entry.sel); tools(); } break;
  case 'Delete': if (!$('delete').hidden && selected().length) $('delete').click(); break;
  case 'F2': if (!$('rename').hidden && selected().length === 1) $('rename').click(); break;
  case 'Backspace': if (cur !== '/') location.href = url(parent(cur), true); break;
  case 'Escape': for (const e of selected()) setSel(e, false); tools(); break;
  }
});
function focusRow(i) {
  const visible = rowsEl.rows;
  if (!visible.length) return;
  visible[Math.max(0, Math.min(i, visible.length - 1))].querySelector('a').focus();
}

crumbs();
render();
pollOps();
document.body.dataset.readyMs = Math.round(performance.now());
document.body.dataset.ready = '1';
})();
