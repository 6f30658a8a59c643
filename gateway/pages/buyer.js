// The buyer page: one WebSocket of the contract (GET /v1/sales/{id}/ws), every frame it can send
// rendered, and a reconnect loop with backoff and jitter. No framework: one state object, one render.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const saleId = decodeURIComponent(location.pathname.split('/')[2] || '');
  const dev = document.querySelector('meta[name="fs-env"]').content === 'development';
  const store = window.sessionStorage;

  // Everything the page shows comes from this object; frames change it, render() draws it.
  const st = {
    sale: null, // last `sale` frame
    phase: 'connecting', // idle | queued | admitted | paying | retry | failed | confirmed | expired | sold_out | left | ended
    position: null, eta: null, holdId: null, expiresAt: null, holdMs: null, reason: '', orderId: null,
  };
  let ws = null;
  let attempt = 0; // reconnects since the last socket that opened
  let failedOpens = 0; // sockets that closed before opening (a refused or expired token looks like this)
  let retryTimer = null;
  let lastAnnounce = 0;
  let lastAnnounced = '';
  let warned30 = false;
  // The socket's proof-of-work: null without a challenge, else { worker, proof, hashes }. A join
  // clicked before the proof is found is sent when it is (joinWhenSolved).
  let pow = null;
  let joinWhenSolved = false;
  let lastJoinHadProof = false;

  const fmtSeconds = (s) => {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
  };
  // A wait is an estimate: whole minutes past the first one, so it fits a phone and does not flicker.
  const fmtWait = (s) => (s < 60 ? Math.max(1, Math.round(s)) + ' s' : s < 3600 ? Math.ceil(s / 60) + ' min' : fmtSeconds(s));
  const clock = (ms) => {
    const s = Math.max(0, Math.ceil(ms / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  };
  const show = (el, on) => { el.hidden = !on; };
  // Position changes are announced at most every 10 s (and on every change of phase), so a screen
  // reader is not talking over the person while the queue moves each second.
  function announce(text, force) {
    if (text === lastAnnounced) return;
    if (!force && Date.now() - lastAnnounce < 10_000) return;
    lastAnnounce = Date.now();
    lastAnnounced = text;
    $('announce').textContent = text;
  }
  function alertText(text) {
    $('alert').textContent = text;
    show($('alert'), Boolean(text));
  }
  function focusHeadline() {
    // Moving focus makes keyboard and screen-reader users notice a change they must act on.
    $('headline').focus({ preventScroll: false });
  }

  const HEADLINES = {
    connecting: ['Connecting…', ''],
    idle: ['Ready when you are', 'Join the queue to get a place in line.'],
    queued: ['You are in line', 'Keep this page open: you will be let in automatically.'],
    admitted: ['Your item is held for you', 'Pay before the time runs out, or it goes to the next person in line.'],
    paying: ['Taking your payment…', 'Do not close this page.'],
    retry: ['Payment declined', ''],
    failed: ['Payment failed', ''],
    confirmed: ['Order confirmed', 'Thank you! A confirmation is on its way.'],
    expired: ['Your hold expired', 'The time to pay ran out and the item went back on sale. You can join the queue again.'],
    // A waiter told sold_out keeps their record and ticket (join-4, admit-8): a restock clears the
    // sold-out flag and the admitter lets the same line in again, in ticket order, with no new join.
    sold_out: ['Sold out', 'Everything has been sold for now. You keep your place in line: if the seller adds units, this page tells you and lets you in automatically, in your turn. Keep it open (or come back to it), or leave to give up your place.'],
    // Sold out before this buyer took a place: there is no place to keep.
    sold_out_no_place: ['Sold out', 'Everything has been sold. If the seller adds units, this page shows it and you can join the queue then.'],
    left: ['You left the sale', 'Your place was given up. You can join again.'],
    ended: ['The sale has ended', ''],
    paused: ['The sale is paused', 'Your place is kept; the queue moves again when the sale resumes.'],
  };

  function render() {
    const sale = st.sale;
    const badge = $('sale-state');
    badge.textContent = sale ? sale.state.replace('_', ' ') : 'connecting';
    badge.dataset.state = sale ? sale.state : 'unknown';
    if (sale) {
      const starts = Date.parse(sale.startsAt);
      $('sale-window').textContent = sale.state === 'scheduled'
        ? 'Opens in ' + fmtSeconds((starts - Date.now()) / 1000) + ' — you can join the queue now.'
        : sale.state === 'ended' ? 'Ended ' + new Date(sale.endsAt).toLocaleString() : 'Open until ' + new Date(sale.endsAt).toLocaleString();
    }
    let phase = st.phase;
    // The sale's own state wins where the buyer has nothing running.
    if (sale && ['idle', 'queued'].includes(phase) && sale.state === 'paused') phase = 'paused';
    if (sale && ['idle', 'queued', 'connecting'].includes(phase) && sale.state === 'ended') phase = 'ended';
    if (sale && phase === 'idle' && sale.state === 'sold_out') phase = 'sold_out_no_place';
    const [head, detail] = HEADLINES[phase] || HEADLINES.connecting;
    $('headline').textContent = head;
    let text = detail;
    if (phase === 'retry') text = 'Your card was declined (' + st.reason + '). Choose another card and pay again while your hold lasts.';
    if (phase === 'failed') text = 'The payment did not go through (' + st.reason + ').';
    $('detail').textContent = text;
    document.body.dataset.phase = phase;

    show($('queue'), phase === 'queued' || phase === 'paused');
    $('position').textContent = st.position == null ? '–' : st.position.toLocaleString();
    $('eta').textContent = st.eta == null ? '–' : '≈ ' + fmtWait(st.eta);
    const holding = phase === 'admitted' || phase === 'paying' || phase === 'retry';
    show($('hold'), holding);
    show($('payform'), phase === 'admitted' || phase === 'retry');
    $('pay').disabled = !ws || ws.readyState !== 1;
    show($('order'), phase === 'confirmed');
    $('order-id').textContent = st.orderId || '';
    const open = ws && ws.readyState === 1;
    const canJoin = ['idle', 'expired', 'left', 'failed'].includes(phase) && !(sale && ['ended', 'sold_out'].includes(sale.state));
    show($('join'), canJoin);
    $('join').textContent = phase === 'idle' ? 'Join the queue' : 'Join again';
    $('join').disabled = !open;
    show($('leave'), ['queued', 'admitted', 'retry', 'paused', 'sold_out'].includes(phase));
    $('leave').disabled = !open;
    tickCountdown();
  }

  function tickCountdown() {
    if (!st.expiresAt || !['admitted', 'paying', 'retry'].includes(st.phase)) return;
    const left = st.expiresAt - Date.now();
    $('countdown').textContent = clock(left);
    $('hold-bar').value = st.holdMs ? Math.max(0, left / st.holdMs) : 0;
    $('hold').classList.toggle('urgent', left < 30_000);
    if (left < 30_000 && left > 0 && !warned30 && st.phase !== 'paying') {
      warned30 = true;
      announce('30 seconds left to pay', true);
    }
  }
  setInterval(() => {
    tickCountdown();
    if (st.sale && st.sale.state === 'scheduled') render();
  }, 250);

  function setPhase(phase) {
    const changed = phase !== st.phase;
    st.phase = phase;
    render();
    if (changed && phase !== 'connecting') {
      announce($('headline').textContent, true);
      if (['admitted', 'retry', 'confirmed', 'expired', 'sold_out', 'failed'].includes(phase)) focusHeadline();
    }
  }

  function onFrame(f) {
    if (window.fsVerify) window.fsVerify.onFrame(f, saleId);
    if (window.fsChance) window.fsChance.onFrame(f);
    if (f.type !== 'error') alertText('');
    switch (f.type) {
      case 'challenge':
        return solve(f.nonce, f.bits);
      case 'sale': {
        const wasSoldOut = st.sale && st.sale.state === 'sold_out';
        st.sale = f;
        if (window.fsProduct) window.fsProduct.onSale(f);
        if (st.phase === 'connecting') st.phase = 'idle';
        // Restocked: units are back and this buyer's place was kept; ask where it stands now.
        if (wasSoldOut && f.state !== 'sold_out' && st.phase === 'sold_out') {
          send({ type: 'status' });
          announce('More units were added. You still have your place in line.', true);
        }
        return render();
      }
      case 'queued':
        st.position = f.position; st.eta = f.etaSeconds;
        if (st.phase !== 'queued') return setPhase('queued');
        render();
        return announce('Position ' + f.position + ', about ' + fmtSeconds(f.etaSeconds) + ' to wait');
      case 'admitted':
        if (f.holdId !== st.holdId) warned30 = false;
        st.holdId = f.holdId; st.expiresAt = Date.parse(f.expiresAt);
        // The hold's length is not in the frame: measured from the first time this hold is seen.
        st.holdMs = store.getItem('fsHoldMs:' + f.holdId) ? Number(store.getItem('fsHoldMs:' + f.holdId)) : Math.max(1, st.expiresAt - Date.now());
        store.setItem('fsHoldMs:' + f.holdId, String(st.holdMs));
        return setPhase('admitted');
      case 'payment_pending':
        st.holdId = f.holdId;
        return setPhase('paying');
      case 'payment_failed':
        st.reason = f.reason;
        return setPhase(f.retryable && st.expiresAt > Date.now() ? 'retry' : 'failed');
      case 'order_confirmed':
        st.orderId = f.orderId; st.holdId = f.holdId;
        return setPhase('confirmed');
      case 'hold_expired': return setPhase('expired');
      case 'sold_out': return setPhase('sold_out');
      case 'left': return setPhase('left');
      case 'error':
        // purchase_limit_reached is a final answer: this buyer already has what the sale allows.
        if (f.code === 'purchase_limit_reached') { st.reason = f.message; return setPhase('confirmed'); }
        if (f.code === 'hold_ended') st.phase = 'expired';
        // A challenge comes with it (or is being solved): the join goes again once it is answered.
        // (A join sent before the challenge arrived, or the sale started asking for one after this page connected.)
        if (f.code === 'challenge_failed') {
          if (pow && pow.proof !== null && !lastJoinHadProof) return join();
          joinWhenSolved = true;
          return powLine('Checking you are not a bot…');
        }
        alertText(f.message);
        return render();
    }
  }

  function send(frame) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  function powLine(text) {
    $('pow').textContent = text;
    show($('pow'), Boolean(text));
  }

  // A `challenge` (sent on connect, or after a refused join when the sale started asking for one):
  // solved in a Web Worker with WebCrypto; one per socket, a new socket brings a new nonce.
  function solve(nonce, bits) {
    if (pow && pow.worker) pow.worker.terminate();
    if (!window.Worker || !window.crypto || !window.crypto.subtle) {
      pow = { worker: null, proof: null, hashes: 0 };
      return powLine('This browser cannot do the check this sale asks for (it needs a secure https page).');
    }
    const worker = new Worker('/assets/pow-worker.js');
    const mine = { worker, proof: null, hashes: 0 };
    pow = mine;
    powLine('Checking you are not a bot… 0 hashes');
    worker.onmessage = (e) => {
      if (pow !== mine) return;
      mine.hashes = e.data.hashes;
      if (e.data.type === 'progress') return powLine('Checking you are not a bot… ' + mine.hashes.toLocaleString('en') + ' hashes');
      mine.proof = e.data.proof;
      mine.worker = null;
      worker.terminate();
      powLine('Checked: ' + mine.hashes.toLocaleString('en') + ' hashes. You can join.');
      if (joinWhenSolved) join();
    };
    worker.postMessage({ nonce, bits });
  }

  function join() {
    if (pow && pow.proof === null) {
      joinWhenSolved = true;
      return powLine($('pow').textContent || 'Checking you are not a bot…');
    }
    joinWhenSolved = false;
    lastJoinHadProof = Boolean(pow);
    send(pow ? { type: 'join', proof: pow.proof } : { type: 'join' });
  }

  function setConn(state, text) {
    $('conn').dataset.conn = state;
    $('conn').textContent = text;
  }

  function connect() {
    clearTimeout(retryTimer);
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const token = store.getItem('fsBuyerToken');
    let opened = false;
    setConn('connecting', attempt ? 'Reconnecting…' : 'Connecting…');
    ws = new WebSocket(proto + '://' + location.host + '/v1/sales/' + encodeURIComponent(saleId) + '/ws?token=' + encodeURIComponent(token));
    // A new socket, a new challenge (if the sale asks for one): the last socket's proof is worth nothing.
    if (pow && pow.worker) pow.worker.terminate();
    pow = null;
    powLine('');
    ws.onopen = () => {
      opened = true; attempt = 0; failedOpens = 0;
      setConn('open', 'Connected');
      render();
    };
    // On (re)connect the gateway sends the sale frame and then this buyer's state: place, hold or order.
    ws.onmessage = (e) => {
      try { onFrame(JSON.parse(e.data)); } catch (err) { console.error('bad frame', err); }
    };
    ws.onclose = () => {
      ws = null;
      if (!opened) failedOpens++;
      render();
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
      // A socket that keeps closing before it opens may carry an expired demo token: mint a new one.
      if (dev && failedOpens >= 3 && store.getItem('fsBuyerName')) await mint(store.getItem('fsBuyerName')).catch(() => {});
      connect();
    }, delay);
  }
  window.addEventListener('online', () => { if (!ws) { attempt = 0; connect(); } });

  async function mint(name) {
    const r = await fetch('/dev/buyer-token?buyer=' + encodeURIComponent(name));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || 'could not get a buyer token');
    store.setItem('fsBuyerToken', body.token);
    store.setItem('fsBuyerName', body.buyer);
  }

  $('signin').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('buyer-name').value.trim();
    try {
      await mint(name);
      start();
    } catch (err) {
      alertText(err.message);
      $('buyer-name').focus();
    }
  });
  $('join').addEventListener('click', () => join());
  $('leave').addEventListener('click', () => send({ type: 'leave' }));
  $('payform').addEventListener('submit', (e) => {
    e.preventDefault();
    const checked = document.querySelector('input[name="pm"]:checked');
    const pm = dev ? checked && checked.value : $('pm-id').value.trim();
    if (!pm || !/^pm_[A-Za-z0-9_]{1,120}$/.test(pm)) return alertText('Choose a payment method.');
    send({ type: 'pay', holdId: st.holdId, paymentMethod: pm });
  });
  $('switch-buyer').addEventListener('click', () => {
    store.removeItem('fsBuyerToken'); store.removeItem('fsBuyerName');
    location.reload();
  });

  function start() {
    show($('signin'), false);
    show($('panel'), true);
    show($('test-cards'), dev);
    show($('pm-field'), !dev);
    show($('switch-buyer'), dev && Boolean(store.getItem('fsBuyerName')));
    $('title').textContent = 'Sale ' + saleId;
    render();
    connect();
  }

  // A token in the link (from the shop) is kept for this tab only and removed from the address bar.
  const params = new URLSearchParams(location.search);
  if (params.get('token')) {
    store.setItem('fsBuyerToken', params.get('token'));
    store.removeItem('fsBuyerName');
    history.replaceState(null, '', location.pathname);
  }
  if (store.getItem('fsBuyerToken')) start();
  else if (dev) {
    $('buyer-name').value = 'buyer-' + Math.random().toString(36).slice(2, 8);
    show($('signin'), true);
    setConn('idle', 'Not connected');
  } else {
    show($('no-token'), true);
    setConn('idle', 'Not connected');
  }
})();
