-- Up Migration
-- Settlement as a saga: authorise (manual capture) -> order + outbox in one transaction -> capture.
-- An order is written once the money is authorised; capture follows and, if it fails, the order says
-- so until reconciliation captures it.
ALTER TABLE orders
  ADD COLUMN capture_status text NOT NULL DEFAULT 'pending' CHECK (capture_status IN ('pending', 'captured', 'failed')),
  ADD COLUMN capture_error  text,
  ADD COLUMN captured_at    timestamptz;
CREATE INDEX orders_uncaptured ON orders (created_at) WHERE capture_status <> 'captured';

-- Why an attempt ended up in the dead-letter queue, and when (for operators and reconciliation).
ALTER TABLE payment_attempts
  ADD COLUMN dead_lettered_at timestamptz,
  ADD COLUMN last_error       text;

-- Down Migration
ALTER TABLE payment_attempts DROP COLUMN last_error, DROP COLUMN dead_lettered_at;
DROP INDEX orders_uncaptured;
ALTER TABLE orders DROP COLUMN captured_at, DROP COLUMN capture_error, DROP COLUMN capture_status;
