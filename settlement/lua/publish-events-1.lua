--[[
  Appends outbox events to the order-events stream — only if the stream still holds every entry the
  ledger recorded as published. The check and the appends are one step: after a loss (a restart from an
  older snapshot, a FLUSHALL) the first append would move the stream's last id past every lost entry
  and hide the loss for good, so nothing is appended until the ledger has put the lost rows back.
  KEYS[1] the stream
  ARGV[1] the highest entry id the ledger recorded as published ('' when none)
  ARGV[2] approximate MAXLEN of the stream
  ARGV[3] field-value pairs per entry (n)
  ARGV[4..] the entries, 2n values each
  Returns {1, id1, id2, ...}: appended, the new entry ids in order (none for an empty batch);
          {0, last}: the stream is behind the ledger (its last generated id, '0-0' when the stream is
          missing): nothing appended, every row above `last` must be published again.
]]
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local last = '0-0'
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
if ARGV[1] ~= '' then
  local lms, lseq = parse(last)
  local ems, eseq = parse(ARGV[1])
  if lms < ems or (lms == ems and lseq < eseq) then return {0, last} end
end

local per = tonumber(ARGV[3]) * 2
local out = {1}
if per == 0 then return out end
for i = 4, #ARGV, per do
  local fields = {}
  for j = i, i + per - 1 do fields[#fields + 1] = ARGV[j] end
  out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
end
return out
