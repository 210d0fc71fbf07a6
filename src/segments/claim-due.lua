-- Claims profiles whose membership may have changed with time: takes up to `limit` due at `now`
-- and pushes each to `now + lease`, in one step, so two processors never take the same profile
-- and one that dies mid-way leaves it due again when the lease ends.
-- KEYS[1]: the tenant's `due` zset. ARGV: now ms, limit, lease ms.
-- Returns profileId, due time, ...
local now, limit, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], now + lease, due[i])
end
return due
