// The buyer page's proof-of-work (the contract's `challenge`): finds a proof such that
// SHA-256(nonce + proof) starts with `bits` zero bits, off the page's thread so the page stays live.
// WebCrypto is asynchronous, so hashes are asked for in batches; progress is posted about 5 times a second.
'use strict';
const BATCH = 512;
const enc = new TextEncoder();

function zeroBits(d) {
  let n = 0;
  for (let i = 0; i < d.length; i++) {
    if (d[i] === 0) { n += 8; continue; }
    return n + Math.clz32(d[i]) - 24;
  }
  return n;
}

self.onmessage = async (e) => {
  const { nonce, bits } = e.data;
  let lastPost = 0;
  for (let n = 0; ; n += BATCH) {
    const batch = [];
    for (let k = 0; k < BATCH; k++) batch.push(crypto.subtle.digest('SHA-256', enc.encode(nonce + String(n + k))));
    const digests = await Promise.all(batch);
    for (let k = 0; k < BATCH; k++) {
      if (zeroBits(new Uint8Array(digests[k])) >= bits) {
        self.postMessage({ type: 'solved', proof: String(n + k), hashes: n + k + 1 });
        return;
      }
    }
    if (Date.now() - lastPost > 200) {
      lastPost = Date.now();
      self.postMessage({ type: 'progress', hashes: n + BATCH });
    }
  }
};
