--[[
  Adds units to a pool: stock and available grow together, so the pool's equation still holds.
  KEYS[1] pool hash   ARGV[1] units to add (> 0)
  Returns the pool's available count after. -1 pool missing, -7 units not a positive integer.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = tonumber(ARGV[1])
if not n or n <= 0 or n ~= math.floor(n) then return -7 end
redis.call('HINCRBY', KEYS[1], 'stock', n)
return redis.call('HINCRBY', KEYS[1], 'available', n)
