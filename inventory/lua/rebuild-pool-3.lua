--[[
  Recreates a pool from the Postgres ledger after Redis lost it: its stock, and a hold record for every
  unit sold (with its order) or still paying (money may be moving), so the counters, the holds and the
  orders agree again. Does nothing if the pool exists.
  Paying holds enter the paying index at score 0, so reconciliation looks at them first.
  KEYS[1] pool hash   KEYS[2] set of every hold id of the pool   KEYS[3] paying zset
  ARGV[1] hold key prefix (fs:{sale:ID:pN}:h:)   ARGV[2] the pool's stock
  ARGV[3..] groups of five: hold id, buyer id, state ('sold' | 'paying'), order id ('' when paying),
            attempt number (a paying hold's payment job charges only for the hold's current attempt)
  Returns 1 if rebuilt, 0 if the pool existed, -1 if the ledger has more units than the stock.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local stock = tonumber(ARGV[2])
local sold, paying = 0, 0
for i = 3, #ARGV, 5 do
  if ARGV[i + 2] == 'sold' then sold = sold + 1 else paying = paying + 1 end
end
if sold + paying > stock then return -1 end
for i = 3, #ARGV, 5 do
  local fields = {'buyer', ARGV[i + 1], 'state', ARGV[i + 2], 'deadline', 0, 'attempts', tonumber(ARGV[i + 4])}
  if ARGV[i + 3] ~= '' then
    fields[#fields + 1] = 'orderId'
    fields[#fields + 1] = ARGV[i + 3]
  end
  redis.call('HSET', ARGV[1] .. ARGV[i], unpack(fields))
  redis.call('SADD', KEYS[2], ARGV[i])
  if ARGV[i + 2] == 'paying' then redis.call('ZADD', KEYS[3], 0, ARGV[i]) end
end
redis.call('HSET', KEYS[1], 'stock', stock, 'available', stock - sold - paying, 'held', 0, 'paying', paying,
  'sold', sold, 'expired', 0, 'released', 0)
return 1
