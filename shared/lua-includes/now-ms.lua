-- Redis' own clock, so every gateway and worker agrees on deadlines whatever their clocks say.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
