import type { TemplatedApp, HttpRequest, HttpResponse } from 'uWebSockets.js';
import { z } from 'zod';
import { metrics } from '../shared/metrics.js';
import { saleInput, salePatch, restockInput, publicSale, type Sale } from '../admission/sale-schema.js';
import { SaleConflictError, SaleExistsError, SaleQuarantinedError } from '../admission/sale-service.js';
import { SaleOversoldError } from '../admission/sale-store.js';
import { auditSale } from '../admission/sale-audit.js';
import { ApiError } from './errors.js';
import { parseJson, readBody, reply, sendError, sendJson, type Reply } from './http.js';
import { describeError, isConnectionLoss } from '../shared/connection-errors.js';
import type { Context } from './context.js';
import type { OperatorGate } from './operator-gate.js';
import { saleFunnel } from './sale-funnel.js';

type Handler = (c: { params: string[]; body: unknown; r: Reply }) => Promise<[number, unknown]>;

function validate<T>(schema: z.ZodType<T>, body: unknown): T {
  const p = schema.safeParse(body);
  if (!p.success) {
    throw new ApiError('invalid_request', p.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      p.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  }
  return p.data;
}

/** The operator API of the contract: the operator gate first (throttle, origin, admin token), then validation, then the change. */
export function mountAdminApi(app: TemplatedApp, ctx: Context, gate: OperatorGate): void {
  const { sales } = ctx;

  const withStats = async (s: Sale) => ({ ...publicSale(s), stats: await sales.stats(s) });
  const found = (s: Sale | null): Sale => {
    if (!s) throw new ApiError('sale_not_found');
    ctx.saleCache.forget(s.id);
    return s;
  };

  const route = (method: 'get' | 'post' | 'patch', pattern: string, paramCount: number, routeName: string, needsBody: boolean, h: Handler) => {
    app[method](pattern, (res: HttpResponse, req: HttpRequest) => {
      const started = process.hrtime.bigint();
      // Everything needed from req is copied now: uWS invalidates it after the first await.
      const params = Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? '');
      const refused = gate(res, req);
      const r = reply(res);
      const run = async () => {
        if (refused) throw refused;
        const body = needsBody ? parseJson(await readBody(r, ctx.config.MAX_BODY_BYTES)) : undefined;
        const [status, out] = await h({ params, body, r });
        sendJson(r, status, out);
      };
      run()
        .catch((err) => sendError(r, toHttpError(err, ctx)))
        .finally(() => {
          const status = r.done ? String(r.status) : 'aborted';
          metrics.httpDuration.observe({ route: routeName, status }, Number(process.hrtime.bigint() - started) / 1e9);
        });
    });
  };

  route('post', '/v1/admin/sales', 0, 'create_sale', true, async ({ body }) => {
    const sale = await sales.create(validate(saleInput, body));
    ctx.saleCache.markKnown(sale.id);
    // Every gateway hears of the new sale at once (any sale event marks it known), so even its very
    // first buyers upgrade on the synchronous path (see the upgrade handler in server.ts).
    await sales.stats(sale)
      .then((st) => sales.events.publish(sale.id, { t: 'state', state: st.state }))
      .catch((err) => ctx.log.warn({ err, sale: sale.id }, 'could not announce the new sale'));
    return [201, publicSale(sale)];
  });
  route('get', '/v1/admin/sales', 0, 'list_sales', false, async () => {
    const list = await sales.list();
    return [200, { sales: await Promise.all(list.map(withStats)) }];
  });
  // One sale also says how good the chances and ETA intervals its buyers were shown turned out
  // (not the list: reading every sale's records for it would cost the list what it costs one sale).
  route('get', '/v1/admin/sales/:id', 1, 'get_sale', false, async ({ params }) => {
    const sale = found(await sales.get(params[0]!));
    const out = await withStats(sale);
    return [200, { ...out, estimates: await sales.estimateQuality(sale, out.stats) }];
  });
  route('patch', '/v1/admin/sales/:id', 1, 'patch_sale', true, async ({ params, body }) => {
    const p = validate(salePatch, body);
    return [200, await withStats(found(await sales.patch(params[0]!, p)))];
  });
  for (const [verb, status] of [['pause', 'paused'], ['resume', 'active'], ['end', 'ended']] as const) {
    route('post', `/v1/admin/sales/:id/${verb}`, 1, `${verb}_sale`, false, async ({ params }) => [200, await withStats(found(await sales.setStatus(params[0]!, status)))]);
  }
  route('post', '/v1/admin/sales/:id/restock', 1, 'restock_sale', true, async ({ params, body }) => {
    const { quantity } = validate(restockInput, body);
    return [200, await withStats(found(await sales.restock(params[0]!, quantity)))];
  });
  route('get', '/v1/admin/sales/:id/audit', 1, 'audit_sale', false, async ({ params }) => {
    const sale = found(await sales.get(params[0]!));
    return [200, await auditSale(ctx.db, sales, ctx.inventory, sale)];
  });
  route('get', '/v1/admin/sales/:id/funnel', 1, 'sale_funnel', false, async ({ params }) => [200, await saleFunnel(ctx, found(await sales.get(params[0]!)))]);
  route('get', '/v1/admin/dead-letters', 0, 'dead_letters', false, async () => [200, { deadLetters: await ctx.settlement.deadLetters.list() }]);
  route('post', '/v1/admin/dead-letters/:id/replay', 1, 'replay_dead_letter', false, async ({ params }) => {
    if (!(await ctx.settlement.deadLetters.replay(params[0]!))) throw new ApiError('dead_letter_not_found');
    return [202, { replayed: params[0] }];
  });
}

export function toHttpError(err: unknown, ctx: Context): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof SaleExistsError) return new ApiError('sale_exists', err.message);
  if (err instanceof SaleConflictError || err instanceof SaleOversoldError) return new ApiError('sale_conflict', err.message);
  if (err instanceof SaleQuarantinedError) return new ApiError('quarantined', err.message);
  if (err instanceof RangeError) return new ApiError('invalid_request', err.message);
  // Redis or Postgres went away under the request: nothing is wrong with it, it may be sent again.
  if (isConnectionLoss(err)) {
    ctx.log.warn({ err: describeError(err) }, 'operator request failed on a lost connection');
    return new ApiError('unavailable');
  }
  ctx.log.error({ err }, 'operator request failed');
  return new ApiError('internal');
}
