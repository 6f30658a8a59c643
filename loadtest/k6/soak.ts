/**
 * k6 soak: steady joins (JOINS_PER_SECOND) for DURATION, each buyer behaving as in the stampede, on a
 * sale with plenty of stock (restocked buyers keep flowing). Finds leaks and slow drifts: the p99
 * threshold holds over the whole run, and the audit must be clean at the end.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9001 -e JOINS_PER_SECOND=50 -e DURATION=10m loadtest/k6/soak.ts
 */
import exec from 'k6/execution';
import { buyerSession, checkAudit, createSale, num, planFor, thresholds } from './lib.ts';

const RATE = num('JOINS_PER_SECOND', 50);
const DURATION = __ENV.DURATION || '10m';
const minutes = Number(/^(\d+)m$/.exec(DURATION)?.[1] ?? 10);

export const options = {
  setupTimeout: '60s',
  scenarios: {
    joins: {
      executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION,
      preAllocatedVUs: RATE * 20, maxVUs: RATE * 60, exec: 'buyer', gracefulStop: '60s',
    },
    audit: { executor: 'shared-iterations', vus: 1, iterations: 1, startTime: `${minutes * 60 + 70}s`, exec: 'audit' },
  },
  thresholds: thresholds(num('P99_JOIN_MS', 500)),
};

export function setup(): { saleId: string } {
  // Stock for most of the soak's buyers, admitted at the join rate: the room never grows without bound.
  return { saleId: createSale('soak', Math.max(1, Math.round(RATE * minutes * 60 * 0.7)), RATE, num('HOLD_SECONDS', 10)) };
}

export function buyer(data: { saleId: string }): void {
  const n = exec.scenario.iterationInTest;
  buyerSession({ saleId: data.saleId, buyer: `k6s-${n}-${data.saleId}`, plan: planFor(n), timeoutMs: 55_000 });
}

export function audit(data: { saleId: string }): void {
  checkAudit(data.saleId);
}
