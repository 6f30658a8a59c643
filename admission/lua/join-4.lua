--[[
  Places in the waiting room for a batch of buyers of one sale, each with its own answer: what the
  buyer already has (place, hold, order) or, in 'join' mode, a new place. Idempotent per buyer: a
  second join, a second tab or a reconnect gets the same answer, never a second place; a buyer named
  twice in one batch is answered twice the same way (the batch is read as if its items ran one by one).
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] pre-queue zset   KEYS[4] waiting line list
  ARGV[1] prefix of the buyers' orders sets (fs:{sale:ID}:o:)
  ARGV[2 + 4i], ARGV[3 + 4i], ARGV[4 + 4i], ARGV[5 + 4i] for item i = 0, 1, ...: buyer id,
          'join' | 'status', the hold id the caller found ended or sold ('' if none): only then may a
          buyer holding it take a new place (the hold's own state lives in its pool, another slot), and
          the buyer's pre-queue score, 13 hex digits of HMAC-SHA256(prequeueKey, buyer id) ('' for
          'status'; Lua has no HMAC, so the caller computes it, admission/prequeue.ts)
  Returns -1 (no such sale: the whole batch), else one reply per item, in order, each one string
  (a flat reply: Redis turns a table per item into a reply far more slowly than a string):
  'none' (status, no record), 'pre:<rank>', 'waiting:<ticket>:<served>', 'sold_out',
  'ended' (a waiter of a sale that has ended: nothing more will come),
  'admitting:<holdId>:<ticket>', 'holding:<holdId>', 'left' (status), 'done:<orders>';
  or -2 sale ended, -6 sold out (no new place is given to that buyer).
]]
--@include now-ms
--@include call-in-slices
local sale = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'soldOut', 'perBuyerLimit', 'sealed', 'served', 'seq')
if not sale[1] then return -1 end
-- One clock reading and one read of the sale for the whole batch: the batch is one instant.
local ended = sale[1] == 'ended' or now_ms() >= tonumber(sale[2])
local soldOut = sale[3] == '1'
local limit = tonumber(sale[4])
local sealed = sale[5] == '1'
local served = tonumber(sale[6] or 0)
local seq = tonumber(sale[7] or 0)
-- Every join carries its score, checked before anything is written (a caller bug, not a buyer's).
for i = 2, #ARGV, 4 do
  if ARGV[i + 1] == 'join' and not string.match(ARGV[i + 3], '^%x%x%x%x%x%x%x%x%x%x%x%x%x$') then
    return redis.error_reply('join of ' .. ARGV[i] .. ' without a 13-hex-digit pre-queue score')
  end
end
local written = {}
local writes = {}
local line = {}

local function record(buyer, rec)
  written[buyer] = rec
  writes[#writes + 1] = buyer
  writes[#writes + 1] = rec
end

-- Every record of the batch in one HMGET per 1,000 buyers; a record this batch wrote wins.
local stored = {}
local names = {}
for i = 2, #ARGV, 4 do names[#names + 1] = ARGV[i] end
for i = 1, #names, 1000 do
  local part = redis.call('HMGET', KEYS[2], unpack(names, i, math.min(i + 999, #names)))
  for j = 1, #part do stored[i + j - 1] = part[j] end
end

local servedStr = tostring(served)

-- Records are read by their first letter and a substring (see buyer-record.lua for the format):
-- cheaper than a pattern match, and the ticket stays the string it is stored as.
local function one(at, buyer, mode, endedHold, score)
  local rec = written[buyer]
  if rec == nil then rec = stored[at] end
  local st = rec and string.sub(rec, 1, 1)
  local waiter = st == 'p' or st == 'w'
  -- A waiter of an ended sale is told so: no buyer waits for nothing.
  if waiter and ended then return 'ended' end
  -- A waiter of a sold-out sale is told so (and is waiting again if a restock clears the flag).
  if waiter and soldOut then return 'sold_out' end
  if st == 'p' then return 'pre:' .. (redis.call('ZRANK', KEYS[3], buyer) + 1) end
  if st == 'w' then return 'waiting:' .. string.sub(rec, 3) .. ':' .. servedStr end
  local holdId = ''
  if st == 'a' or st == 'h' then holdId = string.sub(rec, string.find(rec, ':', 3, true) + 1) end
  if st == 'a' then return 'admitting:' .. holdId .. ':' .. string.sub(rec, 3, string.find(rec, ':', 3, true) - 1) end
  if st == 'h' and not (mode == 'join' and endedHold == holdId) then return 'holding:' .. holdId end
  if mode ~= 'join' then
    if st == 'l' then return 'left' end
    return 'none'
  end
  -- A new place from here on.
  local orders = redis.call('SCARD', ARGV[1] .. buyer)
  if orders >= limit then return 'done:' .. orders end
  if ended then return -2 end
  if soldOut then return -6 end
  if not sealed then
    -- Pre-queue (before the seal: the start plus any lottery window): the score is a keyed hash of
    -- the buyer id, so arrival time gives no advantage; the key published at the seal lets anyone
    -- verify the shuffle. 52 bits: exact as a Lua number and as a sorted-set score.
    redis.call('ZADD', KEYS[3], tonumber(score, 16), buyer)
    record(buyer, 'p')
    return 'pre:' .. (redis.call('ZRANK', KEYS[3], buyer) + 1)
  end
  -- Any earlier entry of this buyer in the line (they left) carries an older ticket: admit skips it.
  seq = seq + 1
  -- One number-to-string per new place: it is the slow part of Lua string building.
  local t = tostring(seq)
  line[#line + 1] = t .. ':' .. buyer
  record(buyer, 'w:' .. t)
  return 'waiting:' .. t .. ':' .. servedStr
end

local out = {}
for i = 2, #ARGV, 4 do
  out[#out + 1] = one(#out + 1, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
if #writes > 0 then call_in_slices('HSET', KEYS[2], writes, 1000) end
if #line > 0 then
  call_in_slices('RPUSH', KEYS[4], line, 1000)
  redis.call('HSET', KEYS[1], 'seq', seq)
  redis.call('HINCRBY', KEYS[1], 'waiting', #line)
end
return out
