// The selected sale's funnel (GET /v1/admin/sales/{id}/funnel) drawn as SVG bars: joined → admitted →
// paid, and where the rest went (expired, declined, left). Read every few seconds for the selected
// sale only: it counts from the ledger too, so it is not on the live channel's one-second round.
'use strict';
(() => {
  const NS = 'http://www.w3.org/2000/svg';
  const STAGES = [
    { key: 'joined', label: 'Joined', color: '#57606a', hint: 'buyers who took a place' },
    { key: 'admitted', label: 'Admitted', color: '#0a58ca', hint: 'holds given' },
    { key: 'paid', label: 'Paid', color: '#1a7f37', hint: 'units sold' },
    { key: 'expired', label: 'Expired', color: '#bf8700', hint: 'holds not paid in time' },
    { key: 'declined', label: 'Declined', color: '#cf222e', hint: 'holds whose payment was declined' },
    { key: 'left', label: 'Left', color: '#8250df', hint: 'buyers who gave up their place or hold' },
  ];
  const POLL_MS = 3000;

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Horizontal bars scaled to the largest stage; outcomes below the main path, set apart by a gap. */
  function draw(box, f) {
    const W = 480;
    const ROW = 26;
    const LABEL = 80;
    const NUM = 64;
    const gapAfter = 2; // after "Paid": the outcomes that left the path
    const H = STAGES.length * ROW + 12;
    const max = Math.max(1, ...STAGES.map((s) => f[s.key] || 0));
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'funnel-title' });
    svg.append(el('title', { id: 'funnel-title' }, 'Funnel: ' + STAGES.map((s) => s.label + ' ' + (f[s.key] || 0)).join(', ')));
    STAGES.forEach((s, i) => {
      const y = i * ROW + (i > gapAfter ? 12 : 0);
      const n = f[s.key] || 0;
      const w = Math.round(((W - LABEL - NUM) * n) / max);
      const g = el('g', { 'data-stage': s.key });
      g.append(el('title', {}, s.label + ': ' + n.toLocaleString() + ' ' + s.hint));
      g.append(el('text', { x: 0, y: y + 17 }, s.label));
      g.append(el('rect', { x: LABEL, y: y + 4, width: Math.max(n > 0 ? 2 : 0, w), height: ROW - 8, rx: 3, fill: s.color }));
      g.append(el('text', { x: LABEL + Math.max(2, w) + 6, y: y + 17, class: 'n' }, n.toLocaleString()));
      svg.append(g);
    });
    box.replaceChildren(svg);
    box.dataset.saleId = f.saleId;
  }

  /** `current()` gives { token, saleId } now; polling stops when the token is gone (signed out). */
  function watch(box, current) {
    let stopped = false;
    (async () => {
      while (!stopped) {
        const { token, saleId } = current();
        if (!token) return;
        if (saleId) {
          try {
            const res = await fetch('/v1/admin/sales/' + encodeURIComponent(saleId) + '/funnel', { headers: { authorization: 'Bearer ' + token } });
            // The operator may have picked another sale meanwhile: draw only the one still selected.
            if (res.ok && current().saleId === saleId) draw(box, { ...(await res.json()), saleId });
          } catch {
            // A lost connection: the next round tries again; the last picture stays.
          }
        }
        // Every POLL_MS, or at once (within 250 ms) when the operator selects another sale.
        const until = Date.now() + POLL_MS;
        while (!stopped && Date.now() < until && current().saleId === saleId) await new Promise((r) => setTimeout(r, 250));
      }
    })();
    return { stop: () => { stopped = true; } };
  }

  window.FlashSaleFunnel = { watch, draw, STAGES };
})();
