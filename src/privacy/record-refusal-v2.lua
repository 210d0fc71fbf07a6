-- Records a consent refusal on one profile of the per-profile layout (src/profiles/per-profile-layout.md §6,
-- step 7): record-refusal.lua without its identifier walk; the caller resolved the event's
-- identifiers to this profile (R1, shared with apply-profile.lua). It creates no profile and links
-- no identifier. The adapter puts profile-prelude.lua in front (prefix, pid, pk, state, into, created).
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`.
-- ARGV: order token (as apply-profile.lua), trait name, consent JSON.
-- Returns {profile id, 1 when the stored consent changed else 0}, {'moved', into} (merged or being
-- merged into `into`: record it there), or false when the profile was never born.
local order, name, value = ARGV[1], ARGV[2], ARGV[3]

-- The guard of §2.3: a frozen profile takes no writes, a tombstone none at all.
if state == 'merged' or state == 'frozen' then return {'moved', into} end
if not created then return false end

-- The same last-write-wins by (event time, messageId) as every trait: order does not matter.
local cur = redis.call('HGET', prefix .. 'tord', name)
if (not cur) or cur < order then
  local before = redis.call('HGET', prefix .. 'traits', name)
  redis.call('HSET', prefix .. 'traits', name, value)
  redis.call('HSET', prefix .. 'tord', name, order)
  if before ~= value then return {pid, 1} end
end
return {pid, 0}
