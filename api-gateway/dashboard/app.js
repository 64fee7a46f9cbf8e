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
  /* The ones that skip the guest, behind a second click: a hard reboot (a
   * reset), and a force stop while a graceful stop waits for the guest. */
  function forcedActionsFor(i) {
    if (!i.task && i.state === 'active') return [['Hard reboot', 'hard-reboot']];
    if (i.task === 'stopping' && i.state === 'active') return [['Force stop', 'force-stop']];
    return [];
  }
  const ACTION_BODIES = {
    'force-stop': { action: 'stop', force: true },
    'hard-reboot': { action: 'reboot', type: 'hard' },
  };
  async function instanceAction(i, action, st) {
    st.clear();
    try {
      if (action === 'delete') await api('DELETE', '/v1/instances/' + enc(i.id));
      else await api('POST', '/v1/instances/' + enc(i.id) + '/actions', ACTION_BODIES[action] || { action });
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
    for (const [label, a] of forcedActionsFor(i)) {
      box.append(S.confirmButton(label, a,
                                 async () => { await instanceAction(i, a, st); await after(); }));
    }
    if (i.state !== 'deleting' && i.state !== 'deleted') {
      box.append(S.confirmButton('Delete', 'delete',
                                 async () => { await instanceAction(i, 'delete', st); await after(); }));
    }
    return box;
  }

  /* A live migration's progress in a line: where it goes, its state, the
   * source VMM's last round. */
  function migrationText(m) {
    if (!m) return '-';
    const parts = [m.state + ' to ' + m.dest_node];
    if (m.state === 'migrating') {
      parts.push('round ' + m.round, S.fmtBytes(m.transferred_bytes) + ' sent',
                 S.fmtBytes(m.remaining_bytes) + ' left');
      if (m.throttle_pct) parts.push('throttled ' + m.throttle_pct + '%');
    }
    if (m.cancel_requested) parts.push('cancelling');
    return parts.join(', ');
  }

  /* The cloud admin's moves of an instance (migrate.c, evacuate.c): a live
   * migration of an active one to a host of their choice or the
   * scheduler's, its cancel, and the evacuation of one whose host is down
   * (two clicks; a local disk asks for the data-loss box). */
  function adminMoves(i, st, after) {
    const box = el('div', { id: 'instance-admin', class: 'actions admin-moves' });
    const post = async (body) => {
      st.clear();
      try {
        await api('POST', '/v1/instances/' + enc(i.id) + '/actions', body);
      } catch (e) {
        st.error(i.name + ': ' + e.message);
      }
      await after();
    };
    if (i.state === 'active' && !i.task && i.host_status === 'up') {
      const host = el('select', { id: 'migrate-host' }, [el('option', { value: '', text: "(scheduler's choice)" })]);
      api('GET', '/v1/nodes').then((r) => {
        for (const n of r.data.nodes || []) {
          if (n.id !== i.node_id && n.state === 'up' && n.capacity.live_migration) {
            host.append(el('option', { value: n.name, text: n.name }));
          }
        }
      }).catch(() => {});
      box.append(host, S.button('Migrate', 'migrate', () => post(host.value ? { action: 'migrate', host: host.value }
                                                                            : { action: 'migrate' })));
    }
    if (i.task === 'migrating') {
      box.append(S.button('Cancel migration', 'migrate-cancel', () => post({ action: 'migrate_cancel' })));
    }
    if (i.host_status === 'down' && ['building', 'active', 'stopped'].includes(i.state)) {
      const loss = el('input', { type: 'checkbox', id: 'evacuate-confirm-loss' });
      box.append(el('label', {}, [loss, el('span', { text: ' its local disk may be lost' })]),
                 S.confirmButton('Evacuate', 'evacuate',
                                 () => post({ action: 'evacuate', confirm_data_loss: loss.checked })));
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
        ['Network', (x) => netNames.get(x.network_id) || x.network_id, 'c-net'],
        ['MAC', (x) => x.mac_address, 'c-mac'],
        ['Addresses', ips, 'c-ips'],
        ['Status', (x) => x.status, 'c-status'],
      ], (x) => x.id, 'No network interfaces.');
      let netNames = new Map();
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
          ['Host status', i.host_status || '-'], ['Migration', migrationText(i.migration)],
          ['Fault', i.fault || '-'],
          ['Created', S.fmtTime(i.created_at)], ['Updated', S.fmtTime(i.updated_at)]];
        facts.replaceChildren(...rows.map(([k, v]) => el('div', { 'data-fact': k.toLowerCase().replace(' ', '-') }, [
          el('dt', { text: k }), el('dd', { text: v, class: k === 'State' ? 'state state-' + i.state : '' })])));
        const again = async () => {
          etag = null;
          if (i.state !== 'deleting') await load();
        };
        const me = S.me();
        acts.replaceChildren(actionButtons(i, st, again),
                             ...(me && me.user && me.user.cloud_admin ? [adminMoves(i, st, again)] : []));
        const [pr, nw] = await Promise.all([
          list('/v1/instances/' + enc(id) + '/interfaces', 'interfaces', null),
          list('/v1/networks', 'networks', null)]);
        if (!p.alive()) return;
        netNames = new Map(nw.map((n) => [n.id, n.name]));
        ports.set(pr.length ? pr : (i.ports || []));
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

  /* ---- Images ---- */

  /* PUTs file to the signed URL with XHR (fetch reports no upload
   * progress), calling onProgress(sent, total). */
  function putFile(url, file, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('PUT', url);
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
      x.onload = () => {
        if (x.status >= 200 && x.status < 300) return resolve();
        let msg = 'HTTP ' + x.status;
        try { msg = JSON.parse(x.responseText).error.message || msg; } catch (e) { /* not JSON */ }
        reject(new Error('upload refused: ' + msg));
      };
      x.onerror = () => reject(new Error('upload failed: the image service cannot be reached'));
      x.send(file);
    });
  }

  S.page({
    id: 'images', title: 'Images', nav: 'tenant',
    render(c, p) {
      const st = S.status('images-status');
      const t = S.table('images', [
        ['Name', (i) => i.name, 'c-name'],
        ['Status', (i) => el('span', { class: 'state state-' + i.status, text: i.status,
                                       title: i.status_reason || '' }), 'c-status'],
        ['Format', (i) => i.disk_format, 'c-format'],
        ['Size', (i) => S.fmtBytes(i.size_bytes), 'c-size'],
        ['Visibility', (i) => i.visibility, 'c-vis'],
        ['Created', (i) => S.fmtTime(i.created_at)],
        ['', (i) => i.tenant_id && i.tenant_id === p.me.tenant_id
          ? S.confirmButton('Delete', 'delete', async () => {
            st.clear();
            try { await api('DELETE', '/v1/images/' + enc(i.id)); } catch (e) { st.error(e.message); }
            await refresh();
          }) : '', 'c-actions'],
      ], (i) => i.id, 'No images.');
      async function refresh() {
        const im = await list('/v1/images?limit=1000', 'images', st);
        if (p.alive()) t.set(im);
      }
      const bar = el('progress', { id: 'upload-progress', max: 1, value: 0, hidden: true });
      const barText = el('span', { id: 'upload-progress-text', class: 'muted' });
      const f = S.form('upload', [
        { id: 'name', label: 'Name', required: true },
        { id: 'format', label: 'Format', type: 'select', options: [['qcow2', 'qcow2'], ['raw', 'raw']] },
        { id: 'file', label: 'File', type: 'file', required: true, wide: true },
      ], 'Upload', async (v) => {
        if (!v.file) throw new Error('choose a file');
        const r = await api('POST', '/v1/images', { name: v.name, disk_format: v.format });
        const img = r.data;
        await refresh();
        try {
          const u = await api('POST', '/v1/images/' + enc(img.id) + '/upload-url');
          bar.hidden = false;
          bar.value = 0;
          await putFile(u.data.url, v.file, (sent, total) => {
            bar.max = Math.max(total, 1);
            bar.value = sent;
            barText.textContent = S.fmtBytes(sent) + ' of ' + S.fmtBytes(total);
          });
        } catch (e) {
          /* no bytes arrived: the queued record is of no use */
          await api('DELETE', '/v1/images/' + enc(img.id)).catch(() => {});
          await refresh();
          throw e;
        }
        f.field('name').value = '';
        f.field('file').value = '';
        await refresh();
        return 'Uploaded ' + img.name + ' (' + S.fmtBytes(v.file.size) + ').';
      });
      f.node.append(el('div', { class: 'wide' }, [bar, barText]));
      c.append(S.card(null, [t.node, st.node]), S.card('Upload an image', [f.node], { class: 'card write' }));
      refresh();
      /* a saving image becomes active (or killed) when its bytes are checked */
      return S.every(POLL_MS, refresh);
    },
  });

  /* ---- Networks and subnets ---- */

  S.page({
    id: 'networks', title: 'Networks', nav: 'tenant',
    render(c, p) {
      const st = S.status('networks-status');
      let subnets = [];
      const del = (what, path) => async () => {
        st.clear();
        try { await api('DELETE', path); } catch (e) { st.error(what + ': ' + e.message); }
        await refresh();
      };
      const t = S.table('networks', [
        ['Name', (n) => n.name || n.id, 'c-name'],
        ['Subnets', (n) => {
          const mine = subnets.filter((x) => x.network_id === n.id);
          if (!mine.length) return '';
          return el('ul', { class: 'plain' }, mine.map((x) => el('li', { 'data-subnet': x.id }, [
            el('span', { class: 'c-cidr', text: x.cidr }),
            el('span', { class: 'muted', text: ' ' + (x.name ? x.name + ', ' : '') +
                         'gateway ' + (x.gateway_ip || 'none') + (x.enable_dhcp ? ', DHCP' : '') + ' ' }),
            n.tenant_id === p.me.tenant_id ? S.confirmButton('Delete', 'delete-subnet',
              del('subnet ' + x.cidr, '/v1/subnets/' + enc(x.id))) : null])));
        }, 'c-subnets'],
        ['MTU', (n) => n.mtu],
        ['Kind', (n) => [n.is_default ? 'default' : '', n.shared ? 'shared' : '',
                         n.external ? 'external' : ''].filter(Boolean).join(', ')],
        ['Status', (n) => n.status],
        ['', (n) => n.tenant_id === p.me.tenant_id
          ? S.confirmButton('Delete', 'delete', del('network ' + n.name, '/v1/networks/' + enc(n.id))) : '',
         'c-actions'],
      ], (n) => n.id, 'No networks.');
      const nf = S.form('network', [{ id: 'name', label: 'Name', required: true }],
                        'Create network', async (v) => {
                          await api('POST', '/v1/networks', { name: v.name });
                          nf.field('name').value = '';
                          await refresh();
                        });
      const sf = S.form('subnet', [
        { id: 'network', label: 'Network', type: 'select', required: true },
        { id: 'name', label: 'Name' },
        { id: 'cidr', label: 'CIDR', required: true, placeholder: '10.1.0.0/24' },
        { id: 'gateway', label: 'Gateway', hint: '(default: the first address)' },
        { id: 'dhcp', label: 'DHCP', type: 'checkbox', value: true },
      ], 'Add subnet', async (v) => {
        const body = { network_id: v.network, cidr: v.cidr, enable_dhcp: v.dhcp };
        if (v.name) body.name = v.name;
        if (v.gateway) body.gateway_ip = v.gateway;
        await api('POST', '/v1/subnets', body);
        sf.field('cidr').value = '';
        sf.field('name').value = '';
        sf.field('gateway').value = '';
        await refresh();
      });
      async function refresh() {
        const [nw, sn] = await Promise.all([list('/v1/networks', 'networks', st),
                                            list('/v1/subnets', 'subnets', st)]);
        if (!p.alive()) return;
        subnets = sn;
        t.set(nw);
        const sel = sf.field('network'), keep = sel.value;
        sel.replaceChildren(...nw.filter((n) => n.tenant_id === p.me.tenant_id).map((n) =>
          el('option', { value: n.id, text: n.name || n.id })));
        if (keep && nw.some((n) => n.id === keep)) sel.value = keep;
      }
      c.append(S.card(null, [t.node, st.node]),
               S.card('Create a network', [nf.node], { class: 'card write' }),
               S.card('Add a subnet', [sf.node], { class: 'card write' }));
      refresh();
    },
  });

  /* ---- Ports ---- */

  S.page({
    id: 'ports', title: 'Ports', nav: 'tenant',
    render(c, p) {
      const st = S.status('ports-status');
      let nets = [];
      const t = S.table('ports', [
        ['Name', (x) => x.name || '', 'c-name'],
        ['Network', (x) => { const n = nets.find((y) => y.id === x.network_id); return n ? n.name : x.network_id; }, 'c-net'],
        ['Addresses', ips, 'c-ips'],
        ['MAC', (x) => x.mac_address, 'c-mac'],
        ['Used by', (x) => x.instance_id ? link('instance', 'instance', x.instance_id) : (x.device_owner || 'free'), 'c-owner'],
        ['Status', (x) => x.status, 'c-status'],
        ['', (x) => !x.instance_id && !x.device_owner ? S.confirmButton('Delete', 'delete', async () => {
          st.clear();
          try { await api('DELETE', '/v1/ports/' + enc(x.id)); } catch (e) { st.error(e.message); }
          await refresh();
        }) : '', 'c-actions'],
      ], (x) => x.id, 'No ports.');
      const f = S.form('port', [
        { id: 'network', label: 'Network', type: 'select', required: true },
        { id: 'name', label: 'Name' },
        { id: 'ip', label: 'Fixed IP', hint: '(optional)' },
      ], 'Create port', async (v) => {
        const body = { network_id: v.network };
        if (v.name) body.name = v.name;
        if (v.ip) {
          const sn = await list('/v1/subnets?network_id=' + enc(v.network), 'subnets', null);
          const sub = sn.find((x) => ipIn(v.ip, x.cidr));
          if (!sub) throw new Error(v.ip + ' is in none of the network\'s subnets');
          body.fixed_ips = [{ subnet_id: sub.id, ip_address: v.ip }];
        }
        const r = await api('POST', '/v1/ports', body);
        f.field('name').value = '';
        f.field('ip').value = '';
        await refresh();
        return 'Port ' + (r.data.name || r.data.id) + ': ' + ips(r.data) + '.';
      });
      async function refresh() {
        const [nw, ps] = await Promise.all([list('/v1/networks', 'networks', st), list('/v1/ports', 'ports', st)]);
        if (!p.alive()) return;
        nets = nw;
        t.set(ps);
        const sel = f.field('network'), keep = sel.value;
        sel.replaceChildren(...nw.filter((n) => !n.external).map((n) => el('option', { value: n.id, text: n.name || n.id })));
        if (keep) sel.value = keep;
      }
      c.append(S.card(null, [t.node, st.node]), S.card('Create a port', [f.node], { class: 'card write' }));
      refresh();
    },
  });

  function ipNum(ip) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
    return m ? ((+m[1] << 24) >>> 0) + (+m[2] << 16) + (+m[3] << 8) + (+m[4]) : null;
  }
  function ipIn(ip, cidr) {
    const [net, len] = cidr.split('/');
    const a = ipNum(ip), b = ipNum(net), n = +len;
    if (a === null || b === null) return false;
    const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
    return ((a & mask) >>> 0) === ((b & mask) >>> 0);
  }

  /* ---- Security groups ---- */

  function ruleText(r) {
    const proto = r.protocol || 'any';
    let ports = '';
    if (r.port_range_min !== null && r.port_range_min !== undefined) {
      ports = r.port_range_max !== null && r.port_range_max !== r.port_range_min
        ? r.port_range_min + '-' + r.port_range_max : String(r.port_range_min);
    }
    return proto + (ports ? ' ' + ports : '');
  }

  S.page({
    id: 'security-groups', title: 'Security groups', nav: 'tenant',
    render(c, p) {
      const st = S.status('sg-status');
      const box = el('div', { id: 'security-groups' });
      const rf = S.form('rule', [
        { id: 'group', label: 'Group', type: 'select', required: true },
        { id: 'direction', label: 'Direction', type: 'select', options: [['ingress', 'ingress'], ['egress', 'egress']] },
        { id: 'protocol', label: 'Protocol', type: 'select',
          options: [['tcp', 'tcp'], ['udp', 'udp'], ['icmp', 'icmp'], ['', 'any']] },
        { id: 'min', label: 'Port from', type: 'number', hint: '(icmp: type)' },
        { id: 'max', label: 'Port to', type: 'number', hint: '(icmp: code)' },
        { id: 'remote', label: 'Remote prefix', placeholder: '0.0.0.0/0' },
      ], 'Add rule', async (v) => {
        const body = { security_group_id: v.group, direction: v.direction,
                       protocol: v.protocol || null };
        if (v.min !== '') body.port_range_min = Number(v.min);
        if (v.max !== '') body.port_range_max = Number(v.max);
        else if (v.min !== '' && v.protocol !== 'icmp') body.port_range_max = Number(v.min);
        if (v.remote) body.remote_ip_prefix = v.remote;
        await api('POST', '/v1/security-group-rules', body);
        await refresh();
      });
      const gf = S.form('group', [{ id: 'name', label: 'Name', required: true },
                                  { id: 'description', label: 'Description' }],
                        'Create group', async (v) => {
                          await api('POST', '/v1/security-groups', { name: v.name, description: v.description });
                          gf.field('name').value = '';
                          gf.field('description').value = '';
                          await refresh();
                        });
      async function refresh() {
        const gs = await list('/v1/security-groups', 'security_groups', st);
        if (!p.alive()) return;
        const groupName = (id) => { const g = gs.find((x) => x.id === id); return g ? g.name : id; };
        box.replaceChildren(...gs.map((g) => {
          const t = S.table('', [
            ['Direction', (r) => r.direction, 'c-dir'],
            ['Protocol and ports', ruleText, 'c-proto'],
            ['Remote', (r) => r.remote_ip_prefix || (r.remote_group_id ? 'group ' + groupName(r.remote_group_id) : 'any'), 'c-remote'],
            ['Ether', (r) => r.ethertype],
            ['', (r) => S.confirmButton('Remove', 'delete-rule', async () => {
              st.clear();
              try { await api('DELETE', '/v1/security-group-rules/' + enc(r.id)); } catch (e) { st.error(e.message); }
              await refresh();
            }), 'c-actions'],
          ], (r) => r.id, 'No rules: nothing passes.');
          t.node.querySelector('table').removeAttribute('id');
          t.set(g.security_group_rules || []);
          return el('section', { class: 'card sg', 'data-id': g.id }, [
            el('div', { class: 'row-between' }, [
              el('h3', { class: 'c-name', text: g.name + (g.description ? ' \u2014 ' + g.description : '') }),
              g.is_default ? el('span', { class: 'muted', text: 'default' })
                : S.confirmButton('Delete group', 'delete', async () => {
                  st.clear();
                  try { await api('DELETE', '/v1/security-groups/' + enc(g.id)); } catch (e) { st.error(e.message); }
                  await refresh();
                })]),
            t.node]);
        }));
        const sel = rf.field('group'), keep = sel.value;
        sel.replaceChildren(...gs.map((g) => el('option', { value: g.id, text: g.name })));
        if (keep && gs.some((g) => g.id === keep)) sel.value = keep;
      }
      c.append(st.node, box, S.card('Add a rule', [rf.node], { class: 'card write' }),
               S.card('Create a group', [gf.node], { class: 'card write' }));
      refresh();
    },
  });

  /* ---- Routers ---- */

  S.page({
    id: 'routers', title: 'Routers', nav: 'tenant',
    render(c, p) {
      const st = S.status('routers-status');
      let nets = [], subs = [];
      const subName = (id) => { const x = subs.find((s) => s.id === id); return x ? x.cidr + (x.name ? ' (' + x.name + ')' : '') : id; };
      const t = S.table('routers', [
        ['Name', (r) => r.name || r.id, 'c-name'],
        ['External gateway', (r) => {
          const g = r.external_gateway_info;
          if (!g) return 'none';
          const n = nets.find((x) => x.id === g.network_id);
          return (n ? n.name : g.network_id) + ' ' + (g.external_fixed_ips || []).map((f) => f.ip_address).join(', ') +
                 (g.enable_snat ? ' (SNAT)' : '');
        }, 'c-gw'],
        ['Interfaces', (r) => el('ul', { class: 'plain' }, (r.interfaces || []).map((i) => el('li', { 'data-subnet': i.subnet_id }, [
          el('span', { text: subName(i.subnet_id) + ' at ' + i.ip_address + ' ' }),
          S.confirmButton('Detach', 'detach', async () => {
            st.clear();
            try { await api('DELETE', '/v1/routers/' + enc(r.id) + '/interfaces/' + enc(i.subnet_id)); } catch (e) { st.error(e.message); }
            await refresh();
          })]))), 'c-ifaces'],
        ['Status', (r) => r.status],
        ['', (r) => S.confirmButton('Delete', 'delete', async () => {
          st.clear();
          try { await api('DELETE', '/v1/routers/' + enc(r.id)); } catch (e) { st.error(e.message); }
          await refresh();
        }), 'c-actions'],
      ], (r) => r.id, 'No routers.');
      const cf = S.form('router', [
        { id: 'name', label: 'Name', required: true },
        { id: 'external', label: 'External network', type: 'select' },
      ], 'Create router', async (v) => {
        const body = { name: v.name };
        if (v.external) body.external_gateway_info = { network_id: v.external };
        await api('POST', '/v1/routers', body);
        cf.field('name').value = '';
        await refresh();
      });
      const af = S.form('attach', [
        { id: 'router', label: 'Router', type: 'select', required: true },
        { id: 'subnet', label: 'Subnet', type: 'select', required: true },
      ], 'Attach subnet', async (v) => {
        const r = await api('POST', '/v1/routers/' + enc(v.router) + '/interfaces', { subnet_id: v.subnet });
        await refresh();
        return 'Attached ' + subName(r.data.subnet_id) + '.';
      });
      async function refresh() {
        const [rs, nw, sn] = await Promise.all([list('/v1/routers', 'routers', st), list('/v1/networks', 'networks', st),
                                                list('/v1/subnets', 'subnets', st)]);
        if (!p.alive()) return;
        nets = nw;
        subs = sn;
        t.set(rs);
        const ext = cf.field('external'), ek = ext.value;
        ext.replaceChildren(el('option', { value: '', text: '(none)' }),
                            ...nw.filter((n) => n.external).map((n) => el('option', { value: n.id, text: n.name })));
        ext.value = ek;
        const rsel = af.field('router'), rk = rsel.value;
        rsel.replaceChildren(...rs.map((r) => el('option', { value: r.id, text: r.name || r.id })));
        if (rk && rs.some((r) => r.id === rk)) rsel.value = rk;
        const ssel = af.field('subnet'), sk = ssel.value;
        ssel.replaceChildren(...sn.filter((s) => s.tenant_id === p.me.tenant_id).map((s) =>
          el('option', { value: s.id, text: subName(s.id) })));
        if (sk) ssel.value = sk;
      }
      c.append(S.card(null, [t.node, st.node]), S.card('Create a router', [cf.node], { class: 'card write' }),
               S.card('Attach a subnet', [af.node], { class: 'card write' }));
      refresh();
    },
  });

  /* ---- Floating IPs ---- */

  S.page({
    id: 'floating-ips', title: 'Floating IPs', nav: 'tenant',
    render(c, p) {
      const st = S.status('fip-status');
      let ports = [];
      const portText = (x) => (x.name ? x.name + ' ' : '') + ips(x) + (x.instance_id ? ' (instance)' : '');
      const t = S.table('floating-ips', [
        ['Address', (f) => f.floating_ip_address, 'c-addr'],
        ['Mapped to', (f) => f.port_id ? (f.fixed_ip_address || f.port_id) : 'not associated', 'c-fixed'],
        ['Status', (f) => f.status, 'c-status'],
        ['Description', (f) => f.description || ''],
        ['', (f) => el('span', { class: 'actions' }, [
          f.port_id ? S.button('Disassociate', 'disassociate', async () => {
            st.clear();
            try { await api('PATCH', '/v1/floating-ips/' + enc(f.id), { port_id: null }); } catch (e) { st.error(e.message); }
            await refresh();
          }) : null,
          S.confirmButton('Release', 'delete', async () => {
            st.clear();
            try { await api('DELETE', '/v1/floating-ips/' + enc(f.id)); } catch (e) { st.error(e.message); }
            await refresh();
          })]), 'c-actions'],
      ], (f) => f.id, 'No floating IPs.');
      const af = S.form('fip', [
        { id: 'network', label: 'External network', type: 'select', required: true },
        { id: 'description', label: 'Description' },
      ], 'Allocate', async (v) => {
        const r = await api('POST', '/v1/floating-ips', { floating_network_id: v.network, description: v.description });
        af.field('description').value = '';
        await refresh();
        return 'Allocated ' + r.data.floating_ip_address + '.';
      });
      const mf = S.form('associate', [
        { id: 'fip', label: 'Floating IP', type: 'select', required: true },
        { id: 'port', label: 'Port', type: 'select', required: true },
      ], 'Associate', async (v) => {
        const r = await api('PATCH', '/v1/floating-ips/' + enc(v.fip), { port_id: v.port });
        await refresh();
        return r.data.floating_ip_address + ' \u2192 ' + r.data.fixed_ip_address + '.';
      });
      async function refresh() {
        const [fs, nw, ps] = await Promise.all([list('/v1/floating-ips', 'floating_ips', st),
                                                list('/v1/networks', 'networks', st), list('/v1/ports', 'ports', st)]);
        if (!p.alive()) return;
        ports = ps.filter((x) => !x.device_owner || x.device_owner === 'compute:stratus');
        t.set(fs);
        const ns = af.field('network'), nk = ns.value;
        ns.replaceChildren(...nw.filter((n) => n.external).map((n) => el('option', { value: n.id, text: n.name })));
        if (nk) ns.value = nk;
        const fsel = mf.field('fip'), fk = fsel.value;
        fsel.replaceChildren(...fs.map((f) => el('option', { value: f.id, text: f.floating_ip_address })));
        if (fk && fs.some((f) => f.id === fk)) fsel.value = fk;
        const psel = mf.field('port'), pk = psel.value;
        psel.replaceChildren(...ports.map((x) => el('option', { value: x.id, text: portText(x) })));
        if (pk) psel.value = pk;
      }
      c.append(S.card(null, [t.node, st.node]), S.card('Allocate a floating IP', [af.node], { class: 'card write' }),
               S.card('Associate with a port', [mf.node], { class: 'card write' }));
      refresh();
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

  /* ---- API keys ---- */

  S.page({
    id: 'api-keys', title: 'API keys', nav: 'tenant',
    render(c, p) {
      const st = S.status('apikeys-status');
      const secret = el('div', { id: 'apikey-secret', hidden: true });
      const t = S.table('api-keys', [
        ['Name', (k) => k.name, 'c-name'],
        ['Created', (k) => S.fmtTime(k.created_at)],
        ['Expires', (k) => S.fmtTime(k.expires_at), 'c-expires'],
        ['', (k) => S.confirmButton('Revoke', 'delete', async () => {
          st.clear();
          try { await api('DELETE', '/v1/api-keys/' + enc(k.id)); } catch (e) { st.error(e.message); }
          await refresh();
        }), 'c-actions'],
      ], (k) => k.id, 'No API keys.');
      const f = S.form('apikey', [
        { id: 'name', label: 'Name', required: true },
        { id: 'days', label: 'Expires in (days)', type: 'number', value: '365', min: 1 },
        { id: 'password', label: 'Password', type: 'password',
          hint: '(lets the key outlive this session)' },
      ], 'Create API key', async (v) => {
        const body = { name: v.name };
        if (v.days) body.expires_in_days = Number(v.days);
        if (f.field('password').value) body.password = f.field('password').value;
        const r = await api('POST', '/v1/api-keys', body);
        f.field('name').value = '';
        f.field('password').value = '';
        secret.replaceChildren(
          el('p', { text: 'The key ' + r.data.name + ' (shown once; copy it now), expires ' + S.fmtTime(r.data.expires_at) + ':' }),
          el('code', { id: 'apikey-secret-value', class: 'secret', text: r.data.key }));
        secret.hidden = false;
        await refresh();
      });
      async function refresh() {
        const ks = await list('/v1/api-keys', 'api_keys', st);
        if (p.alive()) t.set(ks);
      }
      c.append(S.card(null, [t.node, st.node]), S.card('Create an API key', [f.node, secret], { class: 'card write' }));
      refresh();
      /* the secret is not kept: leaving the page forgets it */
      return () => secret.replaceChildren();
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
