import type { Logger } from '../shared/logger.js';
import { metrics } from '../shared/metrics.js';
import type { SaleService } from './sale-service.js';

/**
 * Every process runs one: each pass reads the ledger's marks of every sale (one statement) and each
 * sale's Redis copy, and heals a sale whose copy is missing, of another generation or server, or behind
 * the ledger (DESIGN.md, Sources of truth). Many processes may find the same loss; the heal itself is
 * single-flight (SaleHealer), so the others find it healed or being healed.
 */
export class RedisGuard {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private pass: Promise<void> | null = null;
  /** Sales whose Redis stock differed from the ledger's at the last pass (a restock may be between its two writes). */
  private stockDiffers = new Set<string>();

  constructor(private readonly sales: SaleService, private readonly log: Logger, private readonly intervalMs: number) {}

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.pass = this.check().catch((err) => this.log.warn({ err: (err as Error).message }, 'redis guard pass failed; next pass retries'));
      void this.pass.finally(() => {
        this.pass = null;
        if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
      });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over every sale; resolves when the sales it found wrong are healed (or left to the next pass). */
  async check(): Promise<void> {
    const ledger = await this.sales.store.ledgerMarks();
    const runIdOf = await this.sales.healer.runIds();
    metrics.salesQuarantined.set(ledger.filter((l) => l.quarantined).length);
    const stockDiffered = this.stockDiffers;
    this.stockDiffers = new Set();
    await Promise.all(ledger.map(async (l) => {
      // A quarantined sale stays as it is until an operator's resume finds its ledger clean.
      if (l.quarantined) return;
      const reason = await this.sales.healer.findLoss(l, runIdOf);
      if (reason === null) return;
      if (reason === 'stock' && !stockDiffered.has(l.id)) {
        this.stockDiffers.add(l.id);
        return;
      }
      metrics.redisLossDetected.inc({ reason });
      this.log.warn({ sale: l.id, reason }, 'redis loss detected');
      try {
        const r = await this.sales.healer.heal(l.id, reason);
        if (r.outcome === 'quarantined') this.log.error({ sale: l.id }, 'sale quarantined by the redis guard');
      } catch (err) {
        this.log.error({ err: (err as Error).message, sale: l.id }, 'heal failed; the next pass tries again');
      }
    }));
  }
}
