-- One command over a long argument list, in slices: Lua's unpack has a stack limit (~8000 values).
-- `step` must be a multiple of the command's group size (2 for HSET field/value pairs).
local function call_in_slices(cmd, key, args, step)
  for i = 1, #args, step do
    redis.call(cmd, key, unpack(args, i, math.min(i + step - 1, #args)))
  end
end
