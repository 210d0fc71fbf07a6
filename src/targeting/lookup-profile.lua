-- The second round trip of a lookup in the per-profile layout (src/profiles/per-profile-layout.md §5): one
-- profile's stored consent and segments, read in the profile's own slot. lookup.lua's per-profile
-- part, with the reader side of the guard prelude (apply-profile.lua, §2.3):
-- - a tombstone (`state=merged`) sends the caller to the profile it was merged into;
-- - an identifier an unmerge moved out (`movedout[via]`, §3.6) sends it to the profile it went to;
-- - a frozen profile (being merged, §3.3) answers its last state: stale, but the right person's.
-- Segment names and taxonomy are not read here (they are in the tenant's slot): the reader has
-- them from its catalog.
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`. ARGV[1]: via, the `type:id` the profile
-- was found by ('' to skip the movedout check).
-- Returns {'ok', consentJSON or '', segmentId...} or {'moved', profileId}.
local prefix, via = KEYS[1], ARGV[1]
local meta = redis.call('HMGET', prefix .. 'p', 'state', 'into')
if meta[1] == 'merged' then return {'moved', meta[2] or ''} end
if via ~= '' then
  local target = redis.call('HGET', prefix .. 'movedout', via)
  if target then return {'moved', target} end
end
local out = {'ok', redis.call('HGET', prefix .. 'traits', '$consent') or ''}
for _, seg in ipairs(redis.call('SMEMBERS', prefix .. 'segs')) do out[#out + 1] = seg end
return out
