--[[
  The buyer gives up their place. A held unit is released by the caller in its pool first (another
  slot); only then, with that hold id, is the record marked left. A waiter's entry in the line stays
  and is skipped by admit (removing it from a list would cost O(line)).
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] pre-queue zset   KEYS[4] re-queued zset
  ARGV[1] buyer id   ARGV[2] hold id already released or ended by the caller ('' if none)
  Returns {'left'}, {'none'} (no record), or {'holding', holdId} (release it first, then call again).
  -1 no such sale.
  Counts each leave in the sale hash's 'left' (the console's funnel; a rejoin that leaves again counts again).
]]
--@include buyer-record
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return {'none'} end
local st, _, holdId = parse_record(rec)
if st == 'h' and ARGV[2] ~= holdId then return {'holding', holdId} end
if st == 'l' then return {'left'} end
if st == 'p' then redis.call('ZREM', KEYS[3], ARGV[1]) end
if st == 'w' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'waiting', -1)
end
-- 'admitting': the admitter sees 'left' when it finishes and gives the unit back itself.
redis.call('HSET', KEYS[2], ARGV[1], 'l' .. string.sub(rec, 2))
redis.call('HINCRBY', KEYS[1], 'left', 1)
return {'left'}
