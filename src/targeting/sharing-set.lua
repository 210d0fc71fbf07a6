-- Replaces one partner's data-sharing agreement and returns the previous one (false when none),
-- atomically, so two concurrent changes are each recorded against what they really replaced.
-- KEYS[1]: the tenant's `sharing` hash. ARGV[1]: partner id, ARGV[2]: the agreement as JSON.
local before = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return before
