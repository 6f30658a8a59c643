--[[
  Admissions still unfinished a while after admit-8 began them: the admitter that began them crashed,
  lost its lease or lost Redis replies between admit-8 and admit-done-6. The lease holder finishes
  them on its tick (take is idempotent per hold id), so no buyer stays 'admitting' for good, and the
  cost per tick is O(found), not O(admitting).
  KEYS[1] admitting hash (hold id -> buyer)   KEYS[2] admitting-since zset (hold id -> when admitted)
  ARGV[1] grace in ms: only admissions begun at least this long ago, by Redis' clock
  ARGV[2] at most this many
  Returns a flat list {holdId1, buyer1, holdId2, buyer2, ...}, oldest first.
]]
--@include now-ms
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms() - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
if #ids == 0 then return out end
local buyers = redis.call('HMGET', KEYS[1], unpack(ids))
for i, id in ipairs(ids) do
  if buyers[i] then
    out[#out + 1] = id
    out[#out + 1] = buyers[i]
  else
    -- Finished, yet still indexed (admit-done-6 drops both in one step, so only a hand edit or a
    -- partial restore does this): drop it, or it would come back first on every tick.
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
