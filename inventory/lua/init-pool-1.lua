--[[
  Creates a pool with its share of a sale's stock, once. Calling it again changes nothing, so every
  process may call it at start without coordinating. When Redis is rebuilt from the Postgres ledger,
  the units already sold and those whose payment is still in flight are given here.
  KEYS[1] pool hash   fs:{sale:ID:pN}:pool
  ARGV[1] units allotted to this pool   ARGV[2] of which sold   ARGV[3] of which paying
  Returns 1 if created, 0 if it existed.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local stock, sold, paying = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'stock', stock, 'available', stock - sold - paying, 'held', 0, 'paying', paying,
  'sold', sold, 'expired', 0, 'released', 0)
return 1
