-- Counts one impression toward frequency caps, once per impression id.
-- KEYS[1] tenant prefix `<ns>:{<tenant>}:` (every key below shares its hash tag: one slot)
-- ARGV: impressionId, at (ms), member (`<channel>|<impressionId>`), keepMs, trimBelow (ms),
--       then the zset suffixes `fc:<subject>:<scope>:<target>` to add the impression to.
-- Returns 1 when counted now, 0 when the impression id was counted before.
-- Paused while the tenant's Redis layout is migrated, and for good once it is (per-profile-layout.md §8).
local layoutMark = redis.call('HMGET', KEYS[1] .. 'layout', 'version', 'state') if layoutMark[1] == '2' or layoutMark[2] == 'migrating' then return {'paused'} end
local prefix = KEYS[1]
local keep = ARGV[4]
if not redis.call('SET', prefix .. 'fcimp:' .. ARGV[1], '1', 'NX', 'PX', keep) then return 0 end
for i = 6, #ARGV do
  local k = prefix .. ARGV[i]
  redis.call('ZADD', k, ARGV[2], ARGV[3])
  -- Nothing older than the longest window can count again: exact windows need no more.
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[5])
  redis.call('PEXPIRE', k, keep)
  -- A profile's zsets are listed in `p:<id>:fckeys`, so a merge (apply-event.lua) moves them.
  local pid, rest = string.match(ARGV[i], '^fc:p:([^:]+):(.+)$')
  if pid then
    local listed = prefix .. 'p:' .. pid .. ':fckeys'
    redis.call('SADD', listed, rest)
    redis.call('PEXPIRE', listed, keep)
  end
end
return 1
