import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, BUYER_SECRET, type Stack } from '../tests/helpers/stack.js';
import { saleInput, uniqueId } from '../tests/helpers/env.js';
import { mintBuyerToken } from '../shared/buyer-token.js';

/*
 * A freshly upgraded buyer socket must not be closed by the server right after `open`. Under load the
 * gateway used to close about one new socket in a few thousand (server log: OPEN then CLOSE 1006 in
 * the same millisecond; tests/race saw it as a buyer with no frame at all): the upgrade was finished in
 * res.cork() after an await, where the pinned uWS build may read the old HTTP state back from the
 * reallocated socket and close it (uNetworking/uWebSockets#1928). Upgrades now finish synchronously in
 * uWS's own callback. That race cannot be forced from here; this test pins the synchronous path's
 * behaviour for handshakes with unusual `Connection` headers (raw TCP: `ws` would not send them).
 */

let stack: Stack;
let saleId: string;
beforeAll(async () => {
  stack = await startStack();
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

/** Handshakes by hand and resolves with what came back before the first WebSocket frame or the close. */
function rawHandshake(token: string, connection: string): Promise<{ status: string; frame: string | null }> {
  return new Promise((resolve, reject) => {
    const s = connect(stack.gateways[0]!.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (v: { status: string; frame: string | null }) => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve(v);
    };
    s.on('connect', () => s.write(
      `GET /v1/sales/${saleId}/ws?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`
      + `Connection: ${connection}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = buf.subarray(0, buf.indexOf('\r\n')).toString();
      const rest = buf.subarray(end + 4);
      // One unmasked server text frame with a 7-bit or 16-bit length is all we wait for.
      if (rest.length < 2) return;
      const len7 = rest[1]! & 0x7f;
      const [len, at] = len7 === 126 ? [rest.length >= 4 ? rest.readUInt16BE(2) : Infinity, 4] : [len7, 2];
      if (rest.length >= at + len) done({ status, frame: rest.subarray(at, at + len).toString() });
    });
    s.on('close', () => done({ status: buf.subarray(0, Math.max(0, buf.indexOf('\r\n'))).toString(), frame: null }));
    s.on('error', reject);
  });
}

describe('a new buyer socket survives its upgrade', () => {
  it.each(['Upgrade', 'close', 'keep-alive, Upgrade'])('Connection: %s -> 101, then the sale frame arrives (no close)', async (connection) => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, async () => rawHandshake(await mintBuyerToken(BUYER_SECRET, uniqueId('raw')), connection)));
    for (const o of outcomes) {
      expect(o.status).toBe('HTTP/1.1 101 Switching Protocols');
      expect(o.frame, 'the server closed the socket before its first frame').not.toBeNull();
      expect(JSON.parse(o.frame!)).toMatchObject({ type: 'sale', state: 'open' });
    }
  });

  it('refusals on the synchronous path still answer in the error shape', async () => {
    const forged = await mintBuyerToken('not-the-secret-at-all', 'x');
    const o = await rawHandshake(forged, 'Upgrade');
    expect(o.status).toBe('HTTP/1.1 401 Unauthorized');
  });
});
