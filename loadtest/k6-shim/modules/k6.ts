import { blockingSleep, post } from './vu-port.js';

export function sleep(seconds: number): void {
  blockingSleep(seconds * 1000);
}

/** Each named condition is one sample of the `checks` rate; true when all passed. */
export function check<T>(value: T, sets: Record<string, (v: T) => boolean>): boolean {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    let pass: boolean;
    try {
      pass = Boolean(fn(value));
    } catch {
      pass = false;
    }
    post({ type: 'check', name, pass });
    all &&= pass;
  }
  return all;
}

export function group<T>(_name: string, fn: () => T): T {
  return fn();
}

export function fail(message?: string): never {
  throw new Error(message ?? 'fail()');
}

export default { sleep, check, group, fail };
