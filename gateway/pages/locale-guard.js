// Loaded before every other script of a page. Chromium started under a POSIX locale (LANG=C) reports
// navigator.language as e.g. 'en-US@posix', which Intl rejects ("Invalid language tag"): uPlot formats
// numbers with it while it loads, so the console's chart would stay blank. Where the browser's language
// is not a tag Intl takes, the page sees the nearest one that is (the tag without its '@' part, or
// 'en-US'); any valid language is left alone.
(function () {
  'use strict';
  var valid = function (tag) {
    try {
      new Intl.NumberFormat(tag);
      return true;
    } catch {
      return false;
    }
  };
  var lang = navigator.language;
  if (valid(lang)) return;
  var stripped = String(lang || '').split('@')[0].replace(/_/g, '-');
  var safe = valid(stripped) && stripped ? stripped : 'en-US';
  Object.defineProperty(Navigator.prototype, 'language', { get: function () { return safe; }, configurable: true });
  Object.defineProperty(Navigator.prototype, 'languages', { get: function () { return [safe]; }, configurable: true });
})();
