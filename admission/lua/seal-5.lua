--[[
  At the seal (the start plus the sale's lottery window), moves the pre-queue into the waiting line in
  its shuffled order, giving tickets 1, 2, ... in that order, in chunks so no call blocks Redis for
  long, and appends each buyer's score (13 hex digits) to the published order, so that order[t - 1]
  is the score of ticket t. Sealed once empty: from then on joins get arrival-order tickets.
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] pre-queue zset   KEYS[4] waiting line list
  KEYS[5] published order list
  ARGV[1] at most this many buyers per call
  Returns 1 when sealed, 0 when not yet (before the seal time, or more chunks to move).
]]
--@include now-ms
--@include call-in-slices
local sale = redis.call('HMGET', KEYS[1], 'sealed', 'startsAt', 'seq', 'sealAt')
if sale[1] == '1' then return 1 end
local sealAt = tonumber(sale[4] or sale[2])
if not sealAt or now_ms() < sealAt then return 0 end
local chunk = redis.call('ZRANGE', KEYS[3], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #chunk > 0 then
  -- Everyone in the pre-queue holds a 'p' record (leave takes them out of it), so each becomes waiting.
  local seq = tonumber(sale[3] or 0)
  local writes, line, order = {}, {}, {}
  for i = 1, #chunk, 2 do
    local buyer = chunk[i]
    seq = seq + 1
    line[#line + 1] = seq .. ':' .. buyer
    writes[#writes + 1] = buyer
    writes[#writes + 1] = 'w:' .. seq
    -- Scores are below 2^52: exact as numbers, printed back as the 13 digits join-4 was given.
    order[#order + 1] = string.format('%013x', tonumber(chunk[i + 1]))
  end
  call_in_slices('HSET', KEYS[2], writes, 1000)
  call_in_slices('RPUSH', KEYS[4], line, 1000)
  call_in_slices('RPUSH', KEYS[5], order, 1000)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, #line - 1)
  redis.call('HSET', KEYS[1], 'seq', seq)
  redis.call('HINCRBY', KEYS[1], 'waiting', #line)
end
if redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[1], 'sealed', '1')
  return 1
end
return 0
