--[[
  Keeps the first prediction each buyer was shown (chance and ETA interval), for the operator's view
  of how good the estimates were (admission/estimate-log.ts). Sampled, so it stays cheap: the first
  one per buyer (HSETNX: several tabs or gateways keep one), and at most ARGV[1] buyers per sale.
  KEYS[1] estimates hash (buyer id -> 'at,chance,eta,low,high[,a,admittedAt]')
  ARGV[1] most buyers kept per sale   ARGV[2 + 2i], ARGV[3 + 2i]: buyer id, record
  Returns how many records were added.
]]
local cap = tonumber(ARGV[1])
local n = redis.call('HLEN', KEYS[1])
local added = 0
for i = 2, #ARGV, 2 do
  if n >= cap then break end
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    n = n + 1
    added = added + 1
  end
end
return added
