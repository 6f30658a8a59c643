// The honest part of a place in the queue, on the buyer page: the 80 % range of the wait and the
// chance that a unit is left for this place (the contract's `queued.etaRange` and `queued.chance`).
// Under 5 % the buyer is told early that it is unlikely, and that keeping the place (for a restock)
// or leaving are both fine. buyer.js passes every frame to onFrame; this file owns its own lines.
'use strict';
(() => {
  const UNLIKELY = 0.05;
  const wait = (s) => (s < 60 ? Math.max(0, Math.round(s)) + ' s' : s < 3600 ? Math.ceil(s / 60) + ' min' : Math.floor(s / 3600) + ' h ' + String(Math.ceil((s % 3600) / 60)).padStart(2, '0') + ' min');
  const percent = (p) => (p > 0 && p < 0.01 ? 'under 1\u00a0%' : p > 0.99 && p < 1 ? 'over 99\u00a0%' : Math.round(p * 100) + '\u00a0%');
  let lastUnlikely = false;

  /** The two lines live right after the queue figures; made once, when the first place arrives. */
  function lines() {
    let box = document.getElementById('chance-box');
    if (box) return box;
    const queue = document.getElementById('queue');
    if (!queue) return null;
    box = document.createElement('div');
    box.id = 'chance-box';
    box.className = 'stack';
    box.hidden = true;
    const range = document.createElement('p');
    range.id = 'eta-range';
    range.className = 'muted';
    const chance = document.createElement('p');
    chance.id = 'chance';
    chance.className = 'muted';
    const unlikely = document.createElement('p');
    unlikely.id = 'unlikely';
    unlikely.className = 'notice';
    unlikely.setAttribute('role', 'status');
    unlikely.hidden = true;
    box.append(range, chance, unlikely);
    queue.after(box);
    return box;
  }

  function onFrame(f) {
    if (f.type === 'sale' || f.type === 'challenge' || f.type === 'error') return;
    const box = lines();
    if (!box) return;
    if (f.type !== 'queued' || typeof f.chance !== 'number' || !Array.isArray(f.etaRange)) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const [low, high] = f.etaRange;
    document.getElementById('eta-range').textContent = low === high ? 'Most likely wait: ' + wait(low) : '8 times in 10 the wait from this place is ' + wait(low) + ' to ' + wait(high) + '.';
    document.getElementById('chance').textContent = 'Chance a unit is left for your place: ' + percent(f.chance) + '.';
    const unlikely = f.chance < UNLIKELY;
    const el = document.getElementById('unlikely');
    el.hidden = !unlikely;
    // Said once when it becomes true (role=status reads it), not re-announced on every position push.
    if (unlikely && !lastUnlikely) el.textContent = 'Unlikely — from this place a unit will probably not be left for you. You may keep your place in case of a restock, or leave.';
    lastUnlikely = unlikely;
  }

  window.fsChance = { onFrame };
})();
