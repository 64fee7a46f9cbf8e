/*
 * core.js - the Stratus dashboard's core: session, API calls, DOM helpers,
 * the page registry and the hash router. Pages live in other files
 * (app.js: the tenant's pages; admin.js: the cloud admin's; billing.js:
 * usage and invoices), each of which only calls Stratus.page(...).
 *
 * THE CONTRACT (stable: other files depend on it)
 *
 *   Stratus.page({id, title, nav, adminOnly, hidden, render})
 *     Registers a page, shown at #/<id> or #/<id>/<param>.
 *       id        a URL-safe name, unique ('instances', 'instance', ...)
 *       title     the heading and the navigation label
 *       nav       'tenant' | 'admin' | 'billing': the navigation group
 *       adminOnly true: only a cloud admin sees it (in the bar and by URL)
 *       hidden    true: routable but not in the bar (a detail page)
 *       render(container, params) -> optional cleanup function
 *         container  an empty <section> the page owns until it is left
 *         params     {param, me, alive, head}
 *                      param  the text after #/<id>/ (decoded), or null
 *                      me     GET /v1/auth/whoami of the session
 *                      alive  () => false once the page is left: check it
 *                             after each await before touching the page
 *                      head   the page's heading block (its h2 holds the
 *                             title; a detail page may rename it)
 *         The cleanup function runs when the page is left (stop timers).
 *     Pages register in file order; the bar shows them in that order within
 *     their group. The first visible page is the default route; a cloud
 *     admin's is the first adminOnly page (Hosts).
 *
 *   Stratus.api(method, path, body, headers) -> Promise<{status, data, etag, res}>
 *     One call to the /v1 API with the session's bearer token. body is
 *     JSON-encoded when given. A body that is not JSON (a PDF, say: ask
 *     for it with an Accept header) is left unread in res, the Response. Rejects with an Error whose message is the
 *     API's own ({status, code} on it too); a 401 ends the session.
 *
 *   Stratus.el(tag, props, children) -> Element
 *     props: text (textContent), class, data-* attributes, anything else is
 *     set as a property (type, value, disabled, ...). API data must go
 *     through text, never innerHTML: the CSP forbids inline code and the
 *     page must not be able to grow any.
 *
 *   Stratus.go(id, param)    navigate to #/<id>[/<param>]
 *   Stratus.me()             the session's whoami, or null
 *   Stratus.canWrite()       the role may change things (member or admin)
 *   Helpers for pages: card, table, form, confirmButton, status, every,
 *   fmtTime, fmtBytes, fmtMiB, idempotencyKey, base64 (see below).
 *   Elements with class "write" are hidden from readers.
 *
 * The bearer token from POST /v1/auth/tokens lives in sessionStorage (it
 * dies with the tab). Everything the API returns is put on the page with
 * textContent, and the page runs under a CSP that forbids inline code.
 */
