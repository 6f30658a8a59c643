--[[
  Heals one pool from the Postgres ledger after Redis lost writes (emptied, restarted from an older
  snapshot, failed over to a lagging replica): the ledger's word on sold and paying units wins, and
  what only Redis knows (holds held or paying that the ledger has no record of yet) is kept while
  units remain for it, so a heal that finds nothing lost disturbs no buyer. In one script, so the pool
  is never seen half healed. Works on an empty pool too (that is the rebuild after a loss).
  Invariant restored: stock == available + held + paying + sold, every term >= 0, with
  sold == the ledger's orders of this pool.
  KEYS[1] pool hash   KEYS[2] set of every hold id of the pool   KEYS[3] deadlines zset   KEYS[4] paying zset
  ARGV[1] hold key prefix (fs:{sale:ID:pN}:h:)   ARGV[2] the pool's stock in the ledger
  ARGV[3] the generation being written (the ledger checks it against its own)
  ARGV[4..] groups of five from the ledger: hold id, buyer id, state ('sold' | 'paying'), order id
            ('' when paying), attempt number (the attempt a paying hold is being paid by)
  Order of what Redis alone knows, kept while units remain: paying holds first (money may be moving),
  then held holds by deadline; the rest expire (the buyer is told by the caller).
  Returns {1, expired hold id, its buyer, ...} when healed;
  -1 when the ledger has more sold and paying units than the stock (nothing is written: the sale
  cannot be reconciled and is quarantined by the caller).
]]
--@include now-ms
local prefix, stock, gen = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local ledger = {}
local sold, paying = 0, 0
for i = 4, #ARGV, 5 do
  ledger[ARGV[i]] = true
  if ARGV[i + 2] == 'sold' then sold = sold + 1 else paying = paying + 1 end
end
-- Checked before anything is written: a refused heal leaves the pool as it was.
if sold + paying > stock then return -1 end

local now = now_ms()
local expiredCount = tonumber(redis.call('HGET', KEYS[1], 'expired') or 0)
local releasedCount = tonumber(redis.call('HGET', KEYS[1], 'released') or 0)

-- What only Redis knows, read before the ledger's holds are written over it.
local onlyPaying, onlyHeld, out = {}, {}, {1}
local function expire(id, buyer)
  redis.call('HSET', prefix .. id, 'state', 'expired')
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  expiredCount = expiredCount + 1
  out[#out + 1] = id
  out[#out + 1] = buyer or ''
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not ledger[id] then
    local h = redis.call('HMGET', prefix .. id, 'state', 'buyer', 'deadline')
    if h[1] == 'paying' then
      onlyPaying[#onlyPaying + 1] = {id, h[2]}
    elseif h[1] == 'held' then
      if tonumber(h[3] or 0) > now then onlyHeld[#onlyHeld + 1] = {id, h[2], tonumber(h[3])} else expire(id, h[2]) end
    elseif h[1] == 'sold' then
      -- Sold in Redis with no order in the ledger: no buyer was ever told (confirmations follow the
      -- order), so this copy is not to be believed; the unit goes back to the pool.
      redis.call('HSET', prefix .. id, 'state', 'released')
      redis.call('ZREM', KEYS[3], id)
      releasedCount = releasedCount + 1
    end
  end
end

-- The ledger's holds, as the ledger says.
for i = 4, #ARGV, 5 do
  local id, key = ARGV[i], prefix .. ARGV[i]
  local fields = {'buyer', ARGV[i + 1], 'state', ARGV[i + 2], 'attempts', tonumber(ARGV[i + 4])}
  if ARGV[i + 3] ~= '' then
    fields[#fields + 1] = 'orderId'
    fields[#fields + 1] = ARGV[i + 3]
  end
  if not redis.call('HGET', key, 'deadline') then
    fields[#fields + 1] = 'deadline'
    fields[#fields + 1] = 0
  end
  redis.call('HSET', key, unpack(fields))
  redis.call('SADD', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if ARGV[i + 2] == 'paying' then
    -- Score 0 (reconciliation looks first) unless the hold was already paying since a known time.
    if not redis.call('ZSCORE', KEYS[4], id) then redis.call('ZADD', KEYS[4], 0, id) end
  else
    redis.call('ZREM', KEYS[4], id)
  end
end

local free = stock - sold - paying
for _, h in ipairs(onlyPaying) do
  if free > 0 then
    paying = paying + 1
    free = free - 1
  else
    expire(h[1], h[2])
  end
end
table.sort(onlyHeld, function(a, b) return a[3] < b[3] end)
local held = 0
for _, h in ipairs(onlyHeld) do
  if free > 0 then
    held = held + 1
    free = free - 1
    redis.call('ZADD', KEYS[3], h[3], h[1])
  else
    expire(h[1], h[2])
  end
end

redis.call('HSET', KEYS[1], 'stock', stock, 'available', free, 'held', held, 'paying', paying, 'sold', sold,
  'expired', expiredCount, 'released', releasedCount, 'gen', gen)
return out
