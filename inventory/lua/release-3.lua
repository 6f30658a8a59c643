--[[
  The buyer gives the hold up (leave): its unit goes back to the pool at once.
  KEYS[1] pool hash   KEYS[2] hold hash   KEYS[3] deadlines zset
  ARGV[1] buyer id ('' = any buyer: used by the admitter to undo an admission whose buyer left)
  Returns 'released', or the ended state ('expired'/'released') when it had already ended.
  -1 no such hold, -2 not this buyer's hold, -3 paying (money may move: cannot be given up now),
  -4 sold.
]]
local h = redis.call('HMGET', KEYS[2], 'buyer', 'state')
if not h[1] then return -1 end
if ARGV[1] ~= '' and h[1] ~= ARGV[1] then return -2 end
if h[2] == 'paying' then return -3 end
if h[2] == 'sold' then return -4 end
if h[2] ~= 'held' then return h[2] end
redis.call('HSET', KEYS[2], 'state', 'released')
redis.call('HINCRBY', KEYS[1], 'held', -1)
redis.call('HINCRBY', KEYS[1], 'available', 1)
redis.call('HINCRBY', KEYS[1], 'released', 1)
redis.call('ZREM', KEYS[3], string.match(KEYS[2], ':h:([^:]+)$'))
return 'released'
