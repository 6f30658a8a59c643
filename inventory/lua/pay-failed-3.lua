--[[
  A payment was refused (declined card): the hold goes back to held while its deadline lasts, so the
  buyer may pay again; past the deadline it expires and its unit returns to the pool.
  KEYS[1] pool hash   KEYS[2] hold hash   KEYS[3] deadlines zset
  Returns 'held' or 'expired' (the hold's new state), or the current state when it was not paying
  (idempotent for a retried job). -1 no such hold.
]]
--@include now-ms
local h = redis.call('HMGET', KEYS[2], 'state', 'deadline')
if not h[1] then return -1 end
if h[1] ~= 'paying' then return h[1] end
redis.call('HINCRBY', KEYS[1], 'paying', -1)
local id = string.match(KEYS[2], ':h:([^:]+)$')
if tonumber(h[2]) > now_ms() then
  redis.call('HSET', KEYS[2], 'state', 'held')
  redis.call('HINCRBY', KEYS[1], 'held', 1)
  redis.call('ZADD', KEYS[3], tonumber(h[2]), id)
  return 'held'
end
redis.call('HSET', KEYS[2], 'state', 'expired')
redis.call('HINCRBY', KEYS[1], 'available', 1)
redis.call('HINCRBY', KEYS[1], 'expired', 1)
return 'expired'
