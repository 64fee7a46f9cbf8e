/*
 * billing.js - the tenant's billing pages of the dashboard, registered with
 * Stratus.page({nav: 'billing'}) (the contract is at the top of core.js):
 *   usage     #/usage[/YYYY-MM]  a month's usage per day, one bar chart per
 *             meter (charts.js) stacked per instance, and that month's
 *             draft invoice (or the issued one) with its lines;
 *   invoices  #/invoices         issued invoices and the live drafts, with
 *             their PDF and CSV;
 *   invoice   #/invoice/<id>     one invoice as billing renders it in HTML,
 *             shown in a sandboxed iframe (srcdoc: no script may run, and
 *             it inherits the dashboard's CSP, which allows exactly
 *             billing's invoice stylesheet by its hash, see dashboard.c);
 *   account   #/account          the buyer on the tenant's invoices (GET,
 *             and PUT for the tenant admin).
 * Documents are fetched with the session's token (Stratus.api with an
 * Accept of their type) and saved through a blob: link, so no token ever
 * goes into a URL.
 */
'use strict';
(function () {
  const S = Stratus;
  const el = S.el;

  /* The meters charted, in order: API field, title, unit formatter. */
  const METERS = [
    ['cpu_cycles', 'CPU cycles', (v) => fmtScaled(v, 'cycles')],
    ['cpu_time_ns', 'CPU time', (v) => fmtNum(v / 1e9) + ' s'],
    ['instance_hours', 'Instance hours', (v) => fmtNum(v) + ' h'],
    ['rx_bytes', 'Network in', (v) => S.fmtBytes(v)],
    ['tx_bytes', 'Network out', (v) => S.fmtBytes(v)],
    ['disk_read_bytes', 'Disk read', (v) => S.fmtBytes(v)],
    ['disk_write_bytes', 'Disk written', (v) => S.fmtBytes(v)],
    ['disk_read_ops', 'Disk read operations', (v) => fmtScaled(v, 'ops')],
    ['disk_write_ops', 'Disk write operations', (v) => fmtScaled(v, 'ops')],
  ];

  function fmtNum(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1);
  }
  function fmtScaled(v, unit) {
    for (const [d, p] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) {
      if (v >= d) return fmtNum(v / d) + ' ' + p + unit;
    }
    return fmtNum(v) + ' ' + unit;
  }
  function money(micro, currency) {
    return (micro / 1e6).toFixed(2) + ' ' + (currency || '');
  }

  /* "YYYY-MM" of now (UTC), and the first instants of a month and the next. */
  function thisMonth() {
    return new Date().toISOString().slice(0, 7);
  }
  function monthRange(m) {
    const [y, mo] = m.split('-').map(Number);
    const from = new Date(Date.UTC(y, mo - 1, 1));
    const to = new Date(Date.UTC(y, mo, 1));
    return [from, to];
  }
  function iso(d) { return d.toISOString().replace('.000Z', 'Z'); }
  function shiftMonth(m, n) {
    const [y, mo] = m.split('-').map(Number);
    return new Date(Date.UTC(y, mo - 1 + n, 1)).toISOString().slice(0, 7);
  }

  /* A document of an invoice as a Blob (type checked by the caller). */
  async function fetchDoc(id, format, download) {
    const types = { pdf: 'application/pdf', csv: 'text/csv', html: 'text/html' };
    const r = await S.api('GET', '/v1/billing/invoices/' + encodeURIComponent(id) +
                          (download ? '/download' : '') + '?format=' + format,
                          undefined, { Accept: types[format] });
    return r.res.blob();
  }

  /* Saves an invoice's PDF or CSV under the name billing gives it. */
  async function save(inv, format) {
    const blob = await fetchDoc(inv.id, format, true);
    const url = URL.createObjectURL(blob);
    const name = (inv.number_text === 'DRAFT' ? 'draft-' + inv.period : inv.number_text) +
                 '.' + format;
    const a = el('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  /* PDF and CSV buttons, and a link to the HTML unless it is on screen. */
  function docButtons(inv, st, viewing) {
    const b = (fmt) => {
      const btn = el('button', { type: 'button', class: 'small', text: fmt.toUpperCase(),
                                 'data-action': fmt });
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        try { await save(inv, fmt); } catch (e) { st.error(e.message); } finally { btn.disabled = false; }
      });
      return btn;
    };
    return el('span', { class: 'actions' }, [
      viewing ? null : el('a', { href: '#/invoice/' + encodeURIComponent(inv.id), text: 'View',
                                 class: 'button small', 'data-action': 'view' }),
      ' ', b('pdf'), ' ', b('csv')]);
  }

  /* ---- usage ---- */

  S.page({
    id: 'usage', title: 'Usage', nav: 'billing',
    async render(body, p) {
      const month = /^\d{4}-\d{2}$/.test(p.param || '') ? p.param : thisMonth();
      const st = S.status('usage-status');
      const nav = el('p', { class: 'month-nav' }, [
        el('a', { href: '#/usage/' + shiftMonth(month, -1), text: '\u2190 ' + shiftMonth(month, -1),
                  id: 'usage-prev' }),
        el('strong', { id: 'usage-month', text: ' ' + month + ' ' }),
        month < thisMonth()
          ? el('a', { href: '#/usage/' + shiftMonth(month, 1), text: shiftMonth(month, 1) + ' \u2192' })
          : null]);
      const plan = el('p', { id: 'usage-plan', class: 'muted' });
      const charts = el('div', { id: 'usage-charts', class: 'charts' });
      const draft = el('div', { id: 'usage-invoice' });
      body.append(nav, st.node, plan, S.card('Per day and meter', [charts]),
                  S.card('Invoice for ' + month, [draft]));
      const [from, to] = monthRange(month);
      const [u, insts, invs] = await Promise.all([
        S.api('GET', '/v1/billing/usage?granularity=day&from=' + iso(from) + '&to=' + iso(to)),
        S.api('GET', '/v1/instances?limit=1000').catch(() => ({ data: { instances: [] } })),
        S.api('GET', '/v1/billing/invoices'),
      ]);
      if (!p.alive()) return;
      plan.textContent = u.data.plan ? 'Price plan: ' + u.data.plan.name : 'No price plan applies.';
      const names = {};
      for (const i of insts.data.instances || []) names[i.id] = i.name;
      /* the month's days, and per meter a series per instance */
      const days = [];
      for (let d = new Date(from); d < to; d = new Date(d.getTime() + 86400000)) {
        days.push(d.toISOString().slice(0, 10));
      }
      const ids = [...new Set(u.data.usage.map((x) => x.instance_id))];
      const shown = [];
      for (const [field, title, fmt] of METERS) {
        if (!(u.data.totals[field] > 0)) continue;
        const series = ids.map((id) => {
          const values = days.map(() => 0);
          for (const x of u.data.usage) {
            if (x.instance_id === id) values[days.indexOf(x.start.slice(0, 10))] += x[field] || 0;
          }
          return { name: names[id] || id.slice(0, 8), values };
        });
        const fig = StratusCharts.bars({
          title: title + ' (total ' + fmt(u.data.totals[field]) + ')', categories: days,
          labels: days.map((d) => String(Number(d.slice(8)))), series, stacked: true, format: fmt,
        });
        fig.dataset.meter = field;
        shown.push(fig);
      }
      if (shown.length) charts.replaceChildren(...shown);
      else charts.replaceChildren(el('p', { class: 'muted', text: 'No usage in ' + month + '.' }));
      /* the month's invoice: the live draft, or what was issued */
      const inv = (invs.data.invoices || []).find((i) => i.period === month);
      if (!inv) {
        draft.replaceChildren(el('p', { class: 'muted', text: 'No invoice for this month.' }));
        return;
      }
      const full = await S.api('GET', '/v1/billing/invoices/' + encodeURIComponent(inv.id));
      if (!p.alive()) return;
      const d = full.data;
      const lines = S.table('usage-lines', [
        ['Line', (l) => l.line],
        ['Description', (l) => l.description],
        ['Quantity', (l) => l.billing_quantity + ' ' + l.billing_unit, 'n'],
        ['Amount', (l) => l.amount + ' ' + d.currency, 'n'],
      ], (l) => String(l.line), 'No lines.');
      lines.set(d.lines || []);
      draft.replaceChildren(
        el('p', {}, [el('span', { class: 'badge', text: d.status }), ' ',
                     el('strong', { id: 'usage-invoice-total',
                                    text: 'Total ' + d.total + ' ' + d.currency }),
                     d.status === 'draft' ? el('span', { class: 'muted',
                       text: ' (so far; as of ' + S.fmtTime(d.generated_at) + ')' }) : null]),
        lines.node, docButtons(inv, st));
    },
  });

  /* ---- invoices ---- */

  S.page({
    id: 'invoices', title: 'Invoices', nav: 'billing',
    async render(body, p) {
      const st = S.status('invoices-status');
      const t = S.table('invoices', [
        ['Number', (i) => i.number_text, 'c-number'],
        ['Period', (i) => i.period, 'c-period'],
        ['Status', (i) => i.status, 'c-status'],
        ['Total', (i) => money(i.total_micro, i.currency), 'n c-total'],
        ['Issued', (i) => S.fmtTime(i.issued_at)],
        ['', (i) => docButtons(i, st)],
      ], (i) => i.id, 'No invoices yet.');
      body.append(st.node, S.card(null, [t.node]));
      const r = await S.api('GET', '/v1/billing/invoices');
      if (!p.alive()) return;
      /* newest first */
      t.set((r.data.invoices || []).slice().sort((a, b) => (a.period < b.period ? 1 : -1)));
    },
  });

  S.page({
    id: 'invoice', title: 'Invoice', nav: 'billing', hidden: true, parent: 'invoices',
    async render(body, p) {
      const st = S.status('invoice-status');
      const frame = el('iframe', { id: 'invoice-frame', title: 'The invoice', class: 'invoice-frame' });
      /* no scripts, no forms, no navigation; same origin only so that it
       * inherits the CSP and the dashboard can size it */
      frame.setAttribute('sandbox', 'allow-same-origin');
      const bar = el('div', { class: 'row-between' });
      body.append(st.node, bar, frame);
      const r = await S.api('GET', '/v1/billing/invoices/' + encodeURIComponent(p.param || ''));
      if (!p.alive()) return;
      const inv = r.data;
      bar.append(el('p', {}, [el('a', { href: '#/invoices', text: '\u2190 Invoices' }), ' ',
                              el('strong', { id: 'invoice-number', text: inv.number_text }),
                              ' ' + inv.period + ' ', el('span', { class: 'badge', text: inv.status })]),
                 docButtons(inv, st, true));
      const html = await (await fetchDoc(inv.id, 'html', false)).text();
      if (!p.alive()) return;
      frame.addEventListener('load', () => {
        const doc = frame.contentDocument;
        if (doc && doc.documentElement) frame.style.height = (doc.documentElement.scrollHeight + 24) + 'px';
      });
      frame.srcdoc = html;
    },
  });

  /* ---- the billing account ---- */

  S.page({
    id: 'account', title: 'Billing account', nav: 'billing',
    async render(body, p) {
      const isAdmin = p.me.role === 'admin';
      const now = el('dl', { id: 'account-view', class: 'kv' });
      const f = S.form('account-form', [
        { id: 'legal_name', label: 'Legal name', required: true },
        { id: 'email', label: 'Email for invoices', type: 'email', required: true },
        { id: 'address', label: 'Address', type: 'textarea', required: true, wide: true },
        { id: 'country', label: 'Country', hint: '(ISO code, e.g. DE)', required: true },
        { id: 'tax_id', label: 'Tax id', hint: '(optional)' },
      ], 'Save', async (v) => {
        const r = await S.api('PUT', '/v1/billing/account', v);
        show(r.data);
        return 'Saved.';
      });
      if (!isAdmin) f.node.hidden = true;
      body.append(S.card('On your invoices', [now]),
                  isAdmin ? S.card('Change', [f.node]) : el('p', { class: 'muted',
                    text: 'Only a tenant admin may change the billing account.' }));
      function show(a) {
        const row = (k, v) => [el('dt', { text: k }), el('dd', { text: v || '', 'data-field': k })];
        now.replaceChildren(...row('Legal name', a.legal_name), ...row('Address', a.address),
                            ...row('Country', a.country), ...row('Tax id', a.tax_id),
                            ...row('Email', a.email));
        for (const k of ['legal_name', 'email', 'address', 'country', 'tax_id']) {
          f.field(k).value = a[k] || '';
        }
      }
      try {
        const r = await S.api('GET', '/v1/billing/account');
        if (p.alive()) show(r.data);
      } catch (e) {
        if (e.status !== 404) throw e;
        if (p.alive()) now.replaceChildren(el('p', { class: 'muted', text: e.message }));
      }
    },
  });
})();
