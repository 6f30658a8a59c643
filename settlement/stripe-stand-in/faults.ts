import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

export const faultsPatchSchema = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000),
    errorRate: z.number().min(0).max(1),
    dropAfterChargeRate: z.number().min(0).max(1),
  })
  .partial()
  .strict();

export type FaultsPatch = z.infer<typeof faultsPatchSchema>;
export type Faults = Required<FaultsPatch>;

const NONE: Faults = { latencyMs: 0, errorRate: 0, dropAfterChargeRate: 0 };

/**
 * Injected misbehaviour for `/v1/*` POSTs. `random` is injectable so tests can script exactly
 * which attempts fail; a rate is only rolled when it is non-zero, so the draws are predictable.
 */
export class FaultInjector {
  private faults: Faults = { ...NONE };

  constructor(private readonly random: () => number = Math.random) {}

  current(): Faults {
    return { ...this.faults };
  }

  merge(patch: FaultsPatch): Faults {
    this.faults = { ...this.faults, ...patch };
    return this.current();
  }

  clear(): Faults {
    this.faults = { ...NONE };
    return this.current();
  }

  /** Simulated processing time; rejects when the server shuts down. */
  async delay(signal: AbortSignal): Promise<void> {
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs, undefined, { signal });
  }

  shouldFail(): boolean {
    return this.roll(this.faults.errorRate);
  }

  shouldDropResponse(): boolean {
    return this.roll(this.faults.dropAfterChargeRate);
  }

  private roll(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }
}
