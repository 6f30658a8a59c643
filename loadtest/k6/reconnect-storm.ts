/**
 * k6 reconnect storm: BUYERS buyers join, then at one moment every socket drops and comes back
 * within a second (a load balancer restart, a mobile network blip). Each buyer must get their state
 * back — place, hold or order — without joining again (state_restored_after_drop == 100 %), and
 * nothing may be oversold.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:9001 -e BUYERS=2000 -e STOCK=200 loadtest/k6/reconnect-storm.ts
 */
import { sleep } from 'k6';
import exec from 'k6/execution';
import { buyerSession, checkAudit, createSale, num, planFor, thresholds } from './lib.ts';

const BUYERS = num('BUYERS', 2000);
const STOCK = num('STOCK', 200);
const CROWD_SECONDS = num('CROWD_SECONDS', 120);
const STORM_AFTER_MS = num('STORM_AFTER_MS', 4000);

export const options = {
  setupTimeout: '60s',
  scenarios: {
    crowd: { executor: 'per-vu-iterations', vus: BUYERS, iterations: 1, maxDuration: `${CROWD_SECONDS}s`, exec: 'crowd' },
    audit: { executor: 'shared-iterations', vus: 1, iterations: 1, startTime: `${CROWD_SECONDS + 5}s`, exec: 'audit' },
  },
  thresholds: { ...thresholds(num('P99_JOIN_MS', 2000)), state_restored_after_drop: ['rate==1'] },
};

export function setup(): { saleId: string; stormAt: number } {
  // Slow admission, so most buyers are still waiting (or holding) when the storm hits.
  const saleId = createSale('storm', STOCK, num('RATE', 50), num('HOLD_SECONDS', 30));
  return { saleId, stormAt: Date.now() + STORM_AFTER_MS };
}

export function crowd(data: { saleId: string; stormAt: number }): void {
  sleep(Math.random());
  const n = exec.vu.idInTest;
  buyerSession({ saleId: data.saleId, buyer: `k6r-${n}-${data.saleId}`, plan: planFor(n), timeoutMs: (CROWD_SECONDS - 5) * 1000, dropAt: data.stormAt });
}

export function audit(data: { saleId: string }): void {
  checkAudit(data.saleId);
}
