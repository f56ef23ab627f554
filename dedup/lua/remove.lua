-- Removes one entry. Preceded by levels.lua.
-- ARGV: P, key, key hash, oldest live generation, generation. The postings of a removed entry
-- stay until their generation leaves; they point to an id without a key and find nothing.
local P, key, kh = ARGV[1], ARGV[2], tonumber(ARGV[3])
for gen = tonumber(ARGV[4]), tonumber(ARGV[5]) do
  local id, kk = find(P, gen, key, kh)
  if id then
    redis.call('HDEL', kk, key)
    id = tonumber(id)
    redis.call('HDEL', P .. ':g:' .. gen .. ':r:' .. math.floor(id / 128), tostring(id % 128))
    redis.call('HINCRBY', P .. ':g:' .. gen .. ':m', 'n', -1)
    return 1
  end
end
return 0
