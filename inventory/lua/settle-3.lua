--[[
  Marks a paying hold sold once its order is stored in Postgres. Idempotent: settling a sold hold
  again returns its order id and changes nothing (a retried job, reconciliation, a webhook), and says
  so, so that only the caller that made the change tells the buyer.
  KEYS[1] pool hash   KEYS[2] hold hash   KEYS[3] paying zset
  ARGV[1] order id
  ARGV[2], ARGV[3] optional: a channel and a message, published only when this call sold the hold
  (the buyer's confirmation: told once, by the caller that made the change, in the same step).
  Returns {order id of the hold, 1 if this call sold it | 0 if it was already sold}.
  -1 no such hold, -6 hold is not paying (held, expired or released: no payment of it can finish).
]]
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return -1 end
if state == 'sold' then return {redis.call('HGET', KEYS[2], 'orderId'), 0} end
if state ~= 'paying' then return -6 end
redis.call('HSET', KEYS[2], 'state', 'sold', 'orderId', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'paying', -1)
redis.call('HINCRBY', KEYS[1], 'sold', 1)
redis.call('ZREM', KEYS[3], string.match(KEYS[2], ':h:([^:]+)$'))
if ARGV[2] then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return {ARGV[1], 1}
