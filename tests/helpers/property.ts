import type fc from 'fast-check';

/**
 * fast-check parameters of the property tests (not a test file itself). A failing property reports
 * its counterexample, shrunk, with `{ seed: …, path: "…" }` in the error message; run the same file
 * again with `FC_SEED=<seed> FC_PATH=<path>` to replay exactly that case (no new random runs).
 * `FC_RUNS=<n>` overrides the number of runs (e.g. a long soak: FC_RUNS=50000 FC_TIME_MS=0).
 *
 * Runs stop early, without failing, once `timeMs` has passed (FC_TIME_MS overrides; 0 = no limit):
 * each step costs Redis round trips, and on a loaded 2-core machine a round trip costs ten times what
 * it does on an idle one. The caller asserts a floor on the runs actually made, so a slow machine
 * cannot turn the property into a vacuous one unseen.
 */
export function propertyParams<T>(numRuns: number, timeMs: number): fc.Parameters<T> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  const runs = process.env.FC_RUNS;
  const limit = process.env.FC_TIME_MS !== undefined && process.env.FC_TIME_MS !== '' ? Number(process.env.FC_TIME_MS) : timeMs;
  return {
    numRuns: runs ? Number(runs) : numRuns,
    // 1: the error lists every failure met while shrinking, not only the last, with seed and path.
    verbose: 1,
    ...(limit > 0 ? { interruptAfterTimeLimit: limit, markInterruptAsFailure: false } : {}),
    ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
    ...(path !== undefined && path !== '' ? { path, endOnFailure: true } : {}),
  };
}

/** Whether this run replays one recorded case (FC_PATH): floors on the number of runs do not apply. */
export const replaying = () => Boolean(process.env.FC_PATH);
