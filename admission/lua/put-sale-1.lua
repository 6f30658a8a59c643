--[[
  Writes a sale's runtime settings. 'create' mode writes only if the sale is not there yet (so every
  process may load sales from Postgres at start); 'update' only if it is; 'heal' either way (a heal
  from the ledger writes what the ledger says, over whatever Redis kept).
  KEYS[1] sale hash   ARGV[1] 'create' | 'update' | 'heal'   ARGV[2..] field, value, field, value ...
  Never `soldOut`: mark-sold-out-1 is its one writer; a field list naming it is an error reply and
  nothing is written.
  Returns 1 if written, 0 if not (exists on create, missing on update).
]]
for i = 2, #ARGV, 2 do
  if ARGV[i] == 'soldOut' then return redis.error_reply('put-sale-1: soldOut is written only by mark-sold-out-1') end
end
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] ~= 'heal' and (ARGV[1] == 'create') == exists then return 0 end
local fv = {}
for i = 2, #ARGV do fv[#fv + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fv))
return 1
