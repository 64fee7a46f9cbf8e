/*
 * app.js - the Stratus dashboard: a tenant's view of the REST API (/v1).
 *
 * The bearer token from POST /v1/auth/tokens lives in sessionStorage (it
 * dies with the tab); every call sends it, and any 401 clears it and returns
 * to the sign-in form. The instance list is polled every POLL_MS with the
 * ETag of the last page in If-None-Match: an unchanged list costs the
 * gateway one authenticated lookup and the browser a 304 with no body.
 * Everything the API returns is put on the page with textContent, never as
 * HTML, and the page runs under a CSP that forbids inline code.
 */
'use strict';
(function () {
  const POLL_MS = 3000;
  const TOKEN_KEY = 'stratus.token';
  const $ = (id) => document.getElementById(id);

  let me = null;          // GET /v1/auth/whoami; a new object per session, so
                          // an answer that outlived its session is dropped
  let listEtag = null;    // ETag of the instance page on screen
  let instances = [];
  let flavors = [];
  let pollTimer = null;
  let consoleId = null;   // instance whose console is open
  let armed = null;       // {id, timer}: a delete waiting for its second click

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  /* One API call; resolves {status, data, etag} or rejects with ApiError
   * (whose message is the API's own). A 401 on an authenticated call ends
   * the session. */
  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: 'application/json' }, headers || {});
    const t = token();
    if (t) h.Authorization = 'Bearer ' + t;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method, headers: h, cache: 'no-store', credentials: 'omit',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'cannot reach the API (' + e.message + ')');
    }
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (res.status !== 204 && res.status !== 304 && type.startsWith('application/json')) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (res.status >= 400) {
      const err = data && data.error ? data.error : {};
      const msg = err.message || ('HTTP ' + res.status);
      if (res.status === 401 && t && path !== '/v1/auth/tokens') {
        endSession('Your session has ended (' + msg + '). Sign in again.');
      }
      throw new ApiError(res.status, err.code || 'http_' + res.status, msg);
    }
    return { status: res.status, data, etag: res.headers.get('ETag') };
  }

  /* ---- small DOM helpers ---- */

  function el(tag, props, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  function show(id, text) {
    const e = $(id);
    e.textContent = text || '';
    e.hidden = !text;
  }

  function banner(text) { show('banner', text); }

  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  }

  function fmtMiB(m) {
    return m >= 1024 && m % 1024 === 0 ? (m / 1024) + ' GiB' : m + ' MiB';
  }

  function size(o) {
    return o.vcpus + ' vCPU, ' + fmtMiB(o.memory_mib) + ', ' + o.disk_gib + ' GiB';
  }

  /* ---- session ---- */

  function endSession(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    stopPolling();
    listEtag = null;
    instances = [];
    clearApp();
    document.body.classList.remove('ro');
    $('who').hidden = true;
    $('app-view').hidden = true;
    $('signin-view').hidden = false;
    $('signin-password').value = '';
    show('signin-error', message || '');
    banner('');
    $('signin-name').focus();
  }

  /* Nothing of a session stays on the page after it ends. */
  function clearApp() {
    disarm();
    closeConsole();
    for (const id of ['instances', 'keypairs']) $(id).tBodies[0].replaceChildren();
    for (const id of ['quota', 'create-flavor', 'create-image']) $(id).replaceChildren();
    $('create-keypair').replaceChildren(el('option', { value: '', text: '(none)' }));
    for (const id of ['create-error', 'create-ok', 'action-error', 'keypair-error']) show(id, '');
    for (const id of ['create-name', 'create-userdata', 'keypair-name', 'keypair-key']) {
      $(id).value = '';
    }
    $('list-status').textContent = '';
  }

  async function signIn(ev) {
    ev.preventDefault();
    const name = $('signin-name').value.trim();
    const password = $('signin-password').value;
    const tenant = $('signin-tenant').value.trim();
    const body = { name, password };
    if (tenant) body.tenant = tenant;
    $('signin-submit').disabled = true;
    show('signin-error', '');
    try {
      const r = await api('POST', '/v1/auth/tokens', body);
      sessionStorage.setItem(TOKEN_KEY, r.data.token);
      const w = await api('GET', '/v1/auth/whoami');
      if (!w.data.tenant_id && w.data.tenants.length > 0) {
        /* several tenants and none named: the token cannot see instances */
        await api('DELETE', '/v1/auth/tokens/current').catch(() => {});
        sessionStorage.removeItem(TOKEN_KEY);
        const dl = $('signin-tenants');
        dl.replaceChildren(...w.data.tenants.map((t) => el('option', { value: t.name })));
        show('signin-error', 'You belong to several tenants (' +
             w.data.tenants.map((t) => t.name).join(', ') + '): name one under Tenant.');
        $('signin-tenant').focus();
        return;
      }
      $('signin-password').value = '';
      await enterApp(w.data);
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      show('signin-error', e.message);
    } finally {
      $('signin-submit').disabled = false;
    }
  }

  async function signOut() {
    try {
      await api('DELETE', '/v1/auth/tokens/current');
    } catch (e) {
      /* the token is forgotten either way */
    }
    endSession('');
  }

  async function enterApp(who) {
    me = who;
    const tenant = (who.tenants || []).find((t) => t.id === who.tenant_id);
    $('who-user').textContent = who.user.name;
    $('who-tenant').textContent = tenant ? tenant.name : (who.tenant_id || 'no tenant');
    $('who-role').textContent = who.role || 'no role';
    document.body.classList.toggle('ro', who.role !== 'admin' && who.role !== 'member');
    $('who').hidden = false;
    $('signin-view').hidden = true;
    $('app-view').hidden = false;
    show('signin-error', '');
    listEtag = null;
    await Promise.all([loadCatalog(), refreshKeypairs(), refreshQuota()]);
    await refreshInstances();
    startPolling();
  }

  /* ---- instances ---- */

  function stopPolling() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  function startPolling() {
    stopPolling();
    const tick = async () => {
      pollTimer = null;
      if (!me) return;
      await refreshInstances();
      if (me && !pollTimer) pollTimer = setTimeout(tick, POLL_MS);
    };
    pollTimer = setTimeout(tick, POLL_MS);
  }

  /* GET /v1/instances with the page's ETag: 304 leaves the page as it is. */
  async function refreshInstances() {
    const session = me;
    if (!session) return;
    try {
      const h = listEtag ? { 'If-None-Match': listEtag } : {};
      const r = await api('GET', '/v1/instances?limit=1000', undefined, h);
      if (me !== session) return; /* signed out meanwhile */
      $('list-status').textContent = 'updated ' + new Date().toLocaleTimeString();
      banner('');
      if (r.status === 304) return;
      listEtag = r.etag;
      instances = r.data.instances;
      renderInstances();
      refreshQuota();
    } catch (e) {
      if (e.status !== 401 && me === session) banner('Instance list: ' + e.message);
    }
  }

  function actionsFor(i) {
    const a = [];
    if (!i.task && i.state === 'stopped') a.push('start');
    if (!i.task && i.state === 'active') a.push('stop', 'reboot');
    a.push('console');
    if (i.state !== 'deleting' && i.state !== 'deleted') a.push('delete');
    return a;
  }

  function renderInstances() {
    const body = $('instances').tBodies[0];
    const flavorName = new Map(flavors.map((f) => [f.id, f.name]));
    const rows = instances.map((i) => {
      const acts = el('td', { class: 'c-actions' });
      for (const a of actionsFor(i)) {
        const sure = a === 'delete' && armed && armed.id === i.id;
        const b = el('button', {
          type: 'button', text: sure ? 'Confirm delete' : a[0].toUpperCase() + a.slice(1),
          class: 'small' + (a === 'delete' ? ' danger' : '') + (a === 'console' ? '' : ' write') +
                 (sure ? ' armed' : ''),
          'data-action': a,
        });
        acts.append(b);
      }
      const fl = flavorName.get(i.flavor_id);
      return el('tr', { 'data-id': i.id }, [
        el('td', { class: 'c-name', text: i.name }),
        el('td', { class: 'c-state state state-' + i.state, text: i.state,
                   title: i.fault || '' }),
        el('td', { class: 'c-task', text: i.task || '' }),
        el('td', { class: 'c-host' + (i.host_status ? ' host-' + i.host_status : ''),
                   text: i.host_status || '' }),
        el('td', { class: 'c-size', text: (fl ? fl + ': ' : '') + size(i) }),
        el('td', { class: 'c-created', text: fmtTime(i.created_at), title: i.created_at || '' }),
        acts,
      ]);
    });
    body.replaceChildren(...rows);
    $('instances-empty').hidden = instances.length > 0;
    if (consoleId && !instances.some((i) => i.id === consoleId)) closeConsole();
  }

  function disarm() {
    if (armed) clearTimeout(armed.timer);
    armed = null;
  }

  async function onInstanceClick(ev) {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const id = b.closest('tr').dataset.id;
    const action = b.dataset.action;
    show('action-error', '');
    if (action === 'console') {
      openConsole(id);
      return;
    }
    if (action === 'delete' && !(armed && armed.id === id)) {
      /* two clicks: the first arms the button for a few seconds (kept
       * across re-renders of the list) */
      disarm();
      armed = { id, timer: setTimeout(() => { armed = null; renderInstances(); }, 5000) };
      renderInstances();
      return;
    }
    if (action === 'delete') disarm();
    b.disabled = true;
    try {
      if (action === 'delete') await api('DELETE', '/v1/instances/' + encodeURIComponent(id));
      else await api('POST', '/v1/instances/' + encodeURIComponent(id) + '/actions', { action });
    } catch (e) {
      const inst = instances.find((i) => i.id === id);
      show('action-error', (inst ? inst.name + ': ' : '') + e.message);
    } finally {
      b.disabled = false;
    }
    await refreshInstances();
  }

  /* ---- console ---- */

  async function openConsole(id) {
    consoleId = id;
    const inst = instances.find((i) => i.id === id);
    $('console-name').textContent = inst ? inst.name : id;
    $('console-view').hidden = false;
    await loadConsole();
  }

  async function loadConsole() {
    if (!consoleId) return;
    const id = consoleId;
    try {
      const r = await api('GET', '/v1/instances/' + encodeURIComponent(id) + '/console?tail=500');
      if (id !== consoleId) return;
      $('console-output').textContent = r.data.output || '';
      $('console-updated').textContent = r.data.updated_at
        ? 'as of ' + fmtTime(r.data.updated_at) : 'no console output yet';
    } catch (e) {
      $('console-updated').textContent = e.message;
    }
  }

  function closeConsole() {
    consoleId = null;
    $('console-view').hidden = true;
    $('console-output').textContent = '';
  }

  /* ---- create ---- */

  async function loadCatalog() {
    const session = me;
    const failed = (what) => (e) => {
      show('create-error', what + ': ' + e.message);
      return null;
    };
    const [f, i] = await Promise.all([
      api('GET', '/v1/flavors').catch(failed('Flavors')),
      api('GET', '/v1/images?status=active').catch(failed('Images')),
    ]);
    if (me !== session) return;
    if (f) {
      flavors = f.data.flavors.filter((x) => !x.disabled);
      $('create-flavor').replaceChildren(...flavors.map((x) =>
        el('option', { value: x.id, text: x.name + ' (' + size(x) + ')' })));
    }
    if (i) {
      const imgs = i.data.images.filter((x) => x.status === 'active');
      $('create-image').replaceChildren(...imgs.map((x) =>
        el('option', { value: x.id,
                       text: x.name + (x.visibility === 'public' ? '' : ' (private)') })));
    }
  }

  function idempotencyKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  function base64(text) {
    const bytes = new TextEncoder().encode(text);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  async function createInstance(ev) {
    ev.preventDefault();
    show('create-error', '');
    show('create-ok', '');
    const body = {
      name: $('create-name').value.trim(),
      flavor: $('create-flavor').value,
      image: $('create-image').value,
    };
    if ($('create-keypair').value) body.keypair = $('create-keypair').value;
    const ud = $('create-userdata').value;
    if (ud) body.user_data = base64(ud);
    $('create-submit').disabled = true;
    try {
      const r = await api('POST', '/v1/instances', body, { 'Idempotency-Key': idempotencyKey() });
      show('create-ok', 'Instance ' + r.data.name + ' is ' + r.data.state +
           (r.data.fault ? ': ' + r.data.fault : '') + '.');
      $('create-name').value = '';
      $('create-userdata').value = '';
      await refreshInstances();
    } catch (e) {
      show('create-error', e.message);
    } finally {
      $('create-submit').disabled = false;
    }
  }

  /* ---- keypairs and quotas ---- */

  async function refreshKeypairs() {
    const session = me;
    let r;
    try {
      r = await api('GET', '/v1/keypairs');
    } catch (e) {
      if (me === session) show('keypair-error', e.message);
      return;
    }
    if (me !== session) return;
    const kps = r.data.keypairs;
    $('keypairs').tBodies[0].replaceChildren(...kps.map((k) => el('tr', { 'data-id': k.id }, [
      el('td', { class: 'c-name', text: k.name }),
      el('td', {}, [el('code', { class: 'fp', text: k.fingerprint })]),
      el('td', { text: fmtTime(k.created_at) }),
      el('td', {}, [el('button', { type: 'button', text: 'Delete', class: 'small danger write',
                                   'data-action': 'delete' })]),
    ])));
    $('keypairs-empty').hidden = kps.length > 0;
    const sel = $('create-keypair');
    const keep = sel.value;
    sel.replaceChildren(el('option', { value: '', text: '(none)' }),
                        ...kps.map((k) => el('option', { value: k.id, text: k.name })));
    sel.value = kps.some((k) => k.id === keep) ? keep : '';
  }

  async function addKeypair(ev) {
    ev.preventDefault();
    show('keypair-error', '');
    try {
      await api('POST', '/v1/keypairs', {
        name: $('keypair-name').value.trim(),
        public_key: $('keypair-key').value.trim(),
      });
      $('keypair-name').value = '';
      $('keypair-key').value = '';
    } catch (e) {
      show('keypair-error', e.message);
    }
    await refreshKeypairs();
  }

  async function onKeypairClick(ev) {
    const b = ev.target.closest('button[data-action=delete]');
    if (!b) return;
    if (!b.classList.contains('armed')) {
      b.classList.add('armed');
      b.textContent = 'Confirm delete';
      return;
    }
    show('keypair-error', '');
    try {
      await api('DELETE', '/v1/keypairs/' + encodeURIComponent(b.closest('tr').dataset.id));
    } catch (e) {
      show('keypair-error', e.message);
    }
    await refreshKeypairs();
  }

  async function refreshQuota() {
    const session = me;
    let r;
    try {
      r = await api('GET', '/v1/quotas');
    } catch (e) {
      return;
    }
    if (me !== session) return;
    const { limits, usage } = r.data;
    const items = [
      ['instances', 'Instances', (v) => String(v)],
      ['vcpus', 'vCPUs', (v) => String(v)],
      ['memory_mib', 'Memory', fmtMiB],
      ['disk_gib', 'Disk', (v) => v + ' GiB'],
    ];
    $('quota').replaceChildren(...items.map(([k, label, f]) => el('div', { 'data-quota': k }, [
      el('dt', { text: label }),
      el('dd', { text: f(usage[k]) + ' of ' + f(limits[k]) }),
      el('meter', { min: 0, max: Math.max(limits[k], 1), value: usage[k],
                    high: Math.max(limits[k], 1) * 0.8, optimum: 0 }),
    ])));
  }

  /* ---- start ---- */

  async function start() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('create-form').addEventListener('submit', createInstance);
    $('keypair-form').addEventListener('submit', addKeypair);
    $('instances').addEventListener('click', onInstanceClick);
    $('keypairs').addEventListener('click', onKeypairClick);
    $('console-refresh').addEventListener('click', loadConsole);
    $('console-close').addEventListener('click', closeConsole);
    if (!token()) {
      endSession('');
      return;
    }
    try {
      const w = await api('GET', '/v1/auth/whoami');
      await enterApp(w.data);
    } catch (e) {
      if (e.status !== 401) endSession(e.message);
    }
  }

  document.addEventListener('DOMContentLoaded', start);
})();
