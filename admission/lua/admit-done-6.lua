--[[
  Finishes one admission after its unit was taken (or could not be): the buyer record points at the
  hold, or the buyer goes back to the front of the queue with their ticket.
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] admitting hash   KEYS[4] re-queued zset
  ARGV[1] buyer id   ARGV[2] hold id   ARGV[3] 'held' | 'requeue'
  Returns 'held', 'requeued', 'left' (the buyer left meanwhile, or left and joined again so the record
  no longer points at this hold: the caller gives the unit back), or 'stale' (this admission was
  already finished).
]]
--@include buyer-record
local pending = redis.call('HDEL', KEYS[3], ARGV[2])
local st, ticket, holdId = parse_record(redis.call('HGET', KEYS[2], ARGV[1]))
if holdId ~= ARGV[2] then
  -- Unfinished until now, yet the buyer points elsewhere: they left and joined again (a new place
  -- drops the old hold id). Nobody will ever pay for this unit, so it must go back, not leak until
  -- its deadline.
  if pending == 1 then return 'left' end
  return 'stale'
end
if st == 'l' then return 'left' end
if st ~= 'a' then return 'stale' end
if ARGV[3] == 'held' then
  redis.call('HSET', KEYS[2], ARGV[1], 'h:' .. ticket .. ':' .. holdId)
  redis.call('HINCRBY', KEYS[1], 'admitted', 1)
  return 'held'
end
-- Back to the front: the re-queued set is read before the line, and this ticket is older than
-- every ticket still in the line.
redis.call('HSET', KEYS[2], ARGV[1], 'w:' .. ticket)
redis.call('ZADD', KEYS[4], ticket, ARGV[1])
redis.call('HINCRBY', KEYS[1], 'waiting', 1)
return 'requeued'
