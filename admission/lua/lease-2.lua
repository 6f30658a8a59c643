--[[
  One admitter per sale across all processes: take the lease if free, or renew it if ours.
  Each new holding of the lease gets the next fencing token, and the lease's value names both the
  owner and the token ('<owner>:<token>'). The scripts that change the waiting room for the lease's
  holder (admit-8, admit-done-6) are given that value and do nothing unless it is still the lease's:
  an admitter that was paused (SIGSTOP, a long GC pause) past its lease cannot act on what it read
  before the pause, even if it got the lease back since (a new holding, a new token).
  KEYS[1] lease key (value '<owner>:<token>', expires)   KEYS[2] the sale's token counter (no expiry)
  ARGV[1] owner id   ARGV[2] ttl in ms
  Returns the caller's token (>= 1) if the caller holds the lease now: the same token when it renewed
  its holding, a larger one than any before when it took the lease. 0 if another owner holds it.
]]
--@include now-ms
local v = redis.call('GET', KEYS[1])
if v then
  local owner, token = string.match(v, '^(.*):(%d+)$')
  if owner ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return tonumber(token)
end
-- A missing counter starts at Redis' clock in ms, not at 0: after Redis lost it (a restart from an
-- older snapshot, a FLUSHALL) the tokens still grow past those handed out before, since fewer than
-- one holding a millisecond is ever handed out.
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], now_ms()) end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', tonumber(ARGV[2]))
return token
