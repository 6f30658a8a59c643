--[[
  One admitter per sale across all processes: take the lease if free, or renew it if ours.
  KEYS[1] lease key   ARGV[1] owner id   ARGV[2] ttl in ms
  Returns 1 if the caller holds the lease now, 0 if another owner does.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2])) then return 1 end
return 0
