-- Up Migration
-- A failed attempt whose PaymentIntent could still be completed without us: its confirmation stopped in
-- requires_action (the issuer wants the buyer's 3D Secure challenge). The attempt names that intent here
-- in the same compare-and-set that fails it, and the name is cleared once the provider has cancelled it,
-- so a cancel that did not happen at once (provider away, worker killed) is reconciliation's to finish.
ALTER TABLE payment_attempts ADD COLUMN open_intent_id text;
CREATE INDEX payment_attempts_open_intent ON payment_attempts (updated_at) WHERE open_intent_id IS NOT NULL;

-- Down Migration
DROP INDEX payment_attempts_open_intent;
ALTER TABLE payment_attempts DROP COLUMN open_intent_id;
