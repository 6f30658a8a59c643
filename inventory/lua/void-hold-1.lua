--[[
  Gives up a hold id for good after a take of it found its pool empty: from now on take-4 answers -2
  for it. Then the buyer can go back to the queue without a unit being taken under this id later by
  an admitter that was paused with the id in hand and wakes up after a unit came back: a unit taken
  that way would be held by nobody and counted by no admitter (admit-8 counts only admissions still
  listed as unfinished).
  A void id is a hold key with only `state` = 'void': no buyer, no deadline, not in the pool's set of
  holds, no counter touched, so audits, snapshots and buyers never see it.
  KEYS[1] hold hash
  Returns 0 when the id is void (now, or already), or {deadline_ms, 0} when a hold exists under it:
  taken after all (by that paused admitter, first), the same reply as a repeated take, and the caller
  finishes the admission as held.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'void' then return 0 end
if state then return {tonumber(redis.call('HGET', KEYS[1], 'deadline')), 0} end
redis.call('HSET', KEYS[1], 'state', 'void')
return 0
