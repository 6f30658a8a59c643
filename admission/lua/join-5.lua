--[[
  A buyer's place in the waiting room: returns what the buyer already has (place, hold, order) or,
  in 'join' mode, gives a new place. Idempotent: a second join, a second tab or a reconnect gets the
  same answer, never a second place.
  KEYS[1] sale hash   KEYS[2] buyer hash   KEYS[3] pre-queue zset   KEYS[4] waiting zset
  KEYS[5] the buyer's orders set
  ARGV[1] buyer id   ARGV[2] 'join' | 'status'
  ARGV[3] hold id the caller found ended or sold ('' if none): only then may a buyer holding it
          take a new place (the hold's own state lives in its pool, another slot)
  Returns {'none'} (status, no record), {'pre', rank}, {'waiting', ticket, served}, {'sold_out'},
  {'ended'} (a waiter of a sale that has ended: nothing more will come),
  {'admitting', holdId}, {'holding', holdId}, {'left'} (status), {'done', orders};
  -1 no such sale, -2 sale ended, -6 sold out (no new place is given).
]]
--@include now-ms
local sale = redis.call('HMGET', KEYS[1], 'status', 'endsAt', 'soldOut', 'perBuyerLimit', 'sealed', 'served', 'prequeueKey')
if not sale[1] then return -1 end
local buyer = ARGV[1]
local rec = redis.call('HMGET', KEYS[2], 'state', 'ticket', 'holdId')
local state = rec[1]
local ended = sale[1] == 'ended' or now_ms() >= tonumber(sale[2])
-- A waiter of an ended sale is told so: no buyer waits for nothing.
if (state == 'pre' or state == 'waiting') and ended then return {'ended'} end
-- A waiter of a sold-out sale is told so (and is waiting again if a restock clears the flag).
if (state == 'pre' or state == 'waiting') and sale[3] == '1' then return {'sold_out'} end
if state == 'pre' then return {'pre', redis.call('ZRANK', KEYS[3], buyer) + 1} end
if state == 'waiting' then return {'waiting', tonumber(rec[2]), tonumber(sale[6] or 0)} end
if state == 'admitting' then return {'admitting', rec[3]} end
if state == 'holding' and not (ARGV[2] == 'join' and ARGV[3] == rec[3]) then return {'holding', rec[3]} end
if ARGV[2] ~= 'join' then
  if state == 'left' then return {'left'} end
  if state == 'holding' then return {'holding', rec[3]} end
  return {'none'}
end
-- A new place from here on.
local orders = redis.call('SCARD', KEYS[5])
if orders >= tonumber(sale[4]) then return {'done', orders} end
if ended then return -2 end
if sale[3] == '1' then return -6 end
if sale[5] ~= '1' then
  -- Pre-queue: the score is a keyed hash of the buyer id, so arrival time before the start gives
  -- no advantage; publishing the key after the start lets anyone verify the shuffle.
  local score = tonumber(string.sub(redis.sha1hex(sale[7] .. ':' .. buyer), 1, 13), 16)
  redis.call('ZADD', KEYS[3], score, buyer)
  redis.call('HSET', KEYS[2], 'state', 'pre')
  redis.call('HDEL', KEYS[2], 'ticket', 'holdId', 'pool')
  return {'pre', redis.call('ZRANK', KEYS[3], buyer) + 1}
end
local ticket = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[4], ticket, buyer)
redis.call('HSET', KEYS[2], 'state', 'waiting', 'ticket', ticket)
redis.call('HDEL', KEYS[2], 'holdId', 'pool')
return {'waiting', ticket, tonumber(sale[6] or 0)}
