--[[
  A buyer's record in the sale's `buyers` hash: one short string, not a hash per buyer.
    'p'                     pre-queued (the place is the rank in the pre-queue)
    'w:<ticket>'            waiting with that ticket
    'a:<ticket>:<holdId>'   being admitted to that hold
    'h:<ticket>:<holdId>'   holding that hold (its own state lives in its pool)
    'l...'                  left; the rest of what it had is kept (admit-done compares the hold id)
  Returns state letter, ticket (number or nil), hold id ('' if none); nil for no record.
]]
local function parse_record(rec)
  if not rec then return nil, nil, '' end
  local st, t, h = string.match(rec, '^(%a):?(%d*):?(.*)$')
  return st, tonumber(t), h
end
