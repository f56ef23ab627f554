-- The keys of the entries sharing a posting with a page. Preceded by levels.lua and marker.lua.
-- ARGV: P, oldest live generation, current generation, bands, paragraph cap, the postings'
-- first 6 bytes end to end, the hex of their first 3 bytes end to end (two arguments whatever
-- the number of postings: less to encode and parse than two per posting), the owner. Levels
-- are grouped first, so that one HMGET per posting and level asks for the fields of all the
-- live generations filed at that level.
local P, gmin, g = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local bands, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local packed, hex = ARGV[6], ARGV[7]
local sub, char = string.sub, string.char
local n = #packed / 6
local gens_at, order = {}, {}
for gen = gmin, g do
  local mask = redis.call('HGET', P .. ':g:' .. gen .. ':m', 'l')
  if mask then
    for _, lv in ipairs(levels(tonumber(mask))) do
      if not gens_at[lv] then gens_at[lv] = {}; order[#order + 1] = lv end
      local gens = gens_at[lv]
      gens[#gens + 1] = gen
    end
  end
end
local prefixes = {}
for i = 1, n do prefixes[i] = sub(packed, 6 * i - 5, 6 * i) end
local hits, para = {}, {}
for _, lv in ipairs(order) do
  local gens = gens_at[lv]
  local tags = {}
  for k, gen in ipairs(gens) do tags[k] = char(math.floor(gen / 256) % 256, gen % 256) end
  local base = P .. ':p:' .. lv .. ':'
  local fields = {}
  for i = 1, n do
    for k = 1, #gens do fields[k] = prefixes[i] .. tags[k] end
    local values = redis.call('HMGET', base .. sub(hex, 6 * i - 5, 6 * i - 6 + lv), unpack(fields))
    for k = 1, #gens do
      local value = values[k]
      if value then
        local list = hits
        if i > bands then list = para[i] or {}; para[i] = list end
        for id in string.gmatch(value, '[^,]+') do list[#list + 1] = gens[k]; list[#list + 1] = id end
      end
    end
  end
end
for _, list in pairs(para) do
  if #list / 2 <= cap then
    for j = 1, #list do hits[#hits + 1] = list[j] end
  end
end
local seen, found = {}, {}
for j = 1, #hits, 2 do
  local gen, id = hits[j], tonumber(hits[j + 1])
  local tag = gen .. ':' .. id
  if not seen[tag] then
    seen[tag] = true
    local key = redis.call('HGET', P .. ':g:' .. gen .. ':r:' .. math.floor(id / 128), tostring(id % 128))
    if key then found[#found + 1] = key end
  end
end
return found
