import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, createSale, expectCleanAudit, metricValue, stats } from '../e2e/kit.js';
import { gatewayMetrics, Inspector, useInspectedStack, rssBytes } from './door-kit.js';

/**
 * A buyer whose socket stops reading (a raw `ws` client whose TCP socket is paused) while it writes
 * FRAMES status frames — each answered (sale + queued frames, or rate_limited errors past 20/s), all of
 * them piling up towards a reader that never reads. Without a defence the answers fill uWS's buffer up
 * to maxBackpressure and frames past it are silently dropped, among them the `admitted` that comes
 * next. With it the socket is marked behind (fs_ws_slow_readers_total), sent nothing more, and once it
 * reads again it is sent its state once: its last frame says it is admitted, with its hold.
 */
let stack: Stack;
let buyers: Buyers;
let inspector: Inspector;
useInspectedStack((s, b, i) => ((stack = s), (buyers = b), (inspector = i)));

/**
 * On loopback the kernel's socket buffers take about 4 MB (some 50,000 of these ~80-byte answers)
 * before uWS has to buffer a byte, so 5,000 frames never reach the gateway's memory at all; 100,000
 * (8 MB of answers) go well past the kernel and past maxBackpressure (256 KiB).
 */
const FRAMES = 100_000;

describe('a slow reader', () => {
  it(`never reads while ${FRAMES} frames are answered to it: memory bounded, and once it reads, its last frame is its state`, async () => {
    const sale = await createSale(stack, { stock: 2, maxActiveHolds: 1 });
    const holder = await buyers.holding(sale.id);
    const slow = await buyers.queued(sale.id);
    expect(slow.position).toBe(1);

    const m0 = await gatewayMetrics(stack);
    // Memory: the resident set (VmRSS), each time right after a full GC, since what a slow socket pins
    // is uWS's native send buffer, outside the V8 heap.
    await inspector.heapAfterGc();
    const rssBefore = rssBytes(stack.gateways[0]!);
    const answered0 = metricValue(m0, 'fs_ws_frames_total', 'type="status"') + metricValue(m0, 'fs_ws_errors_total', 'code="rate_limited"');
    const slow0 = metricValue(m0, 'fs_ws_slow_readers_total');

    slow.b.ws.pause();
    const pausedAt = slow.b.frames.length;
    for (let i = 0; i < FRAMES; i++) slow.b.send({ type: 'status' });
    // Every frame reached the gateway and was answered or refused (polled: the metrics are the only
    // witness, the socket does not read).
    const until = Date.now() + 30_000;
    let answered = 0;
    let m = m0;
    while (answered < FRAMES && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      m = await gatewayMetrics(stack);
      answered = metricValue(m, 'fs_ws_frames_total', 'type="status"') + metricValue(m, 'fs_ws_errors_total', 'code="rate_limited"') - answered0;
    }
    expect(answered).toBe(FRAMES);
    expect(metricValue(m, 'fs_ws_slow_readers_total') - slow0).toBeGreaterThanOrEqual(1);
    expect(slow.b.frames.length).toBe(pausedAt);

    // While it does not read, its state changes: the holder leaves, the slow buyer is admitted.
    await holder.b.request({ type: 'leave' }, 'left');
    const tab = await buyers.connect(sale.id, slow.b.buyer);
    const admitted = await tab.next('admitted');
    expect((await stats(stack, sale.id)).held).toBe(1);
    await inspector.heapAfterGc();
    const rssGrowth = rssBytes(stack.gateways[0]!) - rssBefore;

    // It reads again: the backlog comes, then its state once; the last frame is the admission.
    slow.b.ws.resume();
    const caught = await slow.b.next((f) => f.type === 'admitted', 20_000, pausedAt);
    expect(caught).toMatchObject({ holdId: admitted.holdId, expiresAt: admitted.expiresAt });
    // Nothing after it but what was already on its way: it is the last state frame the buyer holds.
    const got = slow.b.frames.slice(pausedAt);
    const states = got.filter((f) => f.type !== 'error' && f.type !== 'sale');
    expect(states.at(-1)).toEqual(caught);
    expect(slow.b.ws.readyState).toBe(slow.b.ws.OPEN);
    // And it works as any socket again.
    expect(await slow.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: admitted.holdId });
    console.log(`slow reader: ${FRAMES} frames answered to a socket that did not read; it received ${got.length} frames (the answers sent before it was marked behind, then its state); gateway RSS ${(rssBefore / 2 ** 20).toFixed(1)} MB, growth ${(rssGrowth / 2 ** 20).toFixed(1)} MB while it did not read (after a full GC each time)`);
    expect(rssGrowth).toBeLessThan(20 * 2 ** 20);
    await expectCleanAudit(stack, sale.id, { held: 1 });
  });
});
