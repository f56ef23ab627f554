-- Prunes the posting hashes holding generations out of the window; returns how many were
-- left empty (and deleted). Preceded by prune.lua.
-- ARGV: oldest live generation, current generation, then posting hash names.
local gmin, g = tonumber(ARGV[1]), tonumber(ARGV[2])
local deleted = 0
for j = 3, #ARGV do
  local low = tonumber(redis.call('HGET', ARGV[j], 'g'))
  if low and low < gmin and not prune(ARGV[j], gmin, g) then deleted = deleted + 1 end
end
return deleted
