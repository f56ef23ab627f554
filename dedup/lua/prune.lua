-- Drops from posting hash sk the fields of generations before gmin (g: the current
-- generation, which tells the 2-byte generation tags apart); returns the oldest generation
-- left, or nil when nothing is left (the hash is deleted). A hash that a long value (a
-- paragraph many entries share) turned into a hashtable is written anew, so that it goes back
-- to a listpack once that value has left: a hash is never converted back by Redis itself.
-- cmd on sk with the values of list, a few thousand at a time (what unpack() can take)
local function call_chunked(cmd, sk, list)
  for i = 1, #list, 4000 do redis.call(cmd, sk, unpack(list, i, math.min(#list, i + 3999))) end
end
local function prune(sk, gmin, g)
  local all = redis.call('HGETALL', sk)
  local stale, kept, low = {}, {}, nil
  for j = 1, #all, 2 do
    local f = all[j]
    if #f == 8 then
      local hi, lo = string.byte(f, 7, 8)
      local gen = g - (g - (hi * 256 + lo)) % 65536
      if gen < gmin then
        stale[#stale + 1] = f
      else
        kept[#kept + 1] = f; kept[#kept + 1] = all[j + 1]
        if not low or gen < low then low = gen end
      end
    end
  end
  if not low then
    redis.call('DEL', sk)
    return nil
  end
  if #stale > 0 then
    if redis.call('OBJECT', 'ENCODING', sk) == 'hashtable' then
      local pttl = redis.call('PTTL', sk)
      redis.call('DEL', sk)
      redis.call('HSET', sk, 'g', low)
      call_chunked('HSET', sk, kept)
      if pttl > 0 then redis.call('PEXPIRE', sk, pttl) end
      return low
    end
    call_chunked('HDEL', sk, stale)
  end
  redis.call('HSET', sk, 'g', low)
  return low
end
