-- Up Migration
-- A sale's lottery window: buyers joining within this many seconds after the start are shuffled with the
-- pre-queue (the seal, and the key's publication, happen at starts_at + the window).
ALTER TABLE sales ADD COLUMN lottery_window_seconds integer NOT NULL DEFAULT 0
  CHECK (lottery_window_seconds BETWEEN 0 AND 3600);

-- Down Migration
ALTER TABLE sales DROP COLUMN lottery_window_seconds;
