--[[
  The buyer gives up their place. A held unit is released by the caller in its pool first (another
  slot); only then, with that hold id, is the record marked left.
  KEYS[1] sale hash   KEYS[2] buyer hash   KEYS[3] pre-queue zset   KEYS[4] waiting zset
  ARGV[1] buyer id   ARGV[2] hold id already released or ended by the caller ('' if none)
  Returns {'left'}, {'none'} (no record), or {'holding', holdId} (release it first, then call again).
  -1 no such sale.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local rec = redis.call('HMGET', KEYS[2], 'state', 'holdId')
local state = rec[1]
if not state then return {'none'} end
if state == 'holding' and ARGV[2] ~= rec[2] then return {'holding', rec[2]} end
-- 'admitting': the admitter sees 'left' when it finishes and gives the unit back itself.
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'left')
return {'left'}
