-- Writes a profile's segment membership, fenced by the profile version the evaluation read: an
-- evaluation older than the last one written changes nothing.
-- KEYS[1]: the tenant prefix. ARGV: profileId, version, then segmentId / '1'|'0' pairs.
-- Returns the changes as a flat list: 'enter'|'exit', segmentId, ...
local prefix = KEYS[1]
local pid, version = ARGV[1], tonumber(ARGV[2])
local pk = prefix .. 'p:' .. pid
local fence = tonumber(redis.call('HGET', pk, 'seg_version') or '0')
if version < fence then return {} end
redis.call('HSET', pk, 'seg_version', version)
local changes = {}
local i = 3
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
