// "How good were the estimates" on the operator console: the selected sale's record of the chances
// and 80 % wait ranges buyers were shown (GET /v1/admin/sales/{id}, field `estimates`), read every few
// seconds: Brier score of the chance, coverage of the ranges, predicted vs actual waits, a
// reliability table by band of chance, and the latest admitted buyers. Its own panel and file, so the
// rest of the console does not change for it.
'use strict';
(() => {
  const EVERY_MS = 3000;
  const $ = (id) => document.getElementById(id);
  const num = (x, digits) => (x == null ? '–' : Number(x).toFixed(digits));
  const pct = (x) => (x == null ? '–' : Math.round(x * 100) + '\u00a0%');
  const secs = (x) => (x == null ? '–' : Number(x).toFixed(1) + '\u00a0s');

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    e.append(...children);
    return e;
  }

  function panel() {
    let p = $('estimates');
    if (p) return p;
    const detail = $('detail');
    if (!detail) return null;
    p = el('div', { id: 'estimates', class: 'panel', 'aria-labelledby': 'est-h' });
    p.append(
      el('h3', { id: 'est-h' }, 'How good were the estimates ', el('span', { class: 'muted', id: 'est-n' })),
      el('div', { class: 'kpis' },
        el('div', { class: 'kpi' }, el('span', { class: 'label' }, 'Brier (chance)'), el('output', { id: 'est-brier' }, '–')),
        el('div', { class: 'kpi' }, el('span', { class: 'label' }, '80\u00a0% range held'), el('output', { id: 'est-coverage' }, '–')),
        el('div', { class: 'kpi' }, el('span', { class: 'label' }, 'Mean wait: predicted'), el('output', { id: 'est-pred' }, '–')),
        el('div', { class: 'kpi' }, el('span', { class: 'label' }, 'Mean wait: actual'), el('output', { id: 'est-actual' }, '–'))),
      el('p', { class: 'muted', id: 'est-outcomes' }),
      el('table', { id: 'est-bands' },
        el('caption', { class: 'visually-hidden' }, 'Chance shown against the share admitted'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Chance shown'), el('th', { scope: 'col' }, 'Buyers'), el('th', { scope: 'col' }, 'Mean chance'), el('th', { scope: 'col' }, 'Admitted'))),
        el('tbody')),
      el('table', { id: 'est-recent' },
        el('caption', { class: 'visually-hidden' }, 'Latest admitted buyers: predicted against actual wait'),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Predicted'), el('th', { scope: 'col' }, '80\u00a0% range'), el('th', { scope: 'col' }, 'Actual'), el('th', { scope: 'col' }, 'Chance'))),
        el('tbody')));
    detail.append(p);
    return p;
  }

  function rows(id, list) {
    const body = $(id).querySelector('tbody');
    body.replaceChildren(...list.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, String(c))))));
  }

  function render(e) {
    if (!panel()) return;
    $('est-n').textContent = '(' + e.predictions + ' buyers recorded)';
    $('est-brier').textContent = num(e.brier, 3);
    $('est-coverage').textContent = pct(e.coverage);
    $('est-pred').textContent = secs(e.meanPredictedWait);
    $('est-actual').textContent = secs(e.meanActualWait);
    $('est-outcomes').textContent = e.admitted + ' admitted, ' + e.missed + ' missed (sold out or ended), ' + e.left + ' left, ' + (e.predictions - e.resolved - e.left) + ' still waiting.';
    rows('est-bands', e.bands.filter((b) => b.n > 0).map((b) => [pct(b.from) + '–' + pct(b.to), b.n, pct(b.meanChance), pct(b.admittedShare)]));
    rows('est-recent', e.recent.slice().reverse().map((r) => [secs(r.etaSeconds), r.etaRange[0] + '–' + r.etaRange[1] + '\u00a0s', secs(r.actualSeconds), pct(r.chance)]));
  }

  async function poll() {
    for (;;) {
      const token = sessionStorage.getItem('fsAdminToken');
      const sale = sessionStorage.getItem('fsConsoleSale');
      const detail = $('detail');
      if (token && sale && detail && !detail.hidden) {
        try {
          const r = await fetch('/v1/admin/sales/' + encodeURIComponent(sale), { headers: { authorization: 'Bearer ' + token } });
          if (r.ok) {
            const body = await r.json();
            if (body.estimates && sessionStorage.getItem('fsConsoleSale') === sale) render(body.estimates);
          }
        } catch {
          // The live channel shows the connection's state; this panel just tries again.
        }
      }
      await new Promise((res) => setTimeout(res, EVERY_MS));
    }
  }

  document.addEventListener('DOMContentLoaded', () => void poll());
})();
