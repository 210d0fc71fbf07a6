-- Records a consent refusal on the profile an event's identifiers already resolve to, so that a
-- withdrawal replaces an earlier grant. It creates no profile and links no identifier.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:`.
-- ARGV: order token (as apply-event.lua), trait name, consent JSON, n identifiers, n x `type:id`.
-- Returns {profile id, 1 when the stored consent changed else 0}, or false when no profile has
-- any of the identifiers.
-- Paused while the tenant's Redis layout is migrated, and for good once it is (per-profile-layout.md §8).
local layoutMark = redis.call('HMGET', KEYS[1] .. 'layout', 'version', 'state') if layoutMark[1] == '2' or layoutMark[2] == 'migrating' then return {'paused'} end
local prefix = KEYS[1]
local order, name, value = ARGV[1], ARGV[2], ARGV[3]
local nIds = tonumber(ARGV[4])

local pid = false
for i = 1, nIds do
  local p = redis.call('GET', prefix .. 'id:' .. ARGV[4 + i])
  if p then pid = p break end
end
if not pid then return false end

-- The same last-write-wins by (event time, messageId) as every trait: order does not matter.
local pk = prefix .. 'p:' .. pid
local cur = redis.call('HGET', pk .. ':tord', name)
if (not cur) or cur < order then
  local before = redis.call('HGET', pk .. ':traits', name)
  redis.call('HSET', pk .. ':traits', name, value)
  redis.call('HSET', pk .. ':tord', name, order)
  if before ~= value then return {pid, 1} end
end
return {pid, 0}
