--[[
  The outcome of recorded predictions: these buyers were just admitted (given a hold) at ARGV[1].
  Only a buyer with a record and no outcome yet changes (a later admission of the same buyer, after
  an expiry and a new place, is not the place the prediction was about).
  KEYS[1] estimates hash (record-estimates-1)
  ARGV[1] when admitted (ms)   ARGV[2 ..] buyer ids
  Returns how many records got their outcome.
]]
local done = 0
for i = 2, #ARGV do
  local rec = redis.call('HGET', KEYS[1], ARGV[i])
  if rec and not string.find(rec, ',a,', 1, true) then
    redis.call('HSET', KEYS[1], ARGV[i], rec .. ',a,' .. ARGV[1])
    done = done + 1
  end
end
return done
