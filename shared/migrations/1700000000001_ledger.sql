-- Up Migration
-- The durable ledger. Redis holds the fast, volatile state; these tables are what survives a loss.

CREATE TABLE sales (
  id               text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
  name             text NOT NULL,
  sku              text NOT NULL,
  price_amount     integer NOT NULL CHECK (price_amount > 0),
  currency         text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  stock            integer NOT NULL CHECK (stock > 0),
  pools            integer NOT NULL CHECK (pools >= 1),
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL CHECK (ends_at > starts_at),
  admit_per_second integer NOT NULL CHECK (admit_per_second > 0),
  max_active_holds integer NOT NULL CHECK (max_active_holds > 0),
  hold_seconds     integer NOT NULL CHECK (hold_seconds > 0),
  per_buyer_limit  integer NOT NULL CHECK (per_buyer_limit > 0),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'ended')),
  prequeue_key     text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Every stock change after creation, so Redis can be rebuilt from the ledger.
CREATE TABLE restocks (
  id         bigserial PRIMARY KEY,
  sale_id    text NOT NULL REFERENCES sales(id),
  quantity   integer NOT NULL CHECK (quantity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per try to charge a hold. The idempotency key is stored here, under UNIQUE, before the
-- provider is called: a retry after any crash finds the row and re-sends the same key.
CREATE TABLE payment_attempts (
  id                text PRIMARY KEY,
  hold_id           text NOT NULL,
  sale_id           text NOT NULL REFERENCES sales(id),
  buyer_id          text NOT NULL,
  attempt_no        integer NOT NULL CHECK (attempt_no > 0),
  idempotency_key   text NOT NULL UNIQUE,
  amount            integer NOT NULL,
  currency          text NOT NULL,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'error')),
  payment_intent_id text,
  failure_reason    text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (hold_id, attempt_no)
);
CREATE INDEX payment_attempts_open ON payment_attempts (status, updated_at) WHERE status = 'pending';

-- Exactly one order per sold hold (UNIQUE hold_id), immutable once written.
CREATE TABLE orders (
  id                text PRIMARY KEY,
  hold_id           text NOT NULL UNIQUE,
  sale_id           text NOT NULL REFERENCES sales(id),
  buyer_id          text NOT NULL,
  amount            integer NOT NULL,
  currency          text NOT NULL,
  payment_intent_id text NOT NULL UNIQUE,
  attempt_id        text NOT NULL REFERENCES payment_attempts(id),
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_sale_buyer ON orders (sale_id, buyer_id);

-- Events written in the same transaction as the order; a relay publishes them at least once.
CREATE TABLE outbox (
  id           bigserial PRIMARY KEY,
  event_type   text NOT NULL,
  aggregate_id text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  UNIQUE (event_type, aggregate_id)
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Down Migration
DROP TABLE outbox;
DROP TABLE orders;
DROP TABLE payment_attempts;
DROP TABLE restocks;
DROP TABLE sales;
