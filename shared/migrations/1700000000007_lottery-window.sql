-- Up Migration
-- A sale's lottery window: buyers joining within this many seconds after the start are shuffled with the
-- pre-queue (the seal, and the key's publication, happen at starts_at + the window).
ALTER TABLE sales ADD COLUMN lottery_window_seconds integer NOT NULL DEFAULT 0
  CHECK (lottery_window_seconds BETWEEN 0 AND 3600);
-- The sealed pre-queue's scores in ticket order, as first published (GET /v1/sales/{id}/prequeue):
-- written once, so what anyone was shown never changes, whatever happens to Redis afterwards. Not in
-- the sale's usual columns (it can be MBs): read only by the endpoint.
ALTER TABLE sales ADD COLUMN prequeue_order text[];

-- Down Migration
ALTER TABLE sales DROP COLUMN prequeue_order;
ALTER TABLE sales DROP COLUMN lottery_window_seconds;
