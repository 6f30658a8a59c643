// The sale's proof-of-work on the buyer page: a `challenge` (sent on connect, or after a refused join
// when the sale started asking for one) solved in a Web Worker (pow-worker.js) with WebCrypto, one per
// socket (a new socket brings a new nonce), and the join that waits for its proof. buyer.js hands it
// the challenge frames, every new socket (reset) and the join button; attach(send) is how a join leaves.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let send = () => {};
  // The socket's proof-of-work: null without a challenge, else { worker, proof, hashes }. A join
  // clicked before the proof is found is sent when it is (joinWhenSolved).
  let pow = null;
  let joinWhenSolved = false;
  let lastJoinHadProof = false;

  function powLine(text) {
    $('pow').textContent = text;
    $('pow').hidden = !text;
  }

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

  // A new socket, a new challenge (if the sale asks for one): the last socket's proof is worth nothing.
  function reset() {
    if (pow && pow.worker) pow.worker.terminate();
    pow = null;
    powLine('');
  }

  // A join refused with challenge_failed: a challenge comes with it (or is being solved), and the join
  // goes again once it is answered. (A join sent before the challenge arrived, or the sale started
  // asking for one after this page connected.)
  function refused() {
    if (pow && pow.proof !== null && !lastJoinHadProof) return join();
    joinWhenSolved = true;
    return powLine('Checking you are not a bot…');
  }

  window.fsPow = { attach: (fn) => { send = fn; }, solve, join, reset, refused };
})();
