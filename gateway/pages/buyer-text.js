// What the buyer page says: the headline and detail line of each phase, and how durations are
// written (a wait, a countdown). No state; buyer.js reads window.fsText when it renders.
'use strict';
(() => {
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

  window.fsText = { HEADLINES, fmtSeconds, fmtWait, clock };
})();
