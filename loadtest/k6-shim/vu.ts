import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { FromVu, ToVu, VuData } from './protocol.js';

/**
 * One VU iteration in this thread. As in k6, the script's init code runs first (the import), before
 * setup() has run: the thread says `ready`, and runs its function when the runner sends setup's data.
 * The thread then ends when nothing is pending any more (sockets closed, timers run out), which is
 * when k6 ends an iteration too.
 */
const d = workerData as VuData;
const post = (m: FromVu) => parentPort!.postMessage(m);
(globalThis as Record<string, unknown>).__ENV = d.env;
(globalThis as Record<string, unknown>).__VU = d.vuIdInTest;
(globalThis as Record<string, unknown>).__ITER = d.iterationInTest;

function fail(err: unknown): void {
  post({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) });
}

try {
  const mod = (await import(pathToFileURL(d.script).href)) as Record<string, unknown>;
  if (d.exec === '__info') {
    // The runner's first look: the script's options and which of setup/teardown it has.
    post({ type: 'returned', value: { options: mod.options ?? {}, exports: Object.keys(mod) } });
  } else {
    const fn = mod[d.exec];
    if (typeof fn !== 'function') throw new Error(`${d.script} exports no function ${d.exec}`);
    // `once`: the port's only listener goes with the message, so the port no longer keeps this thread.
    parentPort!.once('message', (m: ToVu) => {
      try {
        const value: unknown = (fn as (data: unknown) => unknown)(m.data);
        if (d.exec === 'setup') post({ type: 'returned', value });
      } catch (err) {
        fail(err);
      }
    });
    post({ type: 'ready' });
  }
} catch (err) {
  fail(err);
}
