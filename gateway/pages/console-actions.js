// The console's operator actions: pause, resume and end the selected sale, restock it, tune it, create
// a sale, each through the contract's operator API, behind a confirm dialog where it cannot be undone,
// with the server's validation messages under their fields. console.js binds it once and gets act()
// back (the dead-letter replay buttons use it).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);

  /** api(method, path, body), selected() the selected sale's id, select(id), showError(text), say(text). */
  function bind({ api, selected, select, showError, say }) {
    function confirmDialog(text) {
      $('confirm-text').textContent = text;
      const d = $('confirm');
      d.returnValue = '';
      d.showModal();
      $('confirm-cancel').focus(); // the safe choice has the focus
      return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
    }

    /** Shows the server's validation messages under their fields (the zod schema is the one truth). */
    function fieldErrors(form, prefix, res) {
      for (const el of form.querySelectorAll('.err')) el.textContent = '';
      for (const el of form.querySelectorAll('input')) el.removeAttribute('aria-invalid');
      if (res.status < 400) return false;
      const err = (res.body && res.body.error) || { message: 'request failed (' + res.status + ')' };
      let placed = false;
      for (const d of err.details || []) {
        const slot = $(prefix + d.path + '-err');
        if (!slot) continue;
        slot.textContent = d.message;
        const input = form.querySelector('[name="' + d.path + '"]');
        if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', slot.id); }
        placed = true;
      }
      showError(placed ? 'Please correct the marked fields.' : err.message);
      return true;
    }

    async function act(question, method, path, body) {
      if (question && !(await confirmDialog(question))) return null;
      const r = await api(method, path, body);
      if (r.status >= 400) showError(r.body && r.body.error ? r.body.error.message : 'failed (' + r.status + ')');
      else { showError(''); say('Done: ' + method + ' ' + path); }
      return r;
    }

    const salePath = (verb) => '/v1/admin/sales/' + encodeURIComponent(selected()) + (verb ? '/' + verb : '');
    $('b-pause').onclick = () => act(null, 'POST', salePath('pause'));
    $('b-resume').onclick = () => act(null, 'POST', salePath('resume'));
    $('b-end').onclick = () => act('End sale ' + selected() + '? Waiting buyers are told it has ended. This cannot be undone.', 'POST', salePath('end'));
    const num = (v) => (v === '' ? undefined : Number(v));

    $('restock').onsubmit = async (e) => {
      e.preventDefault();
      const quantity = num($('r-qty').value);
      if (!(await confirmDialog('Add ' + quantity + ' units to sale ' + selected() + '? Stock cannot be taken back.'))) return;
      fieldErrors(e.target, 'r-', await api('POST', salePath('restock'), { quantity }));
    };
    $('tune').onsubmit = async (e) => {
      e.preventDefault();
      const body = { admitPerSecond: num($('t-rate').value), maxActiveHolds: num($('t-max').value), holdSeconds: num($('t-hold').value) };
      const r = await api('PATCH', salePath(), body);
      if (!fieldErrors(e.target, 't-', r)) { showError(''); say('Tuning applied'); }
    };
    $('create').onsubmit = async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const body = {};
      for (const [k, v] of f) {
        if (v === '') continue;
        const value = ['name', 'sku', 'id', 'price.currency'].includes(k) ? v : k.endsWith('At') ? new Date(v).toISOString() : Number(v);
        if (k.startsWith('price.')) (body.price ??= {})[k.slice(6)] = value;
        else body[k] = value;
      }
      const r = await api('POST', '/v1/admin/sales', body);
      if (!fieldErrors(e.target, 'c-', r)) {
        showError('');
        say('Created sale ' + r.body.id);
        $('create-box').open = false;
        select(r.body.id);
      }
    };

    return { act };
  }

  window.FlashSaleActions = { bind };
})();
