/**
 * k6 stampede: BUYERS buyers join within one second, then behave as a crowd does (most pay, some
 * are declined first, some abandon the hold, some leave). Fails on any oversell read from the audit,
 * a stuck buyer, or p99 join→queued over P99_JOIN_MS.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9001 -e BUYERS=2000 -e STOCK=200 loadtest/k6/stampede.ts
 */
import { sleep } from 'k6';
import exec from 'k6/execution';
import { buyerSession, checkAudit, createSale, num, planFor, thresholds } from './lib.ts';

const BUYERS = num('BUYERS', 2000);
const STOCK = num('STOCK', 200);
const CROWD_SECONDS = num('CROWD_SECONDS', 120);

export const options = {
  setupTimeout: '60s',
  scenarios: {
    crowd: { executor: 'per-vu-iterations', vus: BUYERS, iterations: 1, maxDuration: `${CROWD_SECONDS}s`, exec: 'crowd' },
    // Runs once the crowd is done: the audit is what decides whether anything was oversold.
    audit: { executor: 'shared-iterations', vus: 1, iterations: 1, startTime: `${CROWD_SECONDS + 5}s`, exec: 'audit' },
  },
  thresholds: thresholds(num('P99_JOIN_MS', 2000)),
};

export function setup(): { saleId: string } {
  return { saleId: createSale('stampede', STOCK, num('RATE', 500), num('HOLD_SECONDS', 10)) };
}

export function crowd(data: { saleId: string }): void {
  // Everyone within one second, as at 18:00:00.
  sleep(Math.random());
  const n = exec.vu.idInTest;
  buyerSession({ saleId: data.saleId, buyer: `k6b-${n}-${data.saleId}`, plan: planFor(n), timeoutMs: (CROWD_SECONDS - 5) * 1000 });
}

export function audit(data: { saleId: string }): void {
  checkAudit(data.saleId);
}
