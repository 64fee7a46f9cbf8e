/*
 * admin.js - the cloud admin's pages of the dashboard, registered with
 * Stratus.page({nav: 'admin', adminOnly: true}) (the contract is at the top
 * of core.js); a cloud admin lands on the first of them, Hosts.
 *   hosts    #/hosts        nodes: state, load, free capacity, the
 *                           empty ones that could be powered off, and
 *                           each one's power state (with the last power
 *                           command's fault) and power off/on
 *                           (GET /v1/nodes and /v1/scheduler, polled;
 *                           POST /v1/nodes/{id}/actions); the rebalance
 *                           plan, a dry run: the moves that would even
 *                           out the hosts' CPU and memory loads, each
 *                           host's loads and the imbalance before and
 *                           after (GET /v1/scheduler/rebalance, on
 *                           opening and on Refresh); beside it the
 *                           consolidation plan: the moves that would
 *                           empty whole hosts and the hosts then
 *                           powered off (GET /v1/scheduler/consolidation);
 *                           each with Apply (two clicks: POST the same
 *                           path, which starts the moves as live
 *                           migrations; what started and what was
 *                           skipped is shown under it);
 *   tenants  #/tenants      list, create, delete;
 *   tenant   #/tenant/<id>  members and roles, quotas (view and set), and
 *                           its price plan assignments;
 *   users    #/users        list, create;
 *   flavors  #/flavors      list (disabled ones too), create, disable/enable;
 *   plans    #/plans        price plans and their versions, create a plan,
 *                           add a version, put a tenant on a plan;
 *   periods  #/periods      issued months, the preview of a month, issue it.
 * The API decides who may do what; these pages only call it.
 */
