-- Claims a tenant's Redis layout marker at its first write (per-profile-layout.md §8): the first
-- caller sets it, every later one reads it. A tenant that already has profiles in the tenant
-- layout (its `profiles` index, written with every v1 batch, exists) is marked `tenant` whatever
-- the caller is configured to, so a process configured for the profile layout never takes over
-- an unmigrated tenant.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:`. ARGV: layout, version, buckets.
-- Returns the marker's fields (HGETALL).
local key = KEYS[1] .. 'layout'
if redis.call('EXISTS', key) == 0 then
  local layout, version = ARGV[1], ARGV[2]
  if layout ~= 'tenant' and redis.call('EXISTS', KEYS[1] .. 'profiles') == 1 then layout, version = 'tenant', '1' end
  redis.call('HSET', key, 'layout', layout, 'version', version, 'buckets', ARGV[3], 'state', 'done')
end
return redis.call('HGETALL', key)
