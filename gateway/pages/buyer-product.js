// What the buyer page sells: the product name, its price in the buyer's locale and the sale's
// currency, and the sale window in the buyer's local time, all from the contract's `sale` frame.
// buyer.js hands every `sale` frame to window.fsProduct.onSale.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // navigator.language is made a tag Intl accepts by locale-guard.js, loaded first.
  const locale = () => navigator.language || 'en-US';

  /**
   * Money is an integer in the currency's minor unit (contract): how many minor digits a currency has
   * is Intl's knowledge (EUR 2, JPY 0, KWD 3), so 12000 eur is 120.00 and 12000 jpy is 12,000.
   */
  function formatPrice(price, tag) {
    const currency = String(price.currency).toUpperCase();
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    return new Intl.NumberFormat(tag, { style: 'currency', currency }).format(price.amount / 10 ** digits);
  }

  function formatWindow(startsAt, endsAt, tag) {
    const f = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short' });
    // formatRange drops what both ends share (the date of a one-day sale); older browsers lack it.
    const start = new Date(startsAt);
    const end = new Date(endsAt);
    return typeof f.formatRange === 'function' ? f.formatRange(start, end) : f.format(start) + ' – ' + f.format(end);
  }

  function onSale(f) {
    if (!f || typeof f.name !== 'string') return;
    const tag = locale();
    $('title').textContent = f.name;
    document.title = f.name + ' — flash sale';
    $('product-name').textContent = f.name;
    try {
      $('product-price').textContent = f.price ? formatPrice(f.price, tag) : '';
    } catch {
      // An unknown currency code: show the minor units as sent rather than nothing.
      $('product-price').textContent = f.price ? f.price.amount + ' ' + String(f.price.currency).toUpperCase() + ' (minor units)' : '';
    }
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    $('product-window').textContent = 'Sale window: ' + formatWindow(f.startsAt, f.endsAt, tag) + (tz ? ' (' + tz + ')' : '');
    $('product').hidden = false;
  }

  window.fsProduct = { onSale, formatPrice, formatWindow };
})();
