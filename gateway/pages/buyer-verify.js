// "Verify my place" on the buyer page: the contract's verifiable pre-queue checked in the browser.
// The commitment is remembered from the first sale frame this tab saw (before the start); after the
// seal GET /v1/sales/{id}/prequeue publishes the key and the order, and the page checks, on its own:
// SHA-256(key) == that commitment, the order is sorted, and order[ticket - 1] == HMAC-SHA256(key, my id)'s
// first 13 hex digits (my id: the `sub` of my buyer token). buyer.js passes every frame to onFrame.
'use strict';
(() => {
  const store = window.sessionStorage;
  const enc = new TextEncoder();
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  let saleId = '';
  let ticket = null;
  let started = false;
  let result = '';

  function sub() {
    const token = store.getItem('fsBuyerToken') || '';
    const part = token.split('.')[1] || '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))).sub;
  }

  function show(state, text) {
    const el = document.getElementById('verify');
    if (!el) return;
    el.hidden = false;
    el.dataset.result = state;
    document.getElementById('verify-result').textContent = text;
    document.getElementById('verify-button').hidden = !started || ticket == null;
  }

  async function verify() {
    const commitment = store.getItem('fsCommitment:' + saleId);
    if (!commitment || ticket == null) return show('na', 'Nothing to verify yet.');
    const r = await fetch('/v1/sales/' + encodeURIComponent(saleId) + '/prequeue');
    const body = await r.json();
    if (!r.ok || !body.key) return show('pending', 'The draw is not published yet; checking again shortly.');
    const keyHash = hex(await crypto.subtle.digest('SHA-256', enc.encode(body.key)));
    if (keyHash !== commitment) return show('mismatch', 'Mismatch: the published key is not the one committed to before the start.');
    const order = body.order;
    for (let i = 1; i < order.length; i++) if (order[i - 1] > order[i]) return show('mismatch', 'Mismatch: the published order is not sorted.');
    if (ticket > order.length) return show('na', 'You joined after the draw: your place is by arrival time.');
    const key = await crypto.subtle.importKey('raw', enc.encode(body.key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mine = hex(await crypto.subtle.sign('HMAC', key, enc.encode(sub()))).slice(0, 13);
    if (order[ticket - 1] !== mine) return show('mismatch', 'Mismatch: ticket ' + ticket + ' does not carry your score ' + mine + '.');
    show('ok', 'Verified: ticket ' + ticket + ' of ' + order.length + ' in the draw, your score ' + mine + '.');
  }

  function check() {
    if (result === 'ok') return;
    verify().catch((err) => show('mismatch', 'Could not verify: ' + err.message)).then(() => {
      result = document.getElementById('verify') ? document.getElementById('verify').dataset.result : '';
      // Published a moment after the start (the admitter's next tick): ask again.
      if (result === 'pending') setTimeout(check, 2000);
    });
  }

  window.fsVerify = {
    onFrame(f, id) {
      saleId = id;
      if (f.type === 'sale') {
        // The first commitment seen wins: a later one that differs is what the check must catch.
        if (f.prequeueCommitment && !store.getItem('fsCommitment:' + id)) store.setItem('fsCommitment:' + id, f.prequeueCommitment);
        started = f.state !== 'scheduled';
      }
      if (f.type === 'queued' && Number.isInteger(f.ticket)) {
        ticket = f.ticket;
        if (started && result !== 'ok') { result = ''; check(); }
      }
      if (started && ticket != null) show(result || 'idle', document.getElementById('verify-result').textContent || '');
    },
    verify: () => { result = ''; check(); },
  };
  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('verify-button').addEventListener('click', () => window.fsVerify.verify());
  });
})();
