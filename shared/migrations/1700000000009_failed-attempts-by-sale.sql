-- Up Migration
-- The console's funnel counts a sale's declined holds (settlement/declines.ts) every few seconds while
-- an operator watches it. payment_attempts has no index by sale, so that would read the whole ledger;
-- failed attempts are a small part of it, so a partial index on them alone costs little to keep.
CREATE INDEX payment_attempts_failed_by_sale ON payment_attempts (sale_id) WHERE status = 'failed';

-- Down Migration
DROP INDEX payment_attempts_failed_by_sale;
