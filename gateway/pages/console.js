// The operator console: the contract's operator API for actions, and the gateway's live channel
// (GET /v1/admin/live, Server-Sent Events read with fetch so the token stays in a header) for numbers.
// The actions themselves (controls, restock, tuning, new sale) are console-actions.js, loaded before it.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const { StockHistory, BurnDownChart } = window.FlashSaleChart;
  const STATE_ORDER = { open: 0, paused: 1, scheduled: 2, sold_out: 3, ended: 4 };
  let token = sessionStorage.getItem('fsAdminToken') || '';
  const sales = new Map(); // id -> latest SaleLive
  const history = new StockHistory();
  let selected = sessionStorage.getItem('fsConsoleSale') || '';
  let chart = null;
  let stream = null; // the live channel ({ close })
  let lastEventAt = 0;
  let frame = 0;
  let deadLetters = [];
  let tunedFor = ''; // the tuning form is filled once per selected sale, not over the operator's typing

  const fmt = (n) => (n == null ? '–' : Number(n).toLocaleString());
  const say = (text) => { $('toast').textContent = text; };
  function showError(text) {
    $('msg').textContent = text;
    $('msg').hidden = !text;
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { authorization: 'Bearer ' + token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const out = await res.json().catch(() => null);
    if (res.status === 401) signOut('The admin token was refused.');
    return { status: res.status, body: out };
  }

  // ---- live channel (console-live.js): one stream, reconnected with backoff and jitter ----
  function openLive() {
    stream = window.FlashSaleLive.open({
      token,
      onEvent,
      onState: setLive,
      onRefused: () => signOut('The admin token was refused.'),
    });
  }

  function onEvent(type, data) {
    lastEventAt = Date.now();
    if (type === 'sale') {
      sales.set(data.id, data);
      history.push(data.id, Date.parse(data.at), data.stats);
    } else if (type === 'history') {
      // Sent on connect: the sale's last five minutes, so the chart is full even when opened mid-sale.
      history.seed(data.id, data.samples);
    } else if (type === 'tick') {
      const alive = new Set(data.sales);
      for (const id of sales.keys()) if (!alive.has(id)) sales.delete(id);
    }
    schedule();
  }

  function setLive(state, text) {
    $('live').dataset.conn = state;
    $('live').textContent = text;
  }

  // ---- rendering: at most once per animation frame, whatever the event rate ----
  function schedule() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; render(); });
  }

  function render() {
    const age = (Date.now() - lastEventAt) / 1000;
    if (lastEventAt) setLive(age > 3 ? 'retrying' : 'open', age > 3 ? 'Live data is ' + Math.round(age) + ' s old' : 'Live');
    renderTable();
    renderDetail();
  }

  function renderTable() {
    const list = [...sales.values()].sort((a, b) => (STATE_ORDER[a.stats.state] - STATE_ORDER[b.stats.state]) || b.startsAt.localeCompare(a.startsAt));
    const body = document.querySelector('#sales tbody');
    const rows = new Map([...body.rows].map((tr) => [tr.dataset.id, tr]));
    list.forEach((s, i) => {
      let tr = rows.get(s.id);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.id = s.id;
        tr.tabIndex = 0;
        tr.innerHTML = '<td></td>' + '<td></td>'.repeat(7);
      }
      rows.delete(s.id);
      const cells = [s.id, s.stats.state.replace('_', ' '), fmt(s.stats.stock), fmt(s.stats.available), fmt(s.stats.held), fmt(s.stats.paying), fmt(s.stats.sold), fmt(s.stats.waiting)];
      cells.forEach((c, j) => { if (tr.cells[j].textContent !== c) tr.cells[j].textContent = c; });
      tr.setAttribute('aria-selected', String(s.id === selected));
      if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
    });
    for (const tr of rows.values()) tr.remove();
    if (!selected && list[0]) select(list[0].id);
  }

  function renderDetail() {
    const s = sales.get(selected);
    $('detail').hidden = !s;
    if (!s) return;
    const st = s.stats;
    $('d-name').textContent = s.name + ' (' + s.id + ')';
    $('d-state').textContent = st.state.replace('_', ' ');
    $('d-state').dataset.state = st.state;
    $('d-sub').textContent = 'Admit ' + s.settings.admitPerSecond + '/s · at most ' + fmt(s.settings.maxActiveHolds) + ' holds · ' + s.settings.holdSeconds + ' s to pay · ' + s.settings.pools + ' pools';
    const set = (id, v) => { if ($(id).textContent !== v) $(id).textContent = v; };
    // A quarantined sale is paused until its ledger fits its stock again: say why, and since when.
    const q = s.quarantine;
    $('d-quarantine').hidden = !q;
    set('d-quarantine', q ? 'Quarantined since ' + new Date(q.since).toLocaleString() + ': ' + q.reason + '. Resume is refused until the ledger fits the stock (a restock moves it).' : '');
    set('k-waiting', fmt(st.waiting));
    // After a sell-out the waiting room keeps its tickets (a restock admits them again).
    set('k-waiting-label', st.state === 'sold_out' || st.state === 'ended' ? 'Still in the waiting room' : 'Waiting');
    set('k-rate', fmt(s.admissionRate));
    set('k-soldrate', fmt(s.soldRate));
    set('k-available', fmt(st.available));
    set('k-held', fmt(st.held));
    set('k-paying', fmt(st.paying));
    set('k-sold', fmt(st.sold));
    set('k-sellout', s.soldOutAt ? 'sold out ' + new Date(s.soldOutAt).toLocaleTimeString() : s.projectedSellOutAt ? '≈ ' + new Date(s.projectedSellOutAt).toLocaleTimeString() : st.state === 'ended' ? 'ended' : '–');
    if (!chart) chart = new BurnDownChart($('chart'));
    chart.show(history.get(s.id));
    renderAges(s);
    $('b-pause').disabled = st.state !== 'open' && st.state !== 'scheduled' && st.state !== 'sold_out';
    $('b-resume').disabled = st.state !== 'paused';
    $('b-end').disabled = st.state === 'ended';
    if (tunedFor !== s.id) {
      tunedFor = s.id;
      $('t-rate').value = s.settings.admitPerSecond;
      $('t-max').value = s.settings.maxActiveHolds;
      $('t-hold').value = s.settings.holdSeconds;
    }
    renderDeadLetters();
  }

  function renderAges(s) {
    const max = Math.max(1, ...s.holdsByAge.map((b) => b.held + b.paying));
    const total = s.holdsByAge.reduce((n, b) => n + b.held + b.paying, 0);
    $('ages-total').textContent = '(' + fmt(total) + ' active)';
    $('ages').innerHTML = '';
    for (const b of s.holdsByAge) {
      const row = document.createElement('div');
      row.className = 'age-row';
      row.innerHTML = '<span></span><div class="age-bar" aria-hidden="true"><span style="background:var(--held)"></span><span style="background:var(--paying)"></span></div><output></output>';
      row.children[0].textContent = b.fromSeconds + '–' + b.toSeconds + ' s';
      row.children[1].children[0].style.width = (100 * b.held) / max + '%';
      row.children[1].children[1].style.width = (100 * b.paying) / max + '%';
      row.children[2].textContent = fmt(b.held + b.paying);
      row.title = b.held + ' held, ' + b.paying + ' paying';
      $('ages').append(row);
    }
  }

  function renderDeadLetters() {
    const mine = deadLetters.filter((d) => d.saleId === selected);
    $('dl-count').textContent = '(' + mine.length + ')';
    $('dl-none').hidden = mine.length > 0;
    $('dl').hidden = mine.length === 0;
    const body = document.querySelector('#dl tbody');
    const key = mine.map((d) => d.id + d.attempts).join();
    if (body.dataset.key === key) return;
    body.dataset.key = key;
    body.innerHTML = '';
    for (const d of mine.slice(0, 20)) {
      const tr = body.insertRow();
      tr.insertCell().textContent = d.holdId;
      tr.insertCell().textContent = d.reason;
      tr.insertCell().textContent = d.attempts;
      const b = document.createElement('button');
      b.textContent = 'Replay';
      b.onclick = () => act('Replay the payment of hold ' + d.holdId + '? It is tried again with the same idempotency key.', 'POST', '/v1/admin/dead-letters/' + encodeURIComponent(d.id) + '/replay');
      tr.insertCell().append(b);
    }
  }

  async function pollDeadLetters() {
    while (token) {
      const r = await api('GET', '/v1/admin/dead-letters').catch(() => null);
      if (r && r.status === 200) { deadLetters = r.body.deadLetters; schedule(); }
      await new Promise((res) => setTimeout(res, 5000));
    }
  }

  function select(id) {
    selected = id;
    sessionStorage.setItem('fsConsoleSale', id);
    schedule();
  }
  document.querySelector('#sales tbody').addEventListener('click', (e) => { const tr = e.target.closest('tr'); if (tr) select(tr.dataset.id); });
  document.querySelector('#sales tbody').addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr');
    if (tr && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); select(tr.dataset.id); }
  });

  const { act } = window.FlashSaleActions.bind({ api, selected: () => selected, select, showError, say });

  // ---- sign in / out ----
  function signOut(why) {
    token = '';
    sessionStorage.removeItem('fsAdminToken');
    if (stream) stream.close();
    $('app').hidden = true;
    $('login').hidden = false;
    $('signout').hidden = true;
    setLive('idle', 'Not connected');
    showError(why || '');
  }
  function signIn() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    showError('');
    openLive();
    pollDeadLetters();
    window.FlashSaleFunnel.watch($('funnel'), () => ({ token, saleId: selected }));
  }
  $('login').onsubmit = (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    if (!token) return showError('Type the admin token.');
    sessionStorage.setItem('fsAdminToken', token);
    $('token').value = '';
    signIn();
  };
  $('signout').onclick = () => signOut('');
  setInterval(() => { if (token && lastEventAt) render(); }, 1000); // keeps "data is N s old" honest
  if (token) signIn();
})();
