// The buyer page's one WebSocket of the contract (GET /v1/sales/{id}/ws, the buyer token from this
// tab's sessionStorage) and its reconnect loop with backoff and jitter; the connection line in the
// footer is its own. buyer.js gives it its hooks once (init) and opens it when there is a token (connect).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let ws = null;
  let attempt = 0; // reconnects since the last socket that opened
  let failedOpens = 0; // sockets that closed before opening (a refused or expired token looks like this)
  let retryTimer = null;
  let hooks = null; // { saleId, onFrame(f), onChange(), onNewSocket(), renewToken() -> promise | null }

  function setConn(state, text) {
    $('conn').dataset.conn = state;
    $('conn').textContent = text;
  }

  function connect() {
    clearTimeout(retryTimer);
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const token = window.sessionStorage.getItem('fsBuyerToken');
    let opened = false;
    setConn('connecting', attempt ? 'Reconnecting…' : 'Connecting…');
    ws = new WebSocket(proto + '://' + location.host + '/v1/sales/' + encodeURIComponent(hooks.saleId) + '/ws?token=' + encodeURIComponent(token));
    hooks.onNewSocket();
    ws.onopen = () => {
      opened = true; attempt = 0; failedOpens = 0;
      setConn('open', 'Connected');
      hooks.onChange();
    };
    // On (re)connect the gateway sends the sale frame and then this buyer's state: place, hold or order.
    ws.onmessage = (e) => {
      try { hooks.onFrame(JSON.parse(e.data)); } catch (err) { console.error('bad frame', err); }
    };
    ws.onclose = () => {
      ws = null;
      if (!opened) failedOpens++;
      hooks.onChange();
      scheduleReconnect();
    };
  }

  // Exponential backoff (0.5 s, 1 s, 2 s … 30 s) with full jitter, so thousands of pages that lost the
  // same gateway do not all come back in the same instant.
  function scheduleReconnect() {
    const base = Math.min(30_000, 500 * 2 ** attempt);
    const delay = Math.round(base * (0.5 + Math.random()));
    attempt++;
    setConn('retrying', 'Connection lost — reconnecting in ' + Math.ceil(delay / 1000) + ' s');
    retryTimer = setTimeout(async () => {
      // A socket that keeps closing before it opens may carry an expired token: the page may renew it.
      const renewed = failedOpens >= 3 ? hooks.renewToken() : null;
      if (renewed) await renewed.catch(() => {});
      connect();
    }, delay);
  }
  window.addEventListener('online', () => { if (!ws) { attempt = 0; connect(); } });

  window.fsSocket = {
    init: (h) => { hooks = h; },
    connect,
    setConn,
    isOpen: () => Boolean(ws && ws.readyState === 1),
    send(frame) {
      if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
    },
  };
})();
