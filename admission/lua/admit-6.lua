--[[
  One admitter tick: refills the sale's token bucket and moves the first n waiters to 'admitting',
  n = min(tokens, ARGV[1], ARGV[2]), giving each a hold id in a pool that has a free unit. The units
  themselves are taken by the caller in each pool's own slot (inventory take, idempotent per hold id);
  the 'admitting' hash is the durable list of that work, so a crashed admitter's successor finishes it.
  Waiters come in ticket order: first the re-queued (their tickets are older than anything still in the
  line), then the line. A line entry whose buyer left, or left and joined again with a later ticket,
  is stale and skipped: there are no more of those than leavers, so a tick costs O(admitted + leavers).
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] waiting line list   KEYS[4] re-queued zset
  KEYS[5] token bucket hash   KEYS[6] admitting hash
  ARGV[1] most admissions allowed now = min(maxActiveHolds - active holds, free units), by the caller
  ARGV[2] batch size cap   ARGV[3] nonce making hold ids unique   ARGV[4] pool count P
  ARGV[5 .. 4+P] free units of each pool, read by the caller (only the admitter takes units, so
          these can only have grown since)
  Returns {served ticket, count, buyer1, holdId1, pool1, ticket1, buyer2, ...}.
]]
--@include now-ms
--@include buyer-record
-- Stale entries skipped per call at most, so a crowd leaving at once cannot make one call long.
local MAX_SKIPPED = 5000
local sale = redis.call('HMGET', KEYS[1], 'status', 'sealed', 'endsAt', 'admitPerSecond', 'served')
local served = tonumber(sale[5] or 0)
local now = now_ms()
if sale[1] ~= 'active' or sale[2] ~= '1' or now >= tonumber(sale[3]) then return {served, 0} end
local rate = tonumber(sale[4])
local cap = math.max(rate, 1)
local b = redis.call('HMGET', KEYS[5], 'tokens', 'ts')
local tokens = tonumber(b[1] or 0)
local ts = tonumber(b[2] or now)
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate / 1000)
local n = math.min(math.floor(tokens), tonumber(ARGV[1]), tonumber(ARGV[2]))
local pools = tonumber(ARGV[4])
local free = {}
for i = 0, pools - 1 do free[i] = tonumber(ARGV[5 + i]) end
local out = {served, 0}
local count = 0
local skipped = 0
local front = n > 0 and redis.call('ZCARD', KEYS[4]) > 0
while count < n and skipped < MAX_SKIPPED do
  local buyer, ticket, entry = nil, nil, nil
  if front then
    local popped = redis.call('ZPOPMIN', KEYS[4])
    if #popped == 0 then
      front = false
    else
      buyer, ticket = popped[1], tonumber(popped[2])
    end
  end
  if not buyer then
    entry = redis.call('LPOP', KEYS[3])
    if not entry then break end
    local sep = string.find(entry, ':', 1, true)
    ticket = tonumber(string.sub(entry, 1, sep - 1))
    buyer = string.sub(entry, sep + 1)
  end
  local st, t = parse_record(redis.call('HGET', KEYS[2], buyer))
  if st == 'w' and t == ticket then
    local pool = nil
    for j = 0, pools - 1 do
      local p = (ticket + j) % pools
      if free[p] > 0 then pool = p break end
    end
    if pool == nil then
      -- No unit anywhere: the waiter stays at the front with the same ticket.
      if entry then redis.call('LPUSH', KEYS[3], entry) else redis.call('ZADD', KEYS[4], ticket, buyer) end
      break
    end
    free[pool] = free[pool] - 1
    local holdId = 'hold_' .. pool .. '_' .. ticket .. '_' .. ARGV[3]
    redis.call('HSET', KEYS[2], buyer, 'a:' .. ticket .. ':' .. holdId)
    redis.call('HSET', KEYS[6], holdId, buyer)
    count = count + 1
    if ticket > served then served = ticket end
    out[#out + 1] = buyer
    out[#out + 1] = holdId
    out[#out + 1] = pool
    out[#out + 1] = ticket
  else
    skipped = skipped + 1
  end
end
redis.call('HSET', KEYS[5], 'tokens', tostring(tokens - count), 'ts', now)
redis.call('HSET', KEYS[1], 'served', served)
if count > 0 then redis.call('HINCRBY', KEYS[1], 'waiting', -count) end
out[1] = served
out[2] = count
return out
