import type { Db } from '../shared/db.js';
import { createLogger, type Logger } from '../shared/logger.js';

/**
 * Keeps the planner's statistics of the ledger (payment_attempts, orders, outbox) up with its growth
 * while it is young, so the plans kept by the workers' sessions are remade for its real size.
 *
 * The group-commit statements are prepared once per session, and Postgres keeps a generic plan after
 * the fifth run, costed with the statistics of that moment, until the next ANALYZE of a table it
 * reads invalidates it (in every session). In the first sale on a new database that moment is a
 * ledger of a few rows, where a whole-table scan is the cheapest plan, and autovacuum analyzes a
 * minute apart at best: meanwhile the ledger grows by tens of thousands of rows and every batch scans
 * all of them. So the store counts the attempts it writes and, each time the count doubles from
 * `firstAt`, asks Postgres what it believes: if the statistics show fewer than half the rows this
 * process alone has written, it analyzes the ledger (a sample of 30,000 rows per table, tens of ms;
 * it takes no lock that DML waits for). Once the statistics keep up (an old ledger, or autovacuum
 * after the young phase) each check is one catalog read, and it stops at `lastAt`.
 */
export interface LedgerStatisticsOptions {
  /** Attempts written by this process at the first check (then at twice as many, and so on). */
  firstAt: number;
  /** No check past this many: autovacuum's own thresholds (10 % growth) keep a large ledger's statistics. */
  lastAt: number;
}

export const LEDGER_STATISTICS_DEFAULTS: LedgerStatisticsOptions = { firstAt: 500, lastAt: 1_000_000 };

export class LedgerStatistics {
  private written = 0;
  private nextAt: number;
  /** The check (and ANALYZE) under way, if any: tests wait for it. */
  refreshing: Promise<void> | null = null;
  private readonly opts: LedgerStatisticsOptions;

  constructor(private readonly db: Db, opts: Partial<LedgerStatisticsOptions> = {}, private readonly log: Logger = createLogger('ledger-statistics')) {
    this.opts = { ...LEDGER_STATISTICS_DEFAULTS, ...opts };
    this.nextAt = this.opts.firstAt;
  }

  /** `n` more attempts written by this process. */
  wrote(n: number): void {
    this.written += n;
    if (this.written < this.nextAt || this.nextAt > this.opts.lastAt || this.refreshing) return;
    this.nextAt = this.written * 2;
    const atLeast = this.written;
    this.refreshing = this.refresh(atLeast)
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'ledger statistics not refreshed; autovacuum will'))
      .finally(() => (this.refreshing = null));
  }

  private async refresh(atLeast: number): Promise<void> {
    // reltuples is -1 for a table never analyzed.
    const r = await this.db.query<{ believed: number }>(`SELECT reltuples::float8 AS believed FROM pg_class WHERE oid = 'payment_attempts'::regclass`);
    const believed = r.rows[0]?.believed ?? -1;
    if (believed >= atLeast / 2) return;
    await this.db.query('ANALYZE payment_attempts, orders, outbox');
    this.log.info({ written: atLeast, believed }, 'ledger statistics refreshed: the ledger outgrew what the planner believed');
  }
}
