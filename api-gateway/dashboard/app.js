/*
 * app.js - the tenant's pages of the dashboard, each registered with
 * Stratus.page (the contract is at the top of core.js): instances and an
 * instance's detail page, images, networks with their subnets, ports,
 * security groups and rules, routers, floating IPs, keypairs, API keys and
 * quotas. Every page reads and writes the public /v1 API only, and puts
 * what it returns on the page with textContent.
 *
 * The instance list is polled every POLL_MS with the ETag of the last page
 * in If-None-Match: an unchanged list costs the gateway one authenticated
 * lookup and the browser a 304 with no body.
 */
'use strict';
(function () {
  const S = Stratus;
  const { el, api } = S;
  const POLL_MS = 3000;
  const enc = encodeURIComponent;

  function size(o) {
    return o.vcpus + ' vCPU, ' + S.fmtMiB(o.memory_mib) + ', ' + o.disk_gib + ' GiB';
  }
  function link(text, id, param) {
    return el('a', { href: '#/' + id + (param ? '/' + enc(param) : ''), text });
  }
  function stateCell(i) {
    return el('span', { class: 'state state-' + i.state, text: i.state, title: i.fault || '' });
  }
  function ips(port) {
    return (port.fixed_ips || []).map((f) => f.ip_address).join(', ');
  }
  /* Loads `path`, returns data[key] or [] with the error shown on st. */
  async function list(path, key, st) {
    try {
      const r = await api('GET', path);
      return r.data[key] || [];
    } catch (e) {
      if (st) st.error(e.message);
      return [];
    }
  }

  /* Power actions the instance's state allows. */
  function actionsFor(i) {
    const a = [];
    if (!i.task && i.state === 'stopped') a.push('start');
    if (!i.task && i.state === 'active') a.push('stop', 'reboot');
    return a;
  }
  async function instanceAction(i, action, st) {
    st.clear();
    try {
      if (action === 'delete') await api('DELETE', '/v1/instances/' + enc(i.id));
      else await api('POST', '/v1/instances/' + enc(i.id) + '/actions', { action });
    } catch (e) {
      st.error(i.name + ': ' + e.message);
    }
  }
  function actionButtons(i, st, after) {
    const box = el('span', { class: 'actions' });
    for (const a of actionsFor(i)) {
      box.append(S.button(a[0].toUpperCase() + a.slice(1), a,
                          async () => { await instanceAction(i, a, st); await after(); }));
    }
    if (i.state !== 'deleting' && i.state !== 'deleted') {
      box.append(S.confirmButton('Delete', 'delete',
                                 async () => { await instanceAction(i, 'delete', st); await after(); }));
    }
    return box;
  }

  /* ---- Instances ---- */

  S.page({
    id: 'instances', title: 'Instances', nav: 'tenant',
    render(c, p) {
      const st = S.status('action-error');
      const updated = el('span', { id: 'list-status', class: 'muted' });
      let flavors = [], etag = null;
      const t = S.table('instances', [
        ['Name', (i) => link(i.name, 'instance', i.id), 'c-name'],
        ['State', stateCell, 'c-state'],
        ['Task', (i) => i.task || '', 'c-task'],
        ['Host', (i) => i.host_status || '', 'c-host'],
        ['Size', (i) => {
          const f = flavors.find((x) => x.id === i.flavor_id);
          return (f ? f.name + ': ' : '') + size(i);
        }, 'c-size'],
        ['Addresses', (i) => (i.ports || []).map(ips).filter(Boolean).join(', '), 'c-addr'],
        ['Created', (i) => S.fmtTime(i.created_at), 'c-created'],
        ['Actions', (i) => actionButtons(i, st, refresh), 'c-actions'],
      ], (i) => i.id, 'No instances yet.');

      /* GET /v1/instances with the page's ETag: 304 leaves the page as it is. */
      async function refresh() {
        try {
          const r = await api('GET', '/v1/instances?limit=1000', undefined,
                              etag ? { 'If-None-Match': etag } : {});
          if (!p.alive()) return;
          updated.textContent = 'updated ' + new Date().toLocaleTimeString();
          S.banner('');
          if (r.status === 304) return;
          etag = r.etag;
          t.set(r.data.instances);
        } catch (e) {
          if (e.status !== 401 && p.alive()) S.banner('Instance list: ' + e.message);
        }
      }

      const f = S.form('create', [
        { id: 'name', label: 'Name', required: true },
        { id: 'flavor', label: 'Flavor', type: 'select', required: true },
        { id: 'image', label: 'Image', type: 'select', required: true },
        { id: 'keypair', label: 'Keypair', type: 'select', options: [['', '(none)']] },
        { id: 'network', label: 'Network', type: 'select', options: [['', '(default network)']] },
        { id: 'userdata', label: 'User data', type: 'textarea', wide: true,
          hint: '(optional; cloud-init or a script, sent base64-encoded)' },
      ], 'Create', async (v) => {
        const body = { name: v.name, flavor: v.flavor, image: v.image };
        if (v.keypair) body.keypair = v.keypair;
        if (v.network) body.networks = [{ network_id: v.network }];
        if (v.userdata) body.user_data = S.base64(f.field('userdata').value);
        const r = await api('POST', '/v1/instances', body, { 'Idempotency-Key': S.idempotencyKey() });
        f.field('name').value = '';
        f.field('userdata').value = '';
        await refresh();
        return 'Instance ' + r.data.name + ' is ' + r.data.state +
               (r.data.fault ? ': ' + r.data.fault : '') + '.';
      });
      f.field('name').maxLength = 63;

      c.append(
        S.card(null, [el('div', { class: 'row-between' }, [el('span'), updated]), t.node, st.node]),
        S.card('Create an instance', [f.node], { class: 'card write' }));

      (async () => {
        const [fl, im, kp, nw] = await Promise.all([
          list('/v1/flavors', 'flavors', f), list('/v1/images?status=active', 'images', f),
          list('/v1/keypairs', 'keypairs', f), list('/v1/networks', 'networks', f)]);
        if (!p.alive()) return;
        flavors = fl.filter((x) => !x.disabled);
        f.field('flavor').replaceChildren(...flavors.map((x) =>
          el('option', { value: x.id, text: x.name + ' (' + size(x) + ')' })));
        f.field('image').replaceChildren(...im.filter((x) => x.status === 'active').map((x) =>
          el('option', { value: x.id, text: x.name + (x.visibility === 'public' ? '' : ' (private)') })));
        f.field('keypair').append(...kp.map((k) => el('option', { value: k.id, text: k.name })));
        f.field('network').append(...nw.filter((n) => !n.external).map((n) =>
          el('option', { value: n.id, text: n.name || n.id })));
        await refresh();
      })();
      return S.every(POLL_MS, refresh);
    },
  });

  /* ---- One instance ---- */

  S.page({
    id: 'instance', title: 'Instance', nav: 'tenant', hidden: true, parent: 'instances',
    render(c, p) {
      const id = p.param;
      const st = S.status('instance-error');
      const facts = el('dl', { id: 'instance-facts', class: 'facts' });
      const acts = el('div', { id: 'instance-actions', class: 'actions' });
      const ports = S.table('instance-ports', [
        ['Port', (x) => x.name || x.id, 'c-name'],
        ['Network', (x) => x.network_id, 'c-net'],
        ['MAC', (x) => x.mac_address, 'c-mac'],
        ['Addresses', ips, 'c-ips'],
        ['Status', (x) => x.status, 'c-status'],
      ], (x) => x.id, 'No network interfaces.');
      const out = el('pre', { id: 'console-output', class: 'console' });
      const when = el('p', { id: 'console-updated', class: 'muted' });
      const refreshBtn = S.button('Refresh', 'console-refresh', () => loadConsole(), '');
      refreshBtn.id = 'console-refresh';
      let etag = null;

      async function load() {
        let r;
        try {
          r = await api('GET', '/v1/instances/' + enc(id), undefined, etag ? { 'If-None-Match': etag } : {});
        } catch (e) {
          if (p.alive()) st.error(e.message);
          return;
        }
        if (!p.alive() || r.status === 304) return;
        etag = r.etag;
        const i = r.data;
        p.head.querySelector('h2').textContent = 'Instance ' + i.name;
        const [fl, im] = await Promise.all([
          api('GET', '/v1/flavors/' + enc(i.flavor_id)).then((x) => x.data).catch(() => null),
          api('GET', '/v1/images/' + enc(i.image_id)).then((x) => x.data).catch(() => null)]);
        if (!p.alive()) return;
        const rows = [
          ['Name', i.name], ['ID', i.id], ['State', i.state], ['Task', i.task || '-'],
          ['Flavor', (fl ? fl.name + ': ' : '') + size(i)], ['Image', im ? im.name : i.image_id],
          ['Host status', i.host_status || '-'], ['Fault', i.fault || '-'],
          ['Created', S.fmtTime(i.created_at)], ['Updated', S.fmtTime(i.updated_at)]];
        facts.replaceChildren(...rows.map(([k, v]) => el('div', { 'data-fact': k.toLowerCase().replace(' ', '-') }, [
          el('dt', { text: k }), el('dd', { text: v, class: k === 'State' ? 'state state-' + i.state : '' })])));
        acts.replaceChildren(actionButtons(i, st, async () => {
          etag = null;
          if (i.state !== 'deleting') await load();
        }));
        const pr = await list('/v1/instances/' + enc(id) + '/interfaces', 'interfaces', null);
        if (p.alive()) ports.set(pr.length ? pr : (i.ports || []));
      }

      async function loadConsole() {
        try {
          const r = await api('GET', '/v1/instances/' + enc(id) + '/console?tail=500');
          if (!p.alive()) return;
          out.textContent = r.data.output || '';
          when.textContent = r.data.updated_at ? 'as of ' + S.fmtTime(r.data.updated_at)
                                               : 'no console output yet';
        } catch (e) {
          if (p.alive()) when.textContent = e.message;
        }
      }

      c.append(
        el('p', {}, [link('\u2190 Instances', 'instances')]),
        S.card('Details', [facts, acts, st.node]),
        S.card('Network interfaces', [ports.node]),
        S.card('Console', [el('div', { class: 'row-between' }, [when, refreshBtn]), out], { id: 'console-view' }));
      load();
      loadConsole();
      return S.every(POLL_MS, load);
    },
  });

  /* ---- Keypairs ---- */

  S.page({
    id: 'keypairs', title: 'Keypairs', nav: 'tenant',
    render(c, p) {
      const st = S.status('keypair-status');
      const t = S.table('keypairs', [
        ['Name', (k) => k.name, 'c-name'],
        ['Fingerprint', (k) => el('code', { class: 'fp', text: k.fingerprint })],
        ['Created', (k) => S.fmtTime(k.created_at)],
        ['', (k) => S.confirmButton('Delete', 'delete', async () => {
          st.clear();
          try { await api('DELETE', '/v1/keypairs/' + enc(k.id)); } catch (e) { st.error(e.message); }
          await refresh();
        }), 'c-actions'],
      ], (k) => k.id, 'No keypairs.');
      async function refresh() {
        const ks = await list('/v1/keypairs', 'keypairs', st);
        if (p.alive()) t.set(ks);
      }
      const f = S.form('keypair', [
        { id: 'name', label: 'Name', required: true },
        { id: 'key', label: 'Public key', type: 'textarea', rows: 2, required: true, wide: true,
          hint: '(one line, as in ~/.ssh/id_ed25519.pub)' },
      ], 'Add keypair', async (v) => {
        await api('POST', '/v1/keypairs', { name: v.name, public_key: v.key });
        f.field('name').value = '';
        f.field('key').value = '';
        await refresh();
      });
      c.append(S.card(null, [t.node, st.node]), S.card('Add a keypair', [f.node], { class: 'card write' }));
      refresh();
    },
  });

  /* ---- Quotas ---- */

  S.page({
    id: 'quotas', title: 'Quotas', nav: 'tenant',
    async render(c, p) {
      const dl = el('dl', { id: 'quota', class: 'quota' });
      const st = S.status('quota-error');
      c.append(S.card('Usage and limits', [dl, st.node]));
      let r;
      try {
        r = await api('GET', '/v1/quotas');
      } catch (e) {
        st.error(e.message);
        return;
      }
      if (!p.alive()) return;
      const { limits, usage } = r.data;
      const n = (v) => String(v);
      const items = [
        ['instances', 'Instances', n], ['vcpus', 'vCPUs', n], ['memory_mib', 'Memory', S.fmtMiB],
        ['disk_gib', 'Disk', (v) => v + ' GiB'], ['networks', 'Networks', n], ['ports', 'Ports', n],
        ['security_groups', 'Security groups', n], ['floating_ips', 'Floating IPs', n],
      ].filter(([k]) => k in limits);
      dl.replaceChildren(...items.map(([k, label, f]) => el('div', { 'data-quota': k }, [
        el('dt', { text: label }),
        el('dd', { text: f(usage[k]) + ' of ' + f(limits[k]) }),
        el('meter', { min: 0, max: Math.max(limits[k], 1), value: usage[k],
                      high: Math.max(limits[k], 1) * 0.8, optimum: 0 }),
      ])));
    },
  });
})();
