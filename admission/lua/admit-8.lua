--[[
  One admitter tick: refills the sale's token bucket and moves the first n waiters to 'admitting',
  n = min(tokens, ARGV[2] - unfinished admissions, ARGV[3]), giving each a hold id in a pool that has
  a free unit. The units themselves are taken by the caller in each pool's own slot (inventory take,
  idempotent per hold id); the 'admitting' hash is the durable list of that work, so the lease holder
  finishes it if the admitter that began it does not (crash, lost lease, lost replies).
  Waiters come in ticket order: first the re-queued (their tickets are older than anything still in the
  line), then the line. A line entry whose buyer left, or left and joined again with a later ticket,
  is stale and skipped: there are no more of those than leavers, so a tick costs O(admitted + leavers).

  Fencing: ARGV[2] and the free units come from the caller's reads. They are sound only if nobody else
  admitted since, which holds while the caller's holding of the lease lasts (only its holder admits or
  finishes admissions). So the call admits nothing unless ARGV[1] is still the lease's value: a caller
  paused between its reads and this call, whose lease meanwhile expired (and maybe went to another
  process, which admitted on fresher reads), is refused.
  Unfinished admissions (entries of KEYS[6]) count against ARGV[2]: a unit may still be taken for each
  of them after the caller's read of the pools (by a paused admitter that wakes, or the holder's own
  finishing of abandoned admissions). An entry leaves KEYS[6] only in admit-done-6, which is fenced
  too, and only once its unit is taken or its hold id voided (inventory void-hold: no unit can ever be
  taken under it). So every unit taken after the caller's read is one of this call's admissions or one
  counted here, and held + paying stays within maxActiveHolds.

  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] waiting line list   KEYS[4] re-queued zset
  KEYS[5] token bucket hash   KEYS[6] admitting hash (hold id -> buyer)
  KEYS[7] admitting-since zset (hold id -> when admitted, ms)   KEYS[8] lease key
  ARGV[1] the caller's lease value ('<owner>:<token>', from lease-2)
  ARGV[2] most admissions allowed by the caller's reads = min(maxActiveHolds - (held + paying),
          free units), read after the caller got its lease
  ARGV[3] batch size cap   ARGV[4] nonce making hold ids unique   ARGV[5] pool count P
  ARGV[6 .. 5+P] free units of each pool, read by the caller (only the lease holder's admissions take
          units, so these can only have grown since, less what the unfinished admissions take)
  Returns {served ticket, count, buyer1, holdId1, pool1, ticket1, buyer2, ...}.
  -7 the caller does not hold the lease under ARGV[1] (nothing changes).
]]
--@include now-ms
--@include call-in-slices
-- Stale entries skipped per call at most, so a crowd leaving at once cannot make one call long.
local MAX_SKIPPED = 5000
if redis.call('GET', KEYS[8]) ~= ARGV[1] then return -7 end
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
local room = tonumber(ARGV[2]) - redis.call('HLEN', KEYS[6])
local n = math.min(math.floor(tokens), room, tonumber(ARGV[3]))
local pools = tonumber(ARGV[5])
local free = {}
for i = 0, pools - 1 do free[i] = tonumber(ARGV[6 + i]) end
local out = {served, 0}
local count = 0
local skipped = 0
local full = false
local records, admitting, since = {}, {}, {}

local poolName = {}
for p = 0, pools - 1 do poolName[p] = tostring(p) end

-- Admits one waiter whose record was read as `rec`: true if admitted, false if no pool has a unit
-- (the caller puts the waiter back at the front), nil if the entry is stale. The ticket comes as the
-- string stored in the line; it is turned into a number once (number-to-string is Lua's slow path).
local function try(buyer, ticketStr, rec)
  if rec ~= 'w:' .. ticketStr then
    skipped = skipped + 1
    return nil
  end
  local ticket = tonumber(ticketStr)
  local pool = nil
  for j = 0, pools - 1 do
    local p = (ticket + j) % pools
    if free[p] > 0 then pool = p break end
  end
  if pool == nil then return false end
  free[pool] = free[pool] - 1
  local holdId = 'hold_' .. poolName[pool] .. '_' .. ticketStr .. '_' .. ARGV[4]
  -- Explicit indexes: `#t` is a search in Lua 5.1, and this runs once per admission.
  local r, o = count * 2, 2 + count * 4
  records[r + 1] = buyer
  records[r + 2] = 'a:' .. ticketStr .. ':' .. holdId
  admitting[r + 1] = holdId
  admitting[r + 2] = buyer
  since[r + 1] = now
  since[r + 2] = holdId
  out[o + 1] = buyer
  out[o + 2] = holdId
  out[o + 3] = pool
  out[o + 4] = ticket
  count = count + 1
  if ticket > served then served = ticket end
  return true
end

-- The re-queued first (rare: a take that found its pool empty), one at a time.
if n > 0 and redis.call('ZCARD', KEYS[4]) > 0 then
  while count < n and skipped < MAX_SKIPPED do
    local popped = redis.call('ZPOPMIN', KEYS[4])
    if #popped == 0 then break end
    if try(popped[1], popped[2], redis.call('HGET', KEYS[2], popped[1])) == false then
      redis.call('ZADD', KEYS[4], popped[2], popped[1])
      full = true
      break
    end
  end
end

-- Then the line, a chunk at a time: one LPOP and one HMGET per chunk, not per waiter. A buyer's
-- records are read before any of this chunk is admitted, which is sound: an entry is admitted only
-- if its ticket is the one its buyer's record holds, and each ticket is in the line once.
while not full and count < n and skipped < MAX_SKIPPED do
  local entries = redis.call('LPOP', KEYS[3], math.min(n - count, MAX_SKIPPED - skipped, 1000))
  if not entries then break end
  local buyers, tickets = {}, {}
  for i, e in ipairs(entries) do
    local sep = string.find(e, ':', 1, true)
    tickets[i] = string.sub(e, 1, sep - 1)
    buyers[i] = string.sub(e, sep + 1)
  end
  local recs = redis.call('HMGET', KEYS[2], unpack(buyers))
  for i = 1, #entries do
    if try(buyers[i], tickets[i], recs[i]) == false then
      -- No unit anywhere: this waiter and the rest of the chunk go back to the front, in order.
      local back = {}
      for j = #entries, i, -1 do back[#back + 1] = entries[j] end
      redis.call('LPUSH', KEYS[3], unpack(back))
      full = true
      break
    end
  end
end
if #records > 0 then
  call_in_slices('HSET', KEYS[2], records, 1000)
  call_in_slices('HSET', KEYS[6], admitting, 1000)
  call_in_slices('ZADD', KEYS[7], since, 1000)
end
redis.call('HSET', KEYS[5], 'tokens', tostring(tokens - count), 'ts', now)
redis.call('HSET', KEYS[1], 'served', served)
if count > 0 then redis.call('HINCRBY', KEYS[1], 'waiting', -count) end
out[1] = served
out[2] = count
return out
