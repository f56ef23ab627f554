-- Releasing a page's story locks: only the keys still holding our token (one that expired may
-- be another page's now). KEYS: the holders set, the page's keys. ARGV: token.
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
