--[[
  Moves a hold held -> paying for its own buyer, so one payment at a time is taken for it and the
  sweeper will not hand the unit to someone else while money may move. The hold enters the pool's
  paying index (scored by when paying began) so reconciliation finds payments that never finished.
  KEYS[1] pool hash   KEYS[2] hold hash   KEYS[3] deadlines zset   KEYS[4] paying zset
  ARGV[1] buyer id
  Returns the attempt number (1, 2, ...) of this payment.
  -1 no such hold, -2 not this buyer's hold, -3 already paying, -4 already sold,
  -5 hold ended (expired or released; an overdue hold is expired here and its unit returned).
]]
--@include now-ms
local h = redis.call('HMGET', KEYS[2], 'buyer', 'state', 'deadline')
if not h[1] then return -1 end
if h[1] ~= ARGV[1] then return -2 end
if h[2] == 'paying' then return -3 end
if h[2] == 'sold' then return -4 end
if h[2] ~= 'held' then return -5 end
local id = string.match(KEYS[2], ':h:([^:]+)$')
local now = now_ms()
if tonumber(h[3]) <= now then
  redis.call('HSET', KEYS[2], 'state', 'expired')
  redis.call('HINCRBY', KEYS[1], 'held', -1)
  redis.call('HINCRBY', KEYS[1], 'available', 1)
  redis.call('HINCRBY', KEYS[1], 'expired', 1)
  redis.call('ZREM', KEYS[3], id)
  return -5
end
redis.call('HSET', KEYS[2], 'state', 'paying')
redis.call('HINCRBY', KEYS[1], 'held', -1)
redis.call('HINCRBY', KEYS[1], 'paying', 1)
redis.call('ZREM', KEYS[3], id)
redis.call('ZADD', KEYS[4], now, id)
return redis.call('HINCRBY', KEYS[2], 'attempts', 1)
