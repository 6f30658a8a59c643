--[[
  At the start, moves the pre-queue into the waiting room in its shuffled order, giving tickets
  1, 2, ... in that order, in chunks so no call blocks Redis for long. Sealed once empty: from then
  on joins get arrival-order tickets.
  KEYS[1] sale hash   KEYS[2] pre-queue zset   KEYS[3] waiting zset
  ARGV[1] buyer key prefix (fs:{sale:ID}:b:)   ARGV[2] at most this many buyers per call
  Returns 1 when sealed, 0 when not yet (before the start, or more chunks to move).
]]
--@include now-ms
local sale = redis.call('HMGET', KEYS[1], 'sealed', 'startsAt')
if sale[1] == '1' then return 1 end
if not sale[2] or now_ms() < tonumber(sale[2]) then return 0 end
local chunk = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
for _, buyer in ipairs(chunk) do
  local ticket = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[3], ticket, buyer)
  redis.call('HSET', ARGV[1] .. buyer, 'state', 'waiting', 'ticket', ticket)
  redis.call('ZREM', KEYS[2], buyer)
end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[1], 'sealed', '1')
  return 1
end
return 0
