-- Tests only, in place of now-ms (shared/lua-loader.ts, option testClock): the time is the caller's,
-- passed as one extra last ARGV and taken off ARGV before the script reads it, so a test moves a
-- deadline or a token bucket forward without sleeping. Production scripts never contain this.
local TEST_NOW_MS = tonumber(table.remove(ARGV))
local function now_ms()
  return TEST_NOW_MS
end
