--[[
  Reconciliation's worklist in one pool: the holds paying for at least ARGV[1] ms, measured with Redis'
  own clock — the clock begin-pay-4.lua scored them with. A worker comparing the scores with its own
  clock would, when ahead, give back payments that have only just begun (and whose job may not be
  queued yet), and, when behind, never see payments that are stuck.
  KEYS[1] paying zset (score = when paying began, Redis ms)
  ARGV[1] minimum time paying, ms   ARGV[2] at most this many holds
  Returns the hold ids, longest paying first. Changes nothing.
]]
--@include now-ms
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms() - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
