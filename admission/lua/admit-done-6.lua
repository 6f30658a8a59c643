--[[
  Finishes one admission after its unit was taken (or could not be): the buyer record points at the
  hold, or the buyer goes back to the front of the queue with their ticket.
  Fenced like admit-8: only the lease's current holder finishes admissions. admit-8 counts every
  entry of the admitting hash against maxActiveHolds and relies on an entry leaving it only in a call
  of the holder, which is sequential with the holder's own reads of the pools; a paused admitter that
  wakes after its lease ended leaves its entries for the holder to finish (take is idempotent per
  hold id, so the holder finds the unit the paused one took, or takes it).
  KEYS[1] sale hash   KEYS[2] buyers hash   KEYS[3] admitting hash   KEYS[4] re-queued zset
  KEYS[5] admitting-since zset   KEYS[6] lease key
  ARGV[1] buyer id   ARGV[2] hold id   ARGV[3] 'held' | 'requeue' ('requeue' only once the hold id is
  void: no unit was taken under it and none ever will be)   ARGV[4] the caller's lease value
  Returns 'held', 'requeued', 'left' (the buyer left meanwhile, or left and joined again so the record
  no longer points at this hold: the caller gives the unit back), 'stale' (this admission was
  already finished), or 'fenced' (the caller does not hold the lease under ARGV[4]: nothing changes).
]]
--@include buyer-record
if redis.call('GET', KEYS[6]) ~= ARGV[4] then return 'fenced' end
local pending = redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
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
