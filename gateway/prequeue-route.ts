import type { TemplatedApp } from 'uWebSockets.js';
import { prequeueCommitment } from '../admission/prequeue.js';
import { SALE_ID, sealAt } from '../admission/sale-schema.js';
import { toHttpError } from './admin-api.js';
import type { Context } from './context.js';
import { ApiError } from './errors.js';
import { reply, send, sendError } from './http.js';
import { SharedReads } from './shared-reads.js';

interface Answer {
  /** The serialised body, or null for no such sale. */
  body: string | null;
  /** Epoch ms after which this answer may be stale: the seal for `{commitment}`, never for a sealed order. */
  staleAt: number;
}

/** A sealed order never changes; the TTL only bounds the memory of sales nobody asks about any more. */
const SEALED_TTL_MS = 60_000;
/** Past the seal time but not sealed yet (the admitter's next tick seals): ask again soon. */
const SEALING_RETRY_MS = 200;

/**
 * `GET /v1/sales/{id}/prequeue` (public): the commitment to the pre-queue key, and from the seal on
 * the key and every pre-queue buyer's score in ticket order. The body is built once per sale and
 * shared (SharedReads): a sale with 100k pre-queue buyers is ~1.4 MB of JSON, made once, not per request.
 */
export function mountPrequeue(app: TemplatedApp, ctx: Context): void {
  const reads = new SharedReads<Answer>(async (id) => {
    const sale = await ctx.saleCache.get(id);
    if (!sale) return { body: null, staleAt: Date.now() + 1000 };
    const commitment = prequeueCommitment(sale.prequeueKey);
    const now = Date.now();
    const at = sealAt(sale);
    if (now < at) return { body: JSON.stringify({ commitment }), staleAt: at };
    const order = await ctx.sales.prequeueOrder(id);
    if (!order) return { body: JSON.stringify({ commitment }), staleAt: now + SEALING_RETRY_MS };
    return { body: JSON.stringify({ commitment, key: sale.prequeueKey, order }), staleAt: Number.POSITIVE_INFINITY };
  }, SEALED_TTL_MS, (a) => a.staleAt);

  app.get('/v1/sales/:id/prequeue', (res, req) => {
    const id = req.getParameter(0) ?? '';
    const r = reply(res);
    if (!SALE_ID.test(id)) return sendError(r, new ApiError('sale_not_found'));
    reads.get(id)
      .then((a) => {
        if (a.body === null) return sendError(r, new ApiError('sale_not_found'));
        send(r, 200, a.body, 'application/json', { 'cache-control': 'no-cache' });
      })
      .catch((err: unknown) => sendError(r, toHttpError(err, ctx)));
  });
}
