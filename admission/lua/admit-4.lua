--[[
  One admitter tick: refills the sale's token bucket and moves the first n waiters to 'admitting',
  n = min(tokens, ARGV[2], ARGV[3]), giving each a hold id in a pool that has a free unit. The units
  themselves are taken by the caller in each pool's own slot (inventory take, idempotent per hold id);
  the 'admitting' hash is the durable list of that work, so a crashed admitter's successor finishes it.
  KEYS[1] sale hash   KEYS[2] waiting zset   KEYS[3] token bucket hash   KEYS[4] admitting hash
  ARGV[1] buyer key prefix (fs:{sale:ID}:b:)
  ARGV[2] most admissions allowed now = min(maxActiveHolds - active holds, free units), by the caller
  ARGV[3] batch size cap   ARGV[4] nonce making hold ids unique   ARGV[5] pool count P
  ARGV[6 .. 5+P] free units of each pool, read by the caller (only the admitter takes units, so
          these can only have grown since)
  Returns {served ticket, count, buyer1, holdId1, pool1, ticket1, buyer2, ...}.
]]
--@include now-ms
local sale = redis.call('HMGET', KEYS[1], 'status', 'sealed', 'endsAt', 'admitPerSecond', 'served')
local served = tonumber(sale[5] or 0)
local now = now_ms()
if sale[1] ~= 'active' or sale[2] ~= '1' or now >= tonumber(sale[3]) then return {served, 0} end
local rate = tonumber(sale[4])
local cap = math.max(rate, 1)
local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
local tokens = tonumber(b[1] or 0)
local ts = tonumber(b[2] or now)
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate / 1000)
local n = math.min(math.floor(tokens), tonumber(ARGV[2]), tonumber(ARGV[3]))
local pools = tonumber(ARGV[5])
local free = {}
for i = 0, pools - 1 do free[i] = tonumber(ARGV[6 + i]) end
local out = {served, 0}
local count = 0
while count < n do
  local popped = redis.call('ZPOPMIN', KEYS[2])
  if #popped == 0 then break end
  local buyer, ticket = popped[1], tonumber(popped[2])
  local bk = ARGV[1] .. buyer
  if redis.call('HGET', bk, 'state') == 'waiting' then
    local pool = nil
    for j = 0, pools - 1 do
      local p = (ticket + j) % pools
      if free[p] > 0 then pool = p break end
    end
    if pool == nil then
      redis.call('ZADD', KEYS[2], ticket, buyer)
      break
    end
    free[pool] = free[pool] - 1
    local holdId = 'hold_' .. pool .. '_' .. ticket .. '_' .. ARGV[4]
    redis.call('HSET', bk, 'state', 'admitting', 'holdId', holdId, 'pool', pool)
    redis.call('HSET', KEYS[4], holdId, buyer)
    count = count + 1
    if ticket > served then served = ticket end
    out[#out + 1] = buyer
    out[#out + 1] = holdId
    out[#out + 1] = pool
    out[#out + 1] = ticket
  end
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - count), 'ts', now)
redis.call('HSET', KEYS[1], 'served', served)
out[1] = served
out[2] = count
return out
