-- Brings one profile's entries in its bucket's cross-profile indexes (src/profiles/per-profile-layout.md §4.2:
-- `seg:<id>:members`, `due`, and the `profiles` zset whose score is the last membership `seg_seq`
-- applied here, or -(ms) once the profile is gone) up to the profile's membership, idempotently.
-- KEYS[1]: the bucket prefix `<ns>:{<tenant>:s<b>}:`. ARGV: profileId, mode, then by mode:
--   delta: seq, schedule ('none'|'lower'|'set'), next change ms ('' = none), changes as
--          membership-v2.lua returns them ('enter'|'exit', segmentId, ...). Applied only when seq
--          is the one after the last applied.
--   full:  seq, next change ms ('' = none), n, the n segments the profile is in, then segments it
--          is not in (the tenant's others: every set is reconciled). Applied when seq is newer.
--   gone:  time ms, segments to leave (the tenant's and the profile's): removes the profile from
--          them and from `due`, and scores it -time so a delayed delta or full cannot bring it back.
--   check: seq (a redelivery's: answers 'gap' when the bucket lags behind it).
-- Returns 'ok', 'dup' (already applied), 'gap' (a write in between is missing: send `full`),
-- or 'gone' (the profile was removed: nothing written).
local prefix = KEYS[1]
local pid, mode = ARGV[1], ARGV[2]
local index, due = prefix .. 'profiles', prefix .. 'due'
local function members(seg) return prefix .. 'seg:' .. seg .. ':members' end

if mode == 'gone' then
  for i = 4, #ARGV do redis.call('SREM', members(ARGV[i]), pid) end
  redis.call('ZREM', due, pid)
  redis.call('ZADD', index, -tonumber(ARGV[3]), pid)
  return 'ok'
end

local last = tonumber(redis.call('ZSCORE', index, pid) or '0')
if last < 0 then return 'gone' end
local seq = tonumber(ARGV[3])

if mode == 'check' then
  if seq > last then return 'gap' end
  return 'ok'
end

if mode == 'delta' then
  if seq <= last then return 'dup' end
  if seq > last + 1 then return 'gap' end
  local schedule, nextChange = ARGV[4], ARGV[5]
  if schedule == 'set' then
    if nextChange == '' then redis.call('ZREM', due, pid) else redis.call('ZADD', due, nextChange, pid) end
  elseif schedule == 'lower' and nextChange ~= '' then
    redis.call('ZADD', due, 'LT', nextChange, pid)
  end
  for i = 6, #ARGV - 1, 2 do
    if ARGV[i] == 'enter' then redis.call('SADD', members(ARGV[i + 1]), pid)
    else redis.call('SREM', members(ARGV[i + 1]), pid) end
  end
  redis.call('ZADD', index, seq, pid)
  return 'ok'
end

if mode == 'full' then
  if seq <= last then return 'dup' end
  local nextChange, n = ARGV[4], tonumber(ARGV[5])
  if nextChange == '' then redis.call('ZREM', due, pid) else redis.call('ZADD', due, nextChange, pid) end
  for i = 6, 5 + n do redis.call('SADD', members(ARGV[i]), pid) end
  for i = 6 + n, #ARGV do redis.call('SREM', members(ARGV[i]), pid) end
  redis.call('ZADD', index, seq, pid)
  return 'ok'
end

return redis.error_reply('bucket-sync: unknown mode ' .. tostring(mode))
