--[[
  Takes one unit from a pool and creates its hold, atomically: either both happen or neither.
  Invariant kept: stock == available + held + paying + sold in this pool.
  KEYS[1] pool hash        KEYS[2] hold hash (fs:{sale:ID:pN}:h:HOLD; the hold id is read back from its
                           last segment, so a key prefix may itself contain ':h:' and ids never contain ':')
  KEYS[3] deadlines zset   KEYS[4] set of every hold id of the pool (audit)
  ARGV[1] buyer id   ARGV[2] hold seconds
  Returns {deadline_ms, 1} when created; {deadline_ms, 0} when this hold id already existed (a retried
  admission: idempotent, nothing taken twice);
  -1 pool missing, -2 pool empty, or this hold id was voided (void-hold-1: an earlier take of it found
  the pool empty and its admission gave it up; a late retry must not take a unit that came back since).
]]
--@include now-ms
-- Seven redis calls: the pool's counters are read and written once each (HMGET, HSET), and the
-- hold's existence is read from its 'state' field, which every hold has from birth.
local pool = redis.call('HMGET', KEYS[1], 'available', 'held')
if not pool[1] then return -1 end
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'void' then return -2 end
if state then
  return {tonumber(redis.call('HGET', KEYS[2], 'deadline')), 0}
end
local available = tonumber(pool[1])
if available <= 0 then return -2 end
local deadline = now_ms() + tonumber(ARGV[2]) * 1000
redis.call('HSET', KEYS[1], 'available', available - 1, 'held', tonumber(pool[2]) + 1)
redis.call('HSET', KEYS[2], 'buyer', ARGV[1], 'state', 'held', 'deadline', deadline, 'attempts', 0)
local id = string.match(KEYS[2], ':h:([^:]+)$')
redis.call('ZADD', KEYS[3], deadline, id)
redis.call('SADD', KEYS[4], id)
return {deadline, 1}
