import type { TemplatedApp } from 'uWebSockets.js';
import { ApiError } from './errors.js';
import { reply, sendError } from './http.js';
import type { LiveStats } from './live-stats.js';
import type { OperatorGate } from './operator-gate.js';

/** More consoles than this on one gateway is a mistake or an attack; each costs a socket and writes. */
export const MAX_LIVE_CONSOLES = 64;
/** A console that has not read anything for this long is gone (a sleeping laptop): close it. */
const STALL_MS = 30_000;

/**
 * `GET /v1/admin/live`: the operator console's live channel, Server-Sent Events over one HTTP response
 * (an addition to the contract). The console reads it with fetch(), so the admin token travels in the
 * Authorization header as on every other operator route, never in a URL. Events:
 * `sale` (one per sale per second, see SaleLive) and `tick` (the ids of all sales, once a second).
 */
export function mountAdminLive(app: TemplatedApp, live: LiveStats, gate: OperatorGate): void {
  app.get('/v1/admin/live', (res, req) => {
    const refused = gate(res, req);
    const r = reply(res);
    if (refused) return sendError(r, refused);
    if (live.size >= MAX_LIVE_CONSOLES) return sendError(r, new ApiError('unavailable', `at most ${MAX_LIVE_CONSOLES} live consoles per gateway; close one and retry`));
    // From here the response is a stream that only ends when the console goes away.
    r.done = true;
    let stalledSince = 0;
    let unsubscribe = () => {};
    res.onAborted(() => {
      r.aborted = true;
      unsubscribe();
    });
    res.cork(() => {
      res.writeStatus('200 OK')
        .writeHeader('content-type', 'text/event-stream; charset=utf-8')
        .writeHeader('cache-control', 'no-store')
        .writeHeader('x-accel-buffering', 'no');
      res.write(': flash-sale live stats\n\n');
    });
    unsubscribe = live.subscribe((chunk) => {
      if (r.aborted) return;
      // Each event is a complete snapshot, so a console that cannot keep up skips to the newest one
      // instead of the gateway buffering a backlog for it.
      if (stalledSince > 0) {
        if (Date.now() - stalledSince > STALL_MS) {
          r.aborted = true;
          unsubscribe();
          res.close();
        }
        return;
      }
      res.cork(() => {
        if (!res.write(chunk)) {
          stalledSince = Date.now();
          res.onWritable(() => {
            stalledSince = 0;
            return true;
          });
        }
      });
    });
  });
}
