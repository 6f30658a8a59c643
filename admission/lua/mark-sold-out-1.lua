--[[
  The only writer of a sale's `soldOut` field (join-4 reads it; put-sale-1 refuses to write it). The
  admitter's tick sets it from the pools it read, a restock clears it, a heal sets it from the healed
  pools. One writer, so what the field means (nothing free and nothing held or paying that could come
  back) is said once, here and in its callers' one wrapper (AdmissionScripts.markSoldOut).
  A missing sale hash is left missing, never made a stub holding this one field: a sale Redis lost is
  healed whole from the ledger by the Redis guard, which a stub would hide from lossReason no longer.
  KEYS[1] sale hash   ARGV[1] '1' sold out | '0' not (an absent field reads as '0')
  Returns 1 if the field changed, 0 if it already said so, -1 if the sale hash is missing (nothing
  written). An ARGV[1] other than '1' or '0' is an error reply (a caller's bug, nothing written).
]]
if ARGV[1] ~= '1' and ARGV[1] ~= '0' then return redis.error_reply('mark-sold-out-1: ARGV[1] must be 1 or 0, got ' .. tostring(ARGV[1])) end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if (redis.call('HGET', KEYS[1], 'soldOut') or '0') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'soldOut', ARGV[1])
return 1
