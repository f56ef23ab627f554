-- Entries inside the window. ARGV: P, oldest live generation, generation.
local total = 0
for gen = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  total = total + tonumber(redis.call('HGET', ARGV[1] .. ':g:' .. gen .. ':m', 'n') or '0')
end
return total
