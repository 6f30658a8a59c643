--[[
  At the start, moves the pre-queue into the waiting line in its shuffled order, giving tickets
  1, 2, ... in that order, in chunks so no call blocks Redis for long. Sealed once empty: from then
  on joins get arrival-order tickets.
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] pre-queue zset   KEYS[4] waiting line list
  ARGV[1] at most this many buyers per call
  Returns 1 when sealed, 0 when not yet (before the start, or more chunks to move).
]]
--@include now-ms
--@include call-in-slices
local sale = redis.call('HMGET', KEYS[1], 'sealed', 'startsAt', 'seq')
if sale[1] == '1' then return 1 end
if not sale[2] or now_ms() < tonumber(sale[2]) then return 0 end
local chunk = redis.call('ZRANGE', KEYS[3], 0, tonumber(ARGV[1]) - 1)
if #chunk > 0 then
  -- Everyone in the pre-queue holds a 'p' record (leave takes them out of it), so each becomes waiting.
  local seq = tonumber(sale[3] or 0)
  local writes, line = {}, {}
  for _, buyer in ipairs(chunk) do
    seq = seq + 1
    line[#line + 1] = seq .. ':' .. buyer
    writes[#writes + 1] = buyer
    writes[#writes + 1] = 'w:' .. seq
  end
  call_in_slices('HSET', KEYS[2], writes, 1000)
  call_in_slices('RPUSH', KEYS[4], line, 1000)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, #chunk - 1)
  redis.call('HSET', KEYS[1], 'seq', seq)
  redis.call('HINCRBY', KEYS[1], 'waiting', #chunk)
end
if redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[1], 'sealed', '1')
  return 1
end
return 0
