-- Up Migration
-- Redis is a copy that can lose writes. Each sale's copy carries a generation, written into Redis
-- whenever the sale is (re)built from this ledger; a process that finds another generation in Redis
-- (or Redis behind the ledger's sold units) heals the sale from here. The generation only grows.
ALTER TABLE sales ADD COLUMN redis_generation bigint NOT NULL DEFAULT 1 CHECK (redis_generation > 0);

-- A sale whose ledger and Redis cannot be reconciled is paused and flagged here until it is clean:
-- every other sale, and the gateway, keep running.
ALTER TABLE sales
  ADD COLUMN quarantine_reason text,
  ADD COLUMN quarantined_at    timestamptz,
  ADD CONSTRAINT sales_quarantine_whole CHECK ((quarantine_reason IS NULL) = (quarantined_at IS NULL));

-- Down Migration
ALTER TABLE sales DROP CONSTRAINT sales_quarantine_whole;
ALTER TABLE sales DROP COLUMN quarantined_at, DROP COLUMN quarantine_reason;
ALTER TABLE sales DROP COLUMN redis_generation;