'use strict';
const Stratus = (function () {
  const TOKEN_KEY = 'stratus.token';
  const NAV_GROUPS = [['tenant', 'Project'], ['billing', 'Billing'], ['admin', 'Cloud admin']];
  const $ = (id) => document.getElementById(id);
  const pages = [];
  let me = null;       // GET /v1/auth/whoami; a new object per session
  let current = null;  // {page, param, cleanup, token}

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

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
    return { status: res.status, data, etag: res.headers.get('ETag'), res };
  }

  /* ---- DOM helpers ---- */

  function el(tag, props, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'for' || k === 'list')
        e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children || []) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  function show(e, text) {
    e.textContent = text || '';
    e.hidden = !text;
  }

  /* A card with a heading (h2) and the given children. */
  function card(title, children, props) {
    return el('section', Object.assign({ class: 'card' }, props || {}),
              [title ? el('h2', { text: title }) : null, ...(children || [])]);
  }

  /* A table: cols = [[header, (item) => Node|string, class?], ...];
   * rows carry data-id = key(item). Returns {node, set(items)}; an empty
   * list shows `empty`. */
  function table(id, cols, key, empty) {
    const tbody = el('tbody');
    const t = el('table', { id }, [
      el('thead', {}, [el('tr', {}, cols.map((c) => el('th', { text: c[0] })))]), tbody]);
    const none = el('p', { class: 'muted empty', text: empty || 'None.', hidden: true });
    const node = el('div', { class: 'table-wrap' }, [t, none]);
    function set(items) {
      tbody.replaceChildren(...items.map((it) => el('tr', { 'data-id': key(it) }, cols.map((c) => {
        const v = c[1](it);
        const td = el('td', { class: c[2] || '' });
        if (v instanceof Node) td.append(v); else td.textContent = v === undefined || v === null ? '' : String(v);
        return td;
      }))));
      none.hidden = items.length > 0;
    }
    return { node, set, tbody };
  }

  /* A form: fields = [{id, label, type?, options?, required?, placeholder?,
   * value?, wide?, hint?}, ...] (type: text, number, select, textarea,
   * file, checkbox). onSubmit(values, form) may throw; its message is shown
   * in the form's error line. Returns {node, values(), error(msg), ok(msg),
   * field(id)}. Forms are write controls: readers do not see them. */
  function form(id, fields, submitLabel, onSubmit) {
    const err = el('p', { class: 'error wide', role: 'alert', hidden: true, id: id + '-error' });
    const okp = el('p', { class: 'ok wide', role: 'status', hidden: true, id: id + '-ok' });
    const inputs = {};
    const labels = fields.map((f) => {
      let input;
      const fid = id + '-' + f.id;
      if (f.type === 'select') {
        input = el('select', { id: fid, required: !!f.required },
                   (f.options || []).map(([v, t]) => el('option', { value: v, text: t })));
      } else if (f.type === 'textarea') {
        input = el('textarea', { id: fid, rows: f.rows || 3, spellcheck: false,
                                 required: !!f.required, placeholder: f.placeholder || '' });
      } else {
        input = el('input', { id: fid, type: f.type || 'text', required: !!f.required,
                              placeholder: f.placeholder || '' });
        if (f.type === 'checkbox') input.checked = !!f.value;
      }
      if (f.value !== undefined && f.type !== 'checkbox') input.value = f.value;
      if (f.min !== undefined) input.min = f.min;
      inputs[f.id] = input;
      return el('label', { class: (f.wide ? 'wide' : '') + (f.type === 'checkbox' ? ' check' : '') }, [
        f.label, f.hint ? el('span', { class: 'muted', text: ' ' + f.hint }) : null, input]);
    });
    const submit = el('button', { type: 'submit', id: id + '-submit', text: submitLabel });
    const node = el('form', { id, class: 'grid write' },
                    [...labels, err, okp, el('div', { class: 'wide' }, [submit])]);
    const values = () => {
      const v = {};
      for (const [k, i] of Object.entries(inputs)) {
        v[k] = i.type === 'checkbox' ? i.checked : i.type === 'file' ? i.files[0] : i.value.trim();
      }
      return v;
    };
    node.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      show(err, '');
      show(okp, '');
      submit.disabled = true;
      try {
        const msg = await onSubmit(values(), api);
        if (typeof msg === 'string') show(okp, msg);
      } catch (e) {
        show(err, e.message);
      } finally {
        submit.disabled = false;
      }
    });
    return { node, values, field: (k) => inputs[k], error: (m) => show(err, m), ok: (m) => show(okp, m) };
  }

  /* A button that needs two clicks (the first arms it for 5 s). */
  function confirmButton(label, action, onConfirm, cls) {
    const b = el('button', { type: 'button', text: label, 'data-action': action,
                             class: 'small write ' + (cls || 'danger') });
    let timer = null;
    b.addEventListener('click', async () => {
      if (!timer) {
        b.classList.add('armed');
        b.textContent = 'Confirm ' + label.toLowerCase();
        timer = setTimeout(() => { timer = null; b.classList.remove('armed'); b.textContent = label; }, 5000);
        return;
      }
      clearTimeout(timer);
      timer = null;
      b.disabled = true;
      try { await onConfirm(); } finally {
        b.disabled = false;
        b.classList.remove('armed');
        b.textContent = label; /* disarmed again, for a button that stays on the page */
      }
    });
    return b;
  }

  /* A plain action button. */
  function button(label, action, onClick, cls) {
    const b = el('button', { type: 'button', text: label, 'data-action': action,
                             class: 'small ' + (cls === undefined ? 'write' : cls) });
    b.addEventListener('click', async () => {
      b.disabled = true;
      try { await onClick(); } finally { b.disabled = false; }
    });
    return b;
  }

  /* A line for a page's errors and news: {node, error(m), ok(m), clear()}. */
  function status(id) {
    const node = el('p', { id, role: 'status', hidden: true });
    const put = (cls, m) => { node.className = cls; show(node, m); };
    return { node, error: (m) => put('error', m), ok: (m) => put('ok', m), clear: () => show(node, '') };
  }

  /* Runs fn every ms (after the previous run ends) until the returned stop
   * function is called. */
  function every(ms, fn) {
    let timer = null, stopped = false;
    const tick = async () => {
      timer = null;
      try { await fn(); } catch (e) { /* the page shows its own errors */ }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    timer = setTimeout(tick, ms);
    return () => { stopped = true; if (timer) clearTimeout(timer); };
  }

  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  }
  function fmtMiB(m) {
    return m >= 1024 && m % 1024 === 0 ? (m / 1024) + ' GiB' : m + ' MiB';
  }
  function fmtBytes(n) {
    if (n === null || n === undefined) return '';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
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

  /* ---- pages and routing ---- */

  function page(p) {
    if (!p || !p.id || typeof p.render !== 'function') throw new Error('Stratus.page: id and render');
    if (pages.some((q) => q.id === p.id)) throw new Error('Stratus.page: ' + p.id + ' twice');
    pages.push(Object.assign({ nav: 'tenant', adminOnly: false, hidden: false }, p));
  }

  function visible(p) { return !p.adminOnly || (me && me.user && me.user.cloud_admin); }

  function go(id, param) {
    const h = '#/' + id + (param ? '/' + encodeURIComponent(param) : '');
    if (location.hash === h) route(); else location.hash = h;
  }

  function parseHash() {
    const m = /^#\/([A-Za-z0-9_-]+)(?:\/(.*))?$/.exec(location.hash);
    if (!m) return { id: null, param: null };
    let param = null;
    try { param = m[2] ? decodeURIComponent(m[2]) : null; } catch (e) { param = null; }
    return { id: m[1], param };
  }

  function leave() {
    if (!current) return;
    const c = current;
    current = null;
    c.alive = false;
    if (typeof c.cleanup === 'function') {
      try { c.cleanup(); } catch (e) { console.warn(e); }
    }
  }

  function renderNav() {
    const nav = $('nav');
    const groups = NAV_GROUPS.map(([g, label]) => {
      const ps = pages.filter((p) => p.nav === g && !p.hidden && visible(p));
      if (!ps.length) return null;
      return el('div', { class: 'nav-group', 'data-group': g }, [
        el('span', { class: 'nav-label', text: label }),
        ...ps.map((p) => el('a', { href: '#/' + p.id, text: p.title, 'data-page': p.id })),
      ]);
    });
    nav.replaceChildren(...groups.filter(Boolean));
  }

  function route() {
    if (!me) return;
    const { id, param } = parseHash();
    let p = pages.find((q) => q.id === id && visible(q));
    if (!p) {
      const shown = pages.filter((q) => !q.hidden && visible(q));
      const first = (me.user && me.user.cloud_admin && shown.find((q) => q.adminOnly)) || shown[0];
      if (!first) return;
      if (id !== first.id) {
        history.replaceState(null, '', '#/' + first.id);
      }
      p = first;
    }
    leave();
    for (const a of $('nav').querySelectorAll('a')) {
      a.classList.toggle('active', a.dataset.page === p.id ||
                         (p.hidden && a.dataset.page === p.parent));
    }
    const container = $('page');
    container.replaceChildren();
    container.dataset.page = p.id;
    document.title = p.title + ' - Stratus';
    const c = { page: p, param, alive: true, cleanup: null };
    current = c;
    const head = el('div', { class: 'page-head' }, [el('h2', { id: 'page-title', text: p.title })]);
    const body = el('div', { class: 'page-body' });
    container.append(head, body);
    try {
      const r = p.render(body, { param, me, alive: () => c.alive && current === c, head });
      if (r && typeof r.then === 'function') {
        r.then((f) => { if (typeof f === 'function') { if (c.alive) c.cleanup = f; else f(); } })
          .catch((e) => { if (c.alive) body.prepend(el('p', { class: 'error', text: e.message })); });
      } else if (typeof r === 'function') {
        c.cleanup = r;
      }
    } catch (e) {
      body.prepend(el('p', { class: 'error', text: e.message }));
    }
  }

  /* ---- session ---- */

  function banner(text) { show($('banner'), text); }

  function endSession(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    leave();
    $('page').replaceChildren();
    $('nav').replaceChildren();
    document.body.classList.remove('ro');
    $('who').hidden = true;
    $('app-view').hidden = true;
    $('signin-view').hidden = false;
    $('signin-password').value = '';
    show($('signin-error'), message || '');
    banner('');
    $('signin-name').focus();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const name = $('signin-name').value.trim();
    const password = $('signin-password').value;
    const tenant = $('signin-tenant').value.trim();
    const body = { name, password };
    if (tenant) body.tenant = tenant;
    $('signin-submit').disabled = true;
    show($('signin-error'), '');
    try {
      const r = await api('POST', '/v1/auth/tokens', body);
      sessionStorage.setItem(TOKEN_KEY, r.data.token);
      const w = await api('GET', '/v1/auth/whoami');
      if (!w.data.tenant_id && w.data.tenants.length > 0) {
        /* several tenants and none named: the token cannot see a tenant */
        await api('DELETE', '/v1/auth/tokens/current').catch(() => {});
        sessionStorage.removeItem(TOKEN_KEY);
        $('signin-tenants').replaceChildren(...w.data.tenants.map((t) => el('option', { value: t.name })));
        show($('signin-error'), 'You belong to several tenants (' +
             w.data.tenants.map((t) => t.name).join(', ') + '): name one under Tenant.');
        $('signin-tenant').focus();
        return;
      }
      $('signin-password').value = '';
      enterApp(w.data);
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      show($('signin-error'), e.message);
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

  function enterApp(who) {
    me = who;
    const tenant = (who.tenants || []).find((t) => t.id === who.tenant_id);
    $('who-user').textContent = who.user.name;
    $('who-tenant').textContent = tenant ? tenant.name : (who.tenant_id || 'no tenant');
    $('who-role').textContent = who.role || (who.user.cloud_admin ? 'cloud admin' : 'no role');
    document.body.classList.toggle('ro', !canWrite());
    $('who').hidden = false;
    $('signin-view').hidden = true;
    $('app-view').hidden = false;
    show($('signin-error'), '');
    renderNav();
    route();
  }

  function canWrite() { return !!me && (me.role === 'admin' || me.role === 'member'); }

  async function start() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    window.addEventListener('hashchange', route);
    if (!token()) {
      endSession('');
      return;
    }
    try {
      const w = await api('GET', '/v1/auth/whoami');
      enterApp(w.data);
    } catch (e) {
      if (e.status !== 401) endSession(e.message);
    }
  }

  document.addEventListener('DOMContentLoaded', start);

  return Object.freeze({
    api, el, page, go, banner, canWrite, me: () => me, ApiError,
    card, table, form, confirmButton, button, status, every,
    fmtTime, fmtMiB, fmtBytes, idempotencyKey, base64,
  });
})();
