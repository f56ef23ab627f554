-- Taking a page's story locks: every key is SET NX PX, or none (what was set is deleted again
-- on the first key another page holds); never while the whole index is being rebuilt.
-- KEYS: the rebuild lock, the holders set, the page's keys. ARGV: token, milliseconds.
-- Returns 1 (taken), 0 (a key is held by another page), -1 (a rebuild is on).
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
for i = 3, #KEYS do
  if not redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    for j = 3, i - 1 do redis.call('DEL', KEYS[j]) end
    return 0
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
