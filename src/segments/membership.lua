-- Writes a profile's segment membership, fenced by the profile version the evaluation read (and,
-- at the same version, by the evaluation time): an evaluation older than the last one written
-- changes nothing, its schedule included.
-- KEYS[1]: the tenant prefix. ARGV: profileId, version, evaluation time ms, schedule
-- ('none'|'lower'|'set'), next change ms ('' = none), definitions fingerprint ('' = partial
-- evaluation), then segmentId / '1'|'0' pairs.
-- Returns the changes as a flat list: 'enter'|'exit', segmentId, ..., or {'stale'} when fenced off.
-- Paused while the tenant's Redis layout is migrated, and for good once it is (per-profile-layout.md §8).
local layoutMark = redis.call('HMGET', KEYS[1] .. 'layout', 'version', 'state') if layoutMark[1] == '2' or layoutMark[2] == 'migrating' then return {'paused'} end
local prefix = KEYS[1]
local pid, version, at = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local schedule, nextChange, defs = ARGV[4], ARGV[5], ARGV[6]
local pk = prefix .. 'p:' .. pid
local fence = redis.call('HMGET', pk, 'seg_version', 'seg_at')
local fenceVersion, fenceAt = tonumber(fence[1] or '0'), tonumber(fence[2] or '0')
-- A write without an evaluation time (0) is fenced by the version alone.
if version < fenceVersion or (version == fenceVersion and at > 0 and at < fenceAt) then return {'stale'} end
redis.call('HSET', pk, 'seg_version', version)
if at > 0 then redis.call('HSET', pk, 'seg_at', at) end
if defs ~= '' then redis.call('HSET', pk, 'seg_defs', defs) end
if schedule == 'set' then
  if nextChange == '' then redis.call('ZREM', prefix .. 'due', pid)
  else redis.call('ZADD', prefix .. 'due', nextChange, pid) end
elseif schedule == 'lower' and nextChange ~= '' then
  redis.call('ZADD', prefix .. 'due', 'LT', nextChange, pid)
end
local changes = {}
local i = 7
while i < #ARGV do
  local seg, inside = ARGV[i], ARGV[i + 1]
  if inside == '1' then
    if redis.call('SADD', pk .. ':segs', seg) == 1 then
      redis.call('SADD', prefix .. 'seg:' .. seg .. ':members', pid)
      changes[#changes + 1] = 'enter'
      changes[#changes + 1] = seg
    end
  elseif redis.call('SREM', pk .. ':segs', seg) == 1 then
    redis.call('SREM', prefix .. 'seg:' .. seg .. ':members', pid)
    changes[#changes + 1] = 'exit'
    changes[#changes + 1] = seg
  end
  i = i + 2
end
return changes
