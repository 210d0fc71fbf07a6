-- Writes a profile's segment membership in the per-profile layout (src/profiles/per-profile-layout.md §4.1):
-- membership.lua with the same fence (the profile version the evaluation read and, at the same
-- version, the evaluation time), in the profile's own slot. The cross-profile writes (`due`,
-- `seg:<id>:members`) are not here: they go to the profile's bucket afterwards (bucket-sync.lua).
-- In their place the profile keeps `next_change` in `p`, and `seg_seq` counts the writes that
-- changed `segs` or `next_change` (the bucket applies them in that order).
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`. ARGV: version, evaluation time ms,
-- schedule ('none'|'lower'|'set'), next change ms ('' = none), definitions fingerprint
-- ('' = partial evaluation), then segmentId / '1'|'0' pairs.
-- Returns {'ok', seq, changes, schedule, next change}: changes a flat list 'enter'|'exit',
-- segmentId, ...; seq the profile's `seg_seq` after the write, with schedule and next change what
-- the bucket must apply to `due`, when this write bumped it; otherwise schedule 'none' (nothing for
-- the bucket to do),
-- or {'stale', seq} (an evaluation older than the last written: nothing changed),
-- or {'gone', into} (the profile is merged or being merged into `into`: nothing written).
local prefix = KEYS[1]
local version, at = tonumber(ARGV[1]), tonumber(ARGV[2])
local schedule, nextChange, defs = ARGV[3], ARGV[4], ARGV[5]
local pk = prefix .. 'p'
local meta = redis.call('HMGET', pk, 'state', 'into', 'seg_version', 'seg_at', 'seg_seq', 'next_change')
if meta[1] == 'merged' or meta[1] == 'frozen' then return {'gone', meta[2] or ''} end
local fenceVersion, fenceAt = tonumber(meta[3] or '0'), tonumber(meta[4] or '0')
local seq = tonumber(meta[5] or '0')
-- A write without an evaluation time (0) is fenced by the version alone.
if version < fenceVersion or (version == fenceVersion and at > 0 and at < fenceAt) then return {'stale', seq} end
redis.call('HSET', pk, 'seg_version', version)
if at > 0 then redis.call('HSET', pk, 'seg_at', at) end
if defs ~= '' then redis.call('HSET', pk, 'seg_defs', defs) end

-- The profile's next change after this write, as membership.lua leaves the tenant's `due` score.
local old = meta[6] or ''
local new = old
if schedule == 'set' then
  new = nextChange
elseif schedule == 'lower' and nextChange ~= '' and (old == '' or tonumber(nextChange) < tonumber(old)) then
  new = nextChange
end

local changes = {}
local i = 6
while i < #ARGV do
  local seg, inside = ARGV[i], ARGV[i + 1]
  if inside == '1' then
    if redis.call('SADD', prefix .. 'segs', seg) == 1 then
      changes[#changes + 1] = 'enter'
      changes[#changes + 1] = seg
    end
  elseif redis.call('SREM', prefix .. 'segs', seg) == 1 then
    changes[#changes + 1] = 'exit'
    changes[#changes + 1] = seg
  end
  i = i + 2
end

local rescheduled = new ~= old
if not rescheduled and #changes == 0 then return {'ok', seq, changes, 'none', ''} end
if rescheduled then
  if new == '' then redis.call('HDEL', pk, 'next_change') else redis.call('HSET', pk, 'next_change', new) end
end
seq = redis.call('HINCRBY', pk, 'seg_seq', 1)
return {'ok', seq, changes, schedule, nextChange}
