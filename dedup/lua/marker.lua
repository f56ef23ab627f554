-- A query or add names the owner the index must have been built for (ARGV's last one, "" for
-- no check): an index that was flushed, lost with its server or built for another store has
-- no marker, or another owner, and answers an error instead of silently finding nothing.
local owner = ARGV[#ARGV]
if owner ~= '' and redis.call('HGET', ARGV[1] .. ':marker', 'owner') ~= owner then
  return redis.error_reply('NEWSDEDUP_INDEX_MISSING')
end
