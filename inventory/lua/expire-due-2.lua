--[[
  Sweeper: expires held holds whose deadline has passed and returns their units to the pool.
  Paying holds are not in the deadlines set (begin-pay removed them), so money in flight is never
  handed to another buyer.
  KEYS[1] pool hash   KEYS[2] deadlines zset
  ARGV[1] hold key prefix (fs:{sale:ID:pN}:h:)   ARGV[2] at most this many holds per call
  Returns a flat list {holdId1, buyer1, holdId2, buyer2, ...} of the holds expired now.
]]
--@include now-ms
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  local hk = ARGV[1] .. id
  local h = redis.call('HMGET', hk, 'buyer', 'state')
  if h[2] == 'held' then
    redis.call('HSET', hk, 'state', 'expired')
    redis.call('HINCRBY', KEYS[1], 'held', -1)
    redis.call('HINCRBY', KEYS[1], 'available', 1)
    redis.call('HINCRBY', KEYS[1], 'expired', 1)
    out[#out + 1] = id
    out[#out + 1] = h[1]
  end
end
return out
