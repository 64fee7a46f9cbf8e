/*
 * charts.js - bar charts drawn as SVG for the dashboard (the usage page).
 *
 * Hand-written rather than a chart library: the dashboard needs one kind of
 * chart (bars per day, stacked or grouped per series, with axis labels and
 * a legend), and this is a page of code with no build step and nothing to
 * vendor. Everything is made with createElementNS and textContent, never
 * markup, so API data cannot become code, and colours come from classes in
 * style.css (series-0 ... series-7), so the strict CSP holds.
 *
 *   StratusCharts.bars({
 *     title: 'CPU cycles',              // the SVG's accessible name
 *     categories: ['2026-12-01', ...],  // the x axis, in order
 *     labels: ['1', ...],               // optional shorter x labels
 *     series: [{name: 'web-1', values: [n, ...]}, ...],
 *     stacked: true,                    // else grouped side by side
 *     format: (v) => String(v),         // axis and tooltip values
 *   }) -> <figure class="chart">
 *
 * A bar is drawn only where a value is above zero; each is a <rect> with
 * data-category, data-series and data-value, and a <title> tooltip.
 */
'use strict';
(function () {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 640, H = 220;
  const PAD = { left: 84, right: 8, top: 10, bottom: 28 };
  const COLOURS = 8;

  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /* A round axis maximum above max: 1, 2 or 5 times a power of ten. */
  function niceMax(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  function bars(o) {
    const cats = o.categories || [];
    const series = o.series || [];
    const fmt = o.format || ((v) => String(v));
    const n = Math.max(cats.length, 1);
    const plotW = W - PAD.left - PAD.right, plotH = H - PAD.top - PAD.bottom;
    let max = 0;
    cats.forEach((c, i) => {
      if (o.stacked) {
        max = Math.max(max, series.reduce((a, s) => a + (s.values[i] || 0), 0));
      } else {
        for (const s of series) max = Math.max(max, s.values[i] || 0);
      }
    });
    const top = niceMax(max);
    const y = (v) => PAD.top + plotH - (v / top) * plotH;

    const root = svg('svg', {
      viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg', role: 'img',
      preserveAspectRatio: 'xMinYMin meet',
    });
    root.append(svg('title', {}, o.title || 'chart'));

    /* the y axis: four steps, with grid lines */
    const axis = svg('g', { class: 'axis' });
    for (let k = 0; k <= 4; k++) {
      const v = (top * k) / 4, yy = y(v);
      axis.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy,
                                class: k ? 'grid' : 'base' }));
      axis.append(svg('text', { x: PAD.left - 6, y: yy + 4, 'text-anchor': 'end',
                                class: 'tick' }, fmt(v)));
    }
    /* the x labels: every one when they fit, else every few */
    const step = Math.ceil(n / 16);
    const slot = plotW / n;
    cats.forEach((c, i) => {
      if (i % step) return;
      axis.append(svg('text', { x: PAD.left + slot * (i + 0.5), y: H - PAD.bottom + 16,
                                'text-anchor': 'middle', class: 'tick' },
                      (o.labels || cats)[i]));
    });
    root.append(axis);

    /* the bars */
    const g = svg('g', { class: 'bars' });
    const barW = slot * 0.7, gap = slot * 0.15;
    cats.forEach((c, i) => {
      let base = 0;
      series.forEach((s, j) => {
        const v = s.values[i] || 0;
        if (v <= 0) return;
        let x, w, y0, y1;
        if (o.stacked) {
          x = PAD.left + slot * i + gap; w = barW;
          y0 = y(base); y1 = y(base + v); base += v;
        } else {
          w = barW / series.length;
          x = PAD.left + slot * i + gap + w * j;
          y0 = y(0); y1 = y(v);
        }
        const r = svg('rect', {
          x: x.toFixed(2), y: y1.toFixed(2), width: Math.max(w, 1).toFixed(2),
          height: Math.max(y0 - y1, 1).toFixed(2), class: 'series-' + (j % COLOURS),
          'data-category': c, 'data-series': s.name, 'data-value': v,
        });
        r.append(svg('title', {}, c + ' \u2014 ' + s.name + ': ' + fmt(v)));
        g.append(r);
      });
    });
    root.append(g);

    /* the legend, as HTML under the chart */
    const legend = document.createElement('ul');
    legend.className = 'legend';
    series.forEach((s, j) => {
      const li = document.createElement('li');
      const sw = svg('svg', { width: 10, height: 10, class: 'swatch' });
      sw.append(svg('rect', { width: 10, height: 10, class: 'series-' + (j % COLOURS) }));
      li.append(sw, document.createTextNode(' ' + s.name));
      legend.append(li);
    });

    const fig = document.createElement('figure');
    fig.className = 'chart';
    const cap = document.createElement('figcaption');
    cap.textContent = o.title || '';
    fig.append(cap, root, legend);
    return fig;
  }

  window.StratusCharts = Object.freeze({ bars, niceMax });
})();
