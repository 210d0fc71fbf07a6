-- Claims or renews the lease of a segment's backfill job for `owner`; one process runs a job.
-- KEYS[1]: the lease key. ARGV: owner, lease ms. Returns 1 when `owner` holds the lease now.
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
