-- Adds one entry. Preceded by levels.lua, prune.lua and marker.lua.
-- ARGV: P, key, key hash (24 bits), generation, oldest live generation, current generation,
-- ttl, bands, paragraph cap, postings per article (for sizing), postings per shard and
-- generation, expected entries per generation (sizes an empty index's first one), most levels
-- per generation, the posting fields (8 bytes each) end to end, the hex of the postings' first
-- 3 bytes end to end, the owner.
local P, key, kh = ARGV[1], ARGV[2], tonumber(ARGV[3])
local g, gmin, gnow, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local bands, cap, per_article, per_shard = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local expected, max_levels = tonumber(ARGV[12]), tonumber(ARGV[13])
local packed, hex = ARGV[14], ARGV[15]
for gen = gmin, gnow do
  if find(P, gen, key, kh) then return 0 end
end
local meta = P .. ':g:' .. g .. ':m'
local added = tonumber(redis.call('HGET', meta, 'a') or '0')
local mask = tonumber(redis.call('HGET', meta, 'l') or '0')
local function level_for(articles)
  local level = 0
  while level < 6 and 16 ^ level < articles * per_article / per_shard do level = level + 1 end
  return level
end
local lv
if mask == 0 then
  -- a new generation is sized like the one before it, or by the expected rate if none
  local before = tonumber(redis.call('HGET', P .. ':g:' .. (g - 1) .. ':m', 'a') or '0')
  if before == 0 then before = expected end
  lv = level_for(before)
else
  local used = levels(mask)
  lv = used[#used]
  -- a generation that outgrows its size gets a bigger level, at most max_levels in all (a
  -- query looks each posting up once per level); past that its hashes just get fuller
  if #used < max_levels then lv = math.max(lv, level_for(added + 1)) end
end
local id = redis.call('INCR', P .. ':next')
redis.call('HSET', meta, 'a', added + 1, 'l', bit.bor(mask, bit.lshift(1, lv)))
redis.call('HINCRBY', meta, 'n', 1)
redis.call('EXPIRE', meta, ttl)
local kk = key_shard(P, g, lv, kh)
redis.call('HSET', kk, key, id)
redis.call('EXPIRE', kk, ttl)
local rk = P .. ':g:' .. g .. ':r:' .. math.floor(id / 128)
redis.call('HSET', rk, tostring(id % 128), key)
redis.call('EXPIRE', rk, ttl)
local base = P .. ':p:' .. lv .. ':'
local sub = string.sub
for i = 1, #packed / 8 do
  local field = sub(packed, 8 * i - 7, 8 * i)
  local sk = base .. sub(hex, 6 * i - 5, 6 * i - 6 + lv)
  local got = redis.call('HMGET', sk, field, 'g')
  local current, low = got[1], tonumber(got[2])
  if low and low < gmin then low = prune(sk, gmin, gnow) end
  local value = id
  if current then
    local _, count = string.gsub(current, ',', '')
    -- a paragraph already shared by more than `cap` keys is boilerplate: stop growing it
    if i <= bands or count < cap then value = current .. ',' .. id else value = nil end
  end
  if value then
    if low and low <= g then
      redis.call('HSET', sk, field, value)
    else
      redis.call('HSET', sk, field, value, 'g', g)
    end
  end
  -- the hash lives as long as its newest generation (a rebuild may file older ones later)
  if low then redis.call('EXPIRE', sk, ttl, 'GT') else redis.call('EXPIRE', sk, ttl) end
end
return 1
