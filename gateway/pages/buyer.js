// The buyer page: every frame the contract's WebSocket can send rendered, and the buttons and forms
// that answer it. No framework: one state object, one render. The socket and its reconnect loop are
// buyer-socket.js, the proof-of-work buyer-pow.js, the words buyer-text.js (all loaded before this).
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
  const { HEADLINES, fmtSeconds, fmtWait, clock } = window.fsText;
  const sock = window.fsSocket;
  const pow = window.fsPow;
  const send = (frame) => sock.send(frame);
  let lastAnnounce = 0;
  let lastAnnounced = '';
  let warned30 = false;

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
    $('pay').disabled = !sock.isOpen();
    show($('order'), phase === 'confirmed');
    $('order-id').textContent = st.orderId || '';
    const open = sock.isOpen();
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
        return pow.solve(f.nonce, f.bits);
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
        // The join goes again once the challenge that comes with it is answered (buyer-pow.js).
        if (f.code === 'challenge_failed') return pow.refused();
        alertText(f.message);
        return render();
    }
  }

  async function mint(name) {
    const r = await fetch('/dev/buyer-token?buyer=' + encodeURIComponent(name));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error && body.error.message) || 'could not get a buyer token');
    store.setItem('fsBuyerToken', body.token);
    store.setItem('fsBuyerName', body.buyer);
  }

  pow.attach(send);
  sock.init({
    saleId, onFrame, onChange: render, onNewSocket: pow.reset,
    // A socket that keeps closing before it opens may carry an expired demo token: mint a new one.
    renewToken: () => (dev && store.getItem('fsBuyerName') ? mint(store.getItem('fsBuyerName')) : null),
  });

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
  $('join').addEventListener('click', () => pow.join());
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
    sock.connect();
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
    sock.setConn('idle', 'Not connected');
  } else {
    show($('no-token'), true);
    sock.setConn('idle', 'Not connected');
  }
})();
