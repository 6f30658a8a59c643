--[[
  Read-only: one pool's counters and every hold's state, read in one step so the audit compares them
  at the same moment (while admissions and payments go on, separate reads would disagree).
  KEYS[1] pool hash   KEYS[2] set of every hold id of the pool
  ARGV[1] hold key prefix (fs:{sale:ID:pN}:h:)
  Returns {stock, available, held, paying, sold, expired, released, holdId1, state1, holdId2, state2, ...}.
]]
local c = redis.call('HMGET', KEYS[1], 'stock', 'available', 'held', 'paying', 'sold', 'expired', 'released')
local out = {}
for i = 1, 7 do out[i] = tonumber(c[i] or 0) end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', ARGV[1] .. id, 'state') or 'missing'
end
return out
