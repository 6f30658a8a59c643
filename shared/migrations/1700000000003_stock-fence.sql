-- Up Migration
-- The ledger's stock fence (DESIGN.md, invariant 7): one guarded counter per pool of each sale. The
-- statement that writes an order also moves its pool's `sold` (settlement/payment-store.ts), and
-- only while `sold < stock`, so no Redis state, however stale, can make Postgres hold more orders
-- than stock. Per pool, not per sale: the units are split over pools in Redis, and a sale-wide
-- counter would be one row every payment of the sale queues on.
CREATE TABLE sale_pools (
  sale_id text    NOT NULL REFERENCES sales(id),
  pool    integer NOT NULL CHECK (pool >= 0),
  -- This pool's share of the sale's stock: the same split the Redis pools use
  -- (inventory/pool-split.ts: the first pools get the remainder), of the initial stock and of each
  -- restock separately.
  stock   integer NOT NULL,
  -- Orders written in this pool (the pool is in the hold id, `hold_<pool>_...`).
  sold    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (sale_id, pool)
);

-- Existing sales: each pool's share of the initial stock (stock minus every restock) plus its share of
-- each restock, split as splitUnits does.
INSERT INTO sale_pools (sale_id, pool, stock)
SELECT step.sale_id, p.pool, sum(step.units / step.pools + CASE WHEN p.pool < step.units % step.pools THEN 1 ELSE 0 END)::int
FROM (
  SELECT s.id AS sale_id, s.pools, s.stock - COALESCE((SELECT sum(r.quantity) FROM restocks r WHERE r.sale_id = s.id), 0)::int AS units FROM sales s
  UNION ALL
  SELECT r.sale_id, s.pools, r.quantity FROM restocks r JOIN sales s ON s.id = r.sale_id
) step
CROSS JOIN LATERAL generate_series(0, step.pools - 1) AS p(pool)
GROUP BY step.sale_id, p.pool;

-- `sold` = the orders already written in each pool (the pattern of inventory/keys.ts poolOfHold). An
-- order whose hold id names no pool of its sale counts nowhere; the audit reports it.
UPDATE sale_pools sp SET sold = o.n
FROM (
  SELECT sale_id, substring(hold_id FROM '^hold_(\d{1,4})_[a-z0-9_]{1,80}$')::int AS pool, count(*)::int AS n
  FROM orders GROUP BY 1, 2
) o
WHERE sp.sale_id = o.sale_id AND sp.pool = o.pool;

-- NOT VALID: a database may already hold an oversold sale (the reason for this fence), and the
-- migration must not fail on it. Its rows keep their true `sold`; every write from now on is checked,
-- and the fence never moves a pool that has nothing left, so an oversold pool grants nothing more.
ALTER TABLE sale_pools ADD CONSTRAINT sale_pools_sold_within_stock CHECK (sold >= 0 AND sold <= stock) NOT VALID;

-- Down Migration
DROP TABLE sale_pools;
