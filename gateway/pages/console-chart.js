// The console's stock burn-down chart (uPlot) and the bounded history behind it. Samples arrive once a
// second per sale; the chart is redrawn at most once per animation frame, and only the selected sale
// is drawn, so a stampede costs the browser the same as a quiet afternoon.
'use strict';
(() => {
  const WINDOW_SECONDS = 300; // rolling window: five minutes of one-second samples
  const MAX_SALES = 200; // histories kept for at most this many sales (oldest dropped)
  const SERIES = [
    { key: 'available', label: 'Available', color: '#0a58ca' },
    { key: 'held', label: 'Held', color: '#bf8700' },
    { key: 'paying', label: 'Paying', color: '#8250df' },
    { key: 'sold', label: 'Sold', color: '#1a7f37' },
  ];

  const clockTime = (s) => new Date(s * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

  /** Per sale: parallel arrays [seconds, available, held, paying, sold], never longer than the window. */
  class StockHistory {
    constructor() { this.bySale = new Map(); }
    push(saleId, atMs, stats) {
      let h = this.bySale.get(saleId);
      if (!h) {
        if (this.bySale.size >= MAX_SALES) this.bySale.delete(this.bySale.keys().next().value);
        h = [[], [], [], [], []];
        this.bySale.set(saleId, h);
      }
      const t = atMs / 1000;
      // Two gateways' clocks or a reconnect may repeat a second: keep the newest sample of it.
      if (h[0].length && t <= h[0][h[0].length - 1]) for (const col of h) col.pop();
      h[0].push(t);
      SERIES.forEach((s, i) => h[i + 1].push(stats[s.key]));
      const cut = h[0].findIndex((x) => x >= t - WINDOW_SECONDS);
      if (cut > 0) for (const col of h) col.splice(0, cut);
    }
    /**
     * The gateway's past samples of a sale (the live channel's `history` event on connect), oldest
     * first: they come before what this page already has, which is kept after them.
     */
    seed(saleId, samples) {
      const had = this.get(saleId);
      this.bySale.delete(saleId);
      for (const x of samples) this.push(saleId, x.at, x);
      const last = samples.length ? samples[samples.length - 1].at / 1000 : -Infinity;
      had[0].forEach((t, i) => {
        if (t > last) this.push(saleId, t * 1000, Object.fromEntries(SERIES.map((s, j) => [s.key, had[j + 1][i]])));
      });
    }
    get(saleId) { return this.bySale.get(saleId) || [[], [], [], [], []]; }
  }

  class BurnDownChart {
    constructor(el) {
      this.el = el;
      this.data = [[], [], [], [], []];
      this.frame = 0;
      this.plot = new window.uPlot(this.options(), this.data, el);
      // The chart follows its container (phone rotation, window resize) without a layout loop.
      this.resize = new ResizeObserver(() => this.schedule());
      this.resize.observe(el);
    }
    options() {
      return {
        width: this.size().width,
        height: this.size().height,
        cursor: { drag: { x: false, y: false } },
        legend: { live: false },
        scales: {
          // At least a minute wide, so the first seconds after opening do not zoom into milliseconds.
          x: { time: true, range: (_u, min, max) => [Math.min(min ?? 0, (max ?? 0) - 60), max ?? 0] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.05] },
        },
        // Clock times only (no second row with the date, which collides with the ticks on a phone).
        axes: [{ stroke: '#57606a', grid: { stroke: '#eaeef2' }, space: 70, values: (_u, ticks) => ticks.map(clockTime) }, { stroke: '#57606a', grid: { stroke: '#eaeef2' }, size: 56 }],
        series: [{ label: 'Time' }, ...SERIES.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } }))],
      };
    }
    size() {
      const w = Math.max(240, Math.floor(this.el.clientWidth || 600));
      return { width: w, height: w < 500 ? 220 : 300 };
    }
    /** Shows `data` at the next animation frame; several calls within one frame draw once. */
    show(data) {
      this.data = data;
      this.schedule();
    }
    schedule() {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        const { width, height } = this.size();
        if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height });
        this.plot.setData(this.data);
        // Seconds drawn, for a test or a person in the inspector (the canvas itself tells nothing).
        this.el.dataset.points = String(this.data[0].length);
      });
    }
  }

  window.FlashSaleChart = { StockHistory, BurnDownChart, SERIES, WINDOW_SECONDS };
})();
