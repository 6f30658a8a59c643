import { solveChallengeInSlices } from '../../gateway/join-challenge.js';

/**
 * Solves on this thread run one after another, first come first served: sliced solves all at once would
 * share the CPU so evenly that every buyer's proof landed at the end together, where on real devices
 * each solves on its own CPU and the early ones join first.
 */
let solveQueue: Promise<unknown> = Promise.resolve();

export function solveInTurn(nonce: string, bits: number): Promise<{ proof: string; hashes: number }> {
  const turn = solveQueue.then(() => solveChallengeInSlices(nonce, bits));
  solveQueue = turn.catch(() => undefined);
  return turn;
}
