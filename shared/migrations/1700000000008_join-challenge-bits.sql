-- Up Migration
-- Proof-of-work asked of each join (issue 15): the leading zero bits SHA-256(nonce + proof) must start
-- with, 0 = off. Gateways read it through their sale cache at each check, so a PATCH takes effect live.
ALTER TABLE sales ADD COLUMN join_challenge_bits integer NOT NULL DEFAULT 0
  CHECK (join_challenge_bits BETWEEN 0 AND 24);

-- Down Migration
ALTER TABLE sales DROP COLUMN join_challenge_bits;