'use strict';
(function () {
  const S = Stratus;
  const el = S.el;
  const enc = encodeURIComponent;

  const PRICE_FIELDS = [
    ['cpu_per_gcycle', 'CPU per Gcycle'],
    ['instance_hour_default', 'Instance hour'],
    ['rx_per_gib', 'In per GiB'],
    ['tx_per_gib', 'Out per GiB'],
    ['storage_per_gib_month', 'Storage per GiB-month'],
  ];

  function lastMonth() {
    const d = new Date();
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
  }
  function money(micro) { return (micro / 1e6).toFixed(2); }
  function int(v) { return v === '' || v === undefined ? undefined : Number(v); }

  /* ---- hosts ---- */

  S.page({
    id: 'hosts', title: 'Hosts', nav: 'admin', adminOnly: true,
    render(body, p) {
      const st = S.status('hosts-status');
      const summary = el('p', { id: 'hosts-summary' });
      const idle = el('p', { id: 'hosts-idle' });
      const pct = (u, c) => (c ? Math.round((100 * u) / c) : 0) + '%';
      const t = S.table('hosts', [
        ['Name', (n) => n.name, 'c-name'],
        ['State', (n) => n.state + (n.disabled ? ' (disabled)' : '') +
          (n.draining_until ? ' (draining)' : ''), 'c-state'],
        ['Instances', (n) => n.used.instances, 'n c-instances'],
        ['Load', (n) => 'vCPU ' + pct(n.used.vcpus, n.capacity.vcpus) + ', memory ' +
          pct(n.used.memory_mib, n.capacity.memory_mib), 'c-load'],
        ['Free', (n) => (n.capacity.vcpus - n.used.vcpus) + ' vCPU, ' +
          S.fmtMiB(n.capacity.memory_mib - n.used.memory_mib) + ', ' +
          (n.capacity.disk_gib - n.used.disk_gib) + ' GiB', 'c-free'],
        ['Empty', (n) => (n.empty ? el('span', { class: 'badge', text: 'could power off' }) : ''),
         'c-empty'],
        ['Heartbeat', (n) => S.fmtTime(n.last_heartbeat)],
        ['Power', (n) => {
          const cell = [el('span', { class: 'power-state', text: n.power_state.replace('_', ' ') })];
          if (n.power_fault) cell.push(el('span', { class: 'power-fault', text: ' (' + n.power_fault + ')' }));
          const act = n.power_state === 'on' && n.empty ? 'power_off'
            : n.power_state === 'off' ? 'power_on' : null;
          if (act) {
            cell.push(' ', S.confirmButton(act === 'power_off' ? 'Power off' : 'Power on', act.replace('_', '-'),
              async () => {
                try {
                  await S.api('POST', '/v1/nodes/' + enc(n.id) + '/actions', { action: act });
                  await load();
                } catch (e) { st.error(e.message); }
              }, act === 'power_off' ? 'danger' : ''));
          }
          return el('span', {}, cell);
        }, 'c-power'],
        ['', (n) => S.button(n.disabled ? 'Enable' : 'Disable', n.disabled ? 'enable' : 'disable',
                             async () => {
                               try {
                                 await S.api('PATCH', '/v1/nodes/' + enc(n.id), { disabled: !n.disabled });
                                 await load();
                               } catch (e) { st.error(e.message); }
                             })],
      ], (n) => n.id, 'No hosts registered.');
      body.append(st.node, summary, idle, S.card(null, [t.node]),
                  el('div', { class: 'plans' }, [rebalanceCard(p, st), consolidationCard(p, st)]));
      async function load() {
        const [nodes, sched] = await Promise.all([S.api('GET', '/v1/nodes'),
                                                  S.api('GET', '/v1/scheduler')]);
        if (!p.alive()) return;
        t.set(nodes.data.nodes);
        const s = sched.data;
        summary.textContent = s.nodes_up + ' of ' + s.nodes + ' hosts up; placement policy ' +
                              s.policy + ', CPU overcommit ' + s.cpu_overcommit + '.';
        idle.textContent = s.empty_nodes.length
          ? 'Empty hosts that could be powered off: ' + s.empty_nodes.join(', ')
          : 'No host is empty.';
      }
      load().catch((e) => st.error(e.message));
      return S.every(5000, load);
    },
  });

  /* The rebalance plan on the Hosts page: fetched on opening and on Refresh,
   * not polled (it reads the metering samples of every instance). */
  const OUTCOMES = {
    within_threshold: 'the hosts are within the threshold',
    balanced: 'they bring the hosts within the threshold',
    max_moves: 'stopped at the bound; the next plan may move more',
    no_move_helps: 'no other move would help (what would move is held, cooling down, fits nowhere or would overshoot)',
  };

  function rebalanceCard(p, st) {
    const pc = (x) => Math.round(100 * x) + '%';
    const arrow = (a, b) => pc(a) + ' \u2192 ' + pc(b);
    const summary = el('p', { id: 'rebalance-summary' });
    const moves = S.table('rebalance-moves', [
      ['Instance', (m) => m.instance_name, 'c-instance'],
      ['From', (m) => m.from_node, 'c-from'],
      ['To', (m) => m.to_node, 'c-to'],
      ['Instance CPU', (m) => m.instance_cpu.toFixed(2) + ' CPUs' +
        (m.cpu_measured ? '' : ' (not measured: its vCPUs)'), 'n c-cpu'],
      ['From host CPU', (m) => arrow(m.from_before.cpu, m.from_after.cpu), 'c-from-load'],
      ['To host CPU', (m) => arrow(m.to_before.cpu, m.to_after.cpu), 'c-to-load'],
      ['Memory from / to', (m) => arrow(m.from_before.memory, m.from_after.memory) + ' / ' +
        arrow(m.to_before.memory, m.to_after.memory), 'c-memory'],
    ], (m) => m.instance_id, 'No moves.');
    const hosts = S.table('rebalance-hosts', [
      ['Host', (n) => n.node, 'c-name'],
      ['CPU load', (n) => arrow(n.before.cpu, n.after.cpu), 'c-cpu'],
      ['Memory load', (n) => arrow(n.before.memory, n.after.memory), 'c-memory'],
    ], (n) => n.node_id, 'No host in service.');
    async function load() {
      const r = await S.api('GET', '/v1/scheduler/rebalance');
      if (!p.alive()) return;
      const d = r.data, b = d.imbalance_before, a = d.imbalance_after;
      summary.textContent = 'CPU load spread ' + arrow(b.cpu_spread, a.cpu_spread) +
        ', memory ' + arrow(b.memory_spread, a.memory_spread) + ' (threshold ' + pc(d.threshold) +
        '); ' + d.moves.length + ' of at most ' + d.max_moves + ' moves: ' + OUTCOMES[d.outcome] +
        '. CPU measured for ' +
        d.instances_measured + ' of ' + d.instances + ' instances over the last ' +
        Math.round(d.cpu_window / 60) + ' min (the others count at their vCPUs). A dry run:' +
        ' nothing moves.';
      moves.set(d.moves);
      hosts.set(d.nodes.filter((n) => n.in_service));
    }
    const refresh = S.button('Refresh', 'rebalance-refresh', () => load().catch((e) => st.error(e.message)), '');
    const apply = applyPlan('rebalance', '/v1/scheduler/rebalance', load, st);
    load().catch((e) => st.error(e.message));
    return S.card('Rebalance plan', [summary, moves.node, hosts.node, refresh, ' ', apply.button, apply.result],
                  { id: 'rebalance' });
  }

  /* Apply, two clicks: POST the plan's path (the moves begin as live migrations, at most the
   * gateway's rebalance.max_concurrent at once), say what started and what was skipped, then
   * show the plan again. */
  function applyPlan(kind, path, load, st) {
    const result = el('p', { id: kind + '-result', class: 'plan-result' });
    const button = S.confirmButton('Apply', kind + '-apply', async () => {
      try {
        const d = (await S.api('POST', path, {})).data;
        const lines = [d.started.length + ' migration' + (d.started.length === 1 ? '' : 's') +
                       ' started' + (d.started.length ? ': ' +
                       d.started.map((m) => m.instance_id + ' to ' + m.to_node).join(', ') : '') + '.'];
        if (d.skipped.length)
          lines.push(d.skipped.length + ' skipped: ' +
                     d.skipped.map((m) => m.instance_id + ' (' + m.reason + ')').join('; ') + '.');
        if (d.draining && d.draining.length)
          lines.push('Draining (no new instance): ' + d.draining.join(', ') + '.');
        if (d.nodes_to_power_off && d.nodes_to_power_off.length)
          lines.push('Expected to power off once idle: ' + d.nodes_to_power_off.join(', ') + '.');
        result.textContent = lines.join(' ');
        await load();
      } catch (e) { st.error(e.message); }
    });
    return { button, result };
  }

  /* The consolidation plan, beside the rebalance plan: fetched on opening and on Refresh. */
  function consolidationCard(p, st) {
    const summary = el('p', { id: 'consolidation-summary' });
    const moves = S.table('consolidation-moves', [
      ['Instance', (m) => m.instance_name, 'c-instance'],
      ['From', (m) => m.from_node, 'c-from'],
      ['To', (m) => m.to_node, 'c-to'],
    ], (m) => m.instance_id, 'No moves.');
    const off = el('p', { id: 'consolidation-off' });
    async function load() {
      const r = await S.api('GET', '/v1/scheduler/consolidation');
      if (!p.alive()) return;
      const d = r.data;
      summary.textContent = 'Hosts holding instances ' + d.nodes_on + ' \u2192 ' + d.nodes_on_after +
        '; ' + d.moves.length + ' of at most ' + d.max_moves + ' moves, destinations filled to ' +
        Math.round(100 * d.target) + '%. A dry run: nothing moves.';
      moves.set(d.moves);
      off.textContent = !d.power_management ? 'Power management is off (power.off_command).'
        : d.nodes_to_power_off.length ? 'Then powered off once idle: ' + d.nodes_to_power_off.join(', ')
          : 'No host would be powered off.';
    }
    const refresh = S.button('Refresh', 'consolidation-refresh', () => load().catch((e) => st.error(e.message)), '');
    const apply = applyPlan('consolidation', '/v1/scheduler/consolidation', load, st);
    load().catch((e) => st.error(e.message));
    return S.card('Consolidation plan', [summary, moves.node, off, refresh, ' ', apply.button, apply.result],
                  { id: 'consolidation' });
  }

  /* ---- tenants ---- */

  S.page({
    id: 'tenants', title: 'Tenants', nav: 'admin', adminOnly: true,
    async render(body, p) {
      const st = S.status('tenants-status');
      const t = S.table('tenants', [
        ['Name', (x) => el('a', { href: '#/tenant/' + enc(x.id), text: x.name }), 'c-name'],
        ['Description', (x) => x.description],
        ['Created', (x) => S.fmtTime(x.created_at)],
        ['', (x) => S.confirmButton('Delete', 'delete', async () => {
          try {
            await S.api('DELETE', '/v1/tenants/' + enc(x.id));
            await load();
          } catch (e) { st.error(e.message); }
        })],
      ], (x) => x.id, 'No tenants.');
      const f = S.form('tenant-form', [
        { id: 'name', label: 'Name', required: true },
        { id: 'description', label: 'Description' },
      ], 'Create tenant', async (v) => {
        const r = await S.api('POST', '/v1/tenants', { name: v.name, description: v.description });
        await load();
        S.go('tenant', r.data.id);
      });
      body.append(st.node, S.card(null, [t.node]), S.card('New tenant', [f.node]));
      async function load() {
        const r = await S.api('GET', '/v1/tenants');
        if (p.alive()) t.set(r.data.tenants);
      }
      await load();
    },
  });

  S.page({
    id: 'tenant', title: 'Tenant', nav: 'admin', adminOnly: true, hidden: true, parent: 'tenants',
    async render(body, p) {
      const id = p.param || '';
      const base = '/v1/tenants/' + enc(id);
      const st = S.status('tenant-status');
      const name = el('h3', { id: 'tenant-name' });
      const members = S.table('members', [
        ['User', (m) => m.name, 'c-name'],
        ['Role', (m) => {
          const sel = el('select', { class: 'role', 'data-user': m.user_id },
                         ['admin', 'member', 'reader'].map((r) => el('option', { value: r, text: r })));
          sel.value = m.role;
          sel.addEventListener('change', async () => {
            try {
              await S.api('PUT', base + '/members/' + enc(m.user_id), { role: sel.value });
              st.ok(m.name + ' is now ' + sel.value + '.');
            } catch (e) { st.error(e.message); }
          });
          return sel;
        }, 'c-role'],
        ['', (m) => S.confirmButton('Remove', 'remove', async () => {
          try {
            await S.api('DELETE', base + '/members/' + enc(m.user_id));
            await loadMembers();
          } catch (e) { st.error(e.message); }
        })],
      ], (m) => m.user_id, 'No members.');
      const add = S.form('member-form', [
        { id: 'user', label: 'User', type: 'select', required: true },
        { id: 'role', label: 'Role', type: 'select', options: [['member', 'member'],
          ['admin', 'admin'], ['reader', 'reader']] },
      ], 'Add member', async (v) => {
        await S.api('PUT', base + '/members/' + enc(v.user), { role: v.role });
        await loadMembers();
        return 'Added.';
      });
      const quota = el('dl', { id: 'quota-view', class: 'quota' });
      const QUOTAS = ['instances', 'vcpus', 'memory_mib', 'disk_gib', 'networks', 'ports',
                      'security_groups', 'floating_ips'];
      const qf = S.form('quota-form', QUOTAS.map((k) => ({ id: k, label: k, type: 'number', min: 0 })),
                        'Set quotas', async (v) => {
                          const b = {};
                          for (const k of QUOTAS) if (v[k] !== '') b[k] = int(v[k]);
                          const r = await S.api('PUT', base + '/quotas', b);
                          showQuota(r.data);
                          return 'Quotas set.';
                        });
      const plans = S.table('tenant-plans', [
        ['Plan', (a) => a.plan_name || a.plan_id, 'c-plan'],
        ['From', (a) => S.fmtTime(a.effective_from)],
      ], (a) => a.plan_id + a.effective_from, 'No assignment: the default plan applies.');
      body.append(el('p', {}, [el('a', { href: '#/tenants', text: '\u2190 Tenants' })]), name, st.node,
                  S.card('Members and roles', [members.node, add.node]),
                  S.card('Quotas', [quota, qf.node]),
                  S.card('Price plans', [plans.node,
                                         el('p', { class: 'muted' }, ['Assign one under ',
                                           el('a', { href: '#/plans', text: 'Price plans' }), '.'])]));
      function showQuota(q) {
        quota.replaceChildren(...QUOTAS.map((k) => el('div', { 'data-quota': k }, [
          el('dt', { text: k }), el('dd', { text: q.usage[k] + ' of ' + q.limits[k] })])));
        for (const k of QUOTAS) qf.field(k).value = q.limits[k];
      }
      async function loadMembers() {
        const r = await S.api('GET', base + '/members');
        if (p.alive()) members.set(r.data.members);
      }
      const [t, q, users, asg, pl] = await Promise.all([
        S.api('GET', base), S.api('GET', base + '/quotas'), S.api('GET', '/v1/users'),
        S.api('GET', '/v1/billing/tenants/' + enc(id) + '/plans'),
        S.api('GET', '/v1/billing/plans'), loadMembers()]);
      if (!p.alive()) return;
      name.textContent = t.data.name;
      showQuota(q.data);
      add.field('user').replaceChildren(...users.data.users.map((u) =>
        el('option', { value: u.id, text: u.name })));
      const pname = {};
      for (const x of pl.data.plans) pname[x.id] = x.name;
      plans.set(asg.data.assignments.map((a) => Object.assign({ plan_name: pname[a.plan_id] }, a)));
    },
  });

  /* ---- users ---- */

  S.page({
    id: 'users', title: 'Users', nav: 'admin', adminOnly: true,
    async render(body, p) {
      const t = S.table('users', [
        ['Name', (u) => u.name, 'c-name'],
        ['Cloud admin', (u) => (u.cloud_admin ? 'yes' : ''), 'c-admin'],
        ['Disabled', (u) => (u.disabled ? 'yes' : '')],
        ['Created', (u) => S.fmtTime(u.created_at)],
      ], (u) => u.id, 'No users.');
      const f = S.form('user-form', [
        { id: 'name', label: 'Name', required: true },
        { id: 'password', label: 'Password', type: 'password', required: true,
          hint: '(at least 8 characters, not a dictionary word)' },
        { id: 'cloud_admin', label: 'Cloud admin', type: 'checkbox' },
      ], 'Create user', async (v) => {
        await S.api('POST', '/v1/users', { name: v.name, password: v.password,
                                           cloud_admin: v.cloud_admin });
        f.field('password').value = '';
        await load();
        return 'Created ' + v.name + '.';
      });
      body.append(S.card(null, [t.node]), S.card('New user', [f.node]));
      async function load() {
        const r = await S.api('GET', '/v1/users');
        if (p.alive()) t.set(r.data.users);
      }
      await load();
    },
  });

  /* ---- flavors ---- */

  S.page({
    id: 'flavors', title: 'Flavors', nav: 'admin', adminOnly: true,
    async render(body, p) {
      const st = S.status('flavors-status');
      const t = S.table('flavors', [
        ['Name', (x) => x.name, 'c-name'],
        ['vCPUs', (x) => x.vcpus, 'n'],
        ['Memory', (x) => S.fmtMiB(x.memory_mib), 'n'],
        ['Disk', (x) => x.disk_gib + ' GiB', 'n'],
        ['State', (x) => (x.disabled ? 'disabled' : 'enabled'), 'c-state'],
        ['', (x) => S.button(x.disabled ? 'Enable' : 'Disable', x.disabled ? 'enable' : 'disable',
                             async () => {
                               try {
                                 await S.api('PATCH', '/v1/flavors/' + enc(x.id), { disabled: !x.disabled });
                                 await load();
                               } catch (e) { st.error(e.message); }
                             })],
      ], (x) => x.id, 'No flavors.');
      const f = S.form('flavor-form', [
        { id: 'name', label: 'Name', required: true },
        { id: 'vcpus', label: 'vCPUs', type: 'number', required: true, min: 1 },
        { id: 'memory_mib', label: 'Memory (MiB)', type: 'number', required: true, min: 1 },
        { id: 'disk_gib', label: 'Disk (GiB)', type: 'number', required: true, min: 1 },
      ], 'Create flavor', async (v) => {
        await S.api('POST', '/v1/flavors', { name: v.name, vcpus: int(v.vcpus),
                                             memory_mib: int(v.memory_mib), disk_gib: int(v.disk_gib) });
        await load();
        return 'Created ' + v.name + '.';
      });
      body.append(st.node, S.card(null, [t.node]), S.card('New flavor', [f.node]));
      async function load() {
        const r = await S.api('GET', '/v1/flavors');
        if (p.alive()) t.set(r.data.flavors);
      }
      await load();
    },
  });

  /* ---- price plans ---- */

  function prices(v) {
    const o = {};
    for (const [k] of PRICE_FIELDS) o[k] = int(v[k]) || 0;
    return o;
  }
  const priceInputs = PRICE_FIELDS.map(([k, label]) =>
    ({ id: k, label, type: 'number', min: 0, value: '0', hint: '(micro-units)' }));

  S.page({
    id: 'plans', title: 'Price plans', nav: 'admin', adminOnly: true,
    async render(body, p) {
      const t = S.table('plans', [
        ['Name', (x) => x.name + (x.default ? ' (default)' : ''), 'c-name'],
        ['Versions', (x) => el('ul', { class: 'versions' }, x.versions.map((v) =>
          el('li', { 'data-version': v.version, text: 'v' + v.version + ' from ' +
            v.effective_from.slice(0, 10) + ': ' + PRICE_FIELDS.map(([k, l]) =>
              l + ' ' + (v.prices[k] || 0)).join(', ') }))), 'c-versions'],
        ['Created', (x) => S.fmtTime(x.created_at)],
      ], (x) => x.id, 'No price plans.');
      const create = S.form('plan-form', [
        { id: 'name', label: 'Name', required: true },
        { id: 'description', label: 'Description' },
        { id: 'default', label: 'Default plan', type: 'checkbox' },
        ...priceInputs,
      ], 'Create plan', async (v) => {
        await S.api('POST', '/v1/billing/plans', { name: v.name, description: v.description,
                                                   default: v.default, prices: prices(v) });
        await load();
        return 'Created ' + v.name + '.';
      });
      const version = S.form('version-form', [
        { id: 'plan', label: 'Plan', type: 'select', required: true },
        { id: 'effective_from', label: 'From', hint: '(RFC 3339, the first of a month)',
          required: true },
        ...priceInputs,
      ], 'Add version', async (v) => {
        await S.api('POST', '/v1/billing/plans/' + enc(v.plan) + '/versions',
                    { effective_from: v.effective_from, prices: prices(v) });
        await load();
        return 'Added.';
      });
      const assign = S.form('assign-form', [
        { id: 'tenant', label: 'Tenant', type: 'select', required: true },
        { id: 'plan', label: 'Plan', type: 'select', required: true },
        { id: 'effective_from', label: 'From', hint: '(a whole UTC hour in an open month)',
          required: true },
      ], 'Put tenant on plan', async (v) => {
        await S.api('POST', '/v1/billing/tenants/' + enc(v.tenant) + '/plans',
                    { plan_id: v.plan, effective_from: v.effective_from });
        return 'Assigned.';
      });
      body.append(S.card(null, [t.node]), S.card('New plan', [create.node]),
                  S.card('New version of a plan', [version.node]),
                  S.card('Assign a plan to a tenant', [assign.node]));
      const hour = new Date();
      hour.setUTCMinutes(0, 0, 0);
      assign.field('effective_from').value = new Date(hour.getTime() + 3600000).toISOString()
        .replace('.000Z', 'Z');
      async function load() {
        const r = await S.api('GET', '/v1/billing/plans');
        if (!p.alive()) return;
        t.set(r.data.plans);
        const opts = () => r.data.plans.map((x) => el('option', { value: x.id, text: x.name }));
        for (const f of [version, assign]) {
          const sel = f.field('plan'), was = sel.value;
          sel.replaceChildren(...opts());
          if (was) sel.value = was;
        }
      }
      const [tn] = await Promise.all([S.api('GET', '/v1/tenants'), load()]);
      if (!p.alive()) return;
      assign.field('tenant').replaceChildren(...tn.data.tenants.map((x) =>
        el('option', { value: x.id, text: x.name })));
    },
  });

  /* ---- billing periods ---- */

  S.page({
    id: 'periods', title: 'Billing periods', nav: 'admin', adminOnly: true,
    async render(body, p) {
      const st = S.status('periods-status');
      const head = el('p', { id: 'periods-head' });
      const issued = S.table('periods', [
        ['Month', (x) => x.period, 'c-period'],
        ['Invoices', (x) => x.invoices, 'n'],
        ['Numbers', (x) => x.first_number + '\u2013' + x.last_number],
        ['Total', (x) => money(x.total_micro), 'n'],
        ['Issued', (x) => S.fmtTime(x.issued_at)],
      ], (x) => x.period, 'No month issued yet.');
      const month = el('input', { id: 'period-month', value: lastMonth(), pattern: '\\d{4}-\\d{2}',
                                  size: 8 });
      const previewBtn = S.button('Preview', 'preview', () => preview(), '');
      const issueBtn = S.confirmButton('Issue', 'issue', async () => {
        try {
          const r = await S.api('POST', '/v1/billing/periods/' + enc(month.value) + '/issue');
          await load();
          rows.set([]);
          pv.replaceChildren();
          st.ok('Issued ' + r.data.period + ': ' + r.data.invoices + ' invoices, numbers ' +
                r.data.first_number + '\u2013' + r.data.last_number + '.');
        } catch (e) { st.error(e.message); }
      }, 'primary');
      const pv = el('div', { id: 'preview' });
      const rows = S.table('preview-tenants', [
        ['Tenant', (x) => tname[x.tenant_id] || x.tenant_id, 'c-tenant'],
        ['Number', (x) => x.number_text],
        ['Lines', (x) => x.lines, 'n'],
        ['Net', (x) => money(x.net_micro), 'n'],
        ['Tax', (x) => money(x.tax_micro), 'n'],
        ['Total', (x) => money(x.total_micro), 'n c-total'],
      ], (x) => x.tenant_id, 'No tenant has usage in this month.');
      const tname = {};
      body.append(st.node, head, S.card('Issued', [issued.node]),
                  S.card('A month', [el('p', { class: 'row' }, [
                    el('label', {}, ['Month ', month]), ' ', previewBtn, ' ', issueBtn]),
                  pv, rows.node]));
      async function load() {
        const r = await S.api('GET', '/v1/billing/periods');
        if (!p.alive()) return;
        head.textContent = 'Issued through ' + (r.data.issued_through || 'nothing yet') +
                           '; the next invoice number is ' + r.data.next_invoice_number + '.';
        issued.set(r.data.issued.slice().reverse());
      }
      async function preview() {
        st.clear();
        try {
          const r = await S.api('GET', '/v1/billing/periods/' + enc(month.value) + '/preview');
          if (!p.alive()) return;
          const x = r.data;
          pv.replaceChildren(el('p', { id: 'preview-summary', text:
            x.period + ': ' + (x.issuable ? 'can be issued' : 'cannot be issued (' + x.reason + ')') +
            '; ' + x.invoices + ' invoices, total ' + money(x.total_micro) + '.' }));
          rows.set(x.tenants);
        } catch (e) { st.error(e.message); }
      }
      const [tn] = await Promise.all([S.api('GET', '/v1/tenants'), load()]);
      for (const x of tn.data.tenants) tname[x.id] = x.name;
      await preview();
    },
  });
})();
