-- Takes back a merge that did not happen (src/profiles/per-profile-layout.md §3.2, §3.5), on either side.
-- KEYS[1]: the survivor S (ARGV: 'survivor', L, optionally the S:absorbing[L] entry the caller
-- saw, so a decision taken on a stale read cannot take back a newer acceptance): unless S absorbed
-- L already, drops S:absorbing[L] and the identifiers it reserved in S:ids (those S did not hold).
-- KEYS[1]: the loser L (ARGV: 'loser', S): thaws L if it is frozen into S.
-- Returns {'aborted'} | {'done'} (S absorbed L: too late, finish instead) | {'none'} (nothing to take back).
local role, other = ARGV[1], ARGV[2]

if role == 'loser' then
  if state ~= 'frozen' or into ~= other then return {'none'} end
  redis.call('HDEL', pk, 'state', 'into')
  return {'aborted'}
end
if redis.call('SISMEMBER', mergedKey, other) == 1 then return {'done'} end
local current = redis.call('HGET', absorbingKey, other)
if (not current) or (ARGV[3] and ARGV[3] ~= current) then return {'none'} end
local added = list(cjson.decode(current).added)
for i = 1, #added, 1000 do redis.call('SREM', idsKey, unpack(added, i, math.min(i + 999, #added))) end
redis.call('HDEL', absorbingKey, other)
return {'aborted'}
