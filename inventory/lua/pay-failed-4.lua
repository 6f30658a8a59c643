--[[
  A payment attempt ended without money taken (declined, abandoned by reconciliation): the hold goes
  back to held while its deadline lasts, so the buyer may pay again; past the deadline it expires and
  its unit returns to the pool. Only the attempt the hold is paying for may do this: a late answer
  about an older attempt must not undo a newer one.
  KEYS[1] pool hash   KEYS[2] hold hash   KEYS[3] deadlines zset   KEYS[4] paying zset
  ARGV[1] attempt number
  Returns {new state 'held' | 'expired', 1} when this call moved the hold, or {current state, 0} when
  it was not paying for this attempt (idempotent for a retried job).
  -1 no such hold.
]]
--@include now-ms
local h = redis.call('HMGET', KEYS[2], 'state', 'deadline', 'attempts')
if not h[1] then return -1 end
if h[1] ~= 'paying' or tonumber(h[3]) ~= tonumber(ARGV[1]) then return {h[1], 0} end
redis.call('HINCRBY', KEYS[1], 'paying', -1)
local id = string.match(KEYS[2], ':h:([^:]+)$')
redis.call('ZREM', KEYS[4], id)
if tonumber(h[2]) > now_ms() then
  redis.call('HSET', KEYS[2], 'state', 'held')
  redis.call('HINCRBY', KEYS[1], 'held', 1)
  redis.call('ZADD', KEYS[3], tonumber(h[2]), id)
  return {'held', 1}
end
redis.call('HSET', KEYS[2], 'state', 'expired')
redis.call('HINCRBY', KEYS[1], 'available', 1)
redis.call('HINCRBY', KEYS[1], 'expired', 1)
return {'expired', 1}
