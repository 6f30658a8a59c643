import { post } from './vu-port.js';

/** k6's custom metrics: each add() is one sample sent to the runner, which aggregates and checks thresholds. */
abstract class Metric {
  protected abstract readonly kind: 'counter' | 'trend' | 'rate' | 'gauge';
  constructor(readonly name: string, readonly isTime = false) {}
  add(value: number | boolean, tags?: Record<string, string>): void {
    post({ type: 'metric', name: this.name, kind: this.kind, value: Number(value), ...(tags ? { tags } : {}) });
  }
}

export class Counter extends Metric {
  protected readonly kind = 'counter' as const;
}
export class Trend extends Metric {
  protected readonly kind = 'trend' as const;
}
export class Rate extends Metric {
  protected readonly kind = 'rate' as const;
}
export class Gauge extends Metric {
  protected readonly kind = 'gauge' as const;
}

export default { Counter, Trend, Rate, Gauge };
