-- Shared by add, query and remove: the shard levels of a generation (its bitmask) and where
-- a key's member id is filed (the layout: dedup/index.py).
local function levels(mask)
  local found = {}
  for lv = 0, 6 do
    if bit.band(mask, bit.lshift(1, lv)) ~= 0 then found[#found + 1] = lv end
  end
  return found
end
local function key_shard(P, gen, lv, kh)
  local kbits = math.max(0, 4 * lv - 5)
  return P .. ':g:' .. gen .. ':k:' .. lv .. ':' .. math.floor(kh / 2 ^ (24 - kbits))
end
-- (member id, key→id hash) of key in generation gen, or nil
local function find(P, gen, key, kh)
  local mask = redis.call('HGET', P .. ':g:' .. gen .. ':m', 'l')
  if not mask then return nil end
  for _, lv in ipairs(levels(tonumber(mask))) do
    local kk = key_shard(P, gen, lv, kh)
    local id = redis.call('HGET', kk, key)
    if id then return id, kk end
  end
  return nil
end
