-- M2 (src/profiles/per-profile-layout.md §3.2), on the loser L = KEYS[1]: freezes L into survivor S (writes
-- addressed to L answer `moved` from now on) and returns L's whole state, which merge-absorb.lua
-- applies to S. Idempotent: a frozen L is snapshotted again.
-- ARGV: S, the digest merge-accept.lua answered.
-- Returns {'frozen', snapshot JSON} | {'merged'} (L is a tombstone into S already) |
-- {'moved', X} (L was merged into another profile) | {'busy', 'frozen', X} (L is being merged into
-- X) | {'busy', 'absorbing', X} (L is absorbing X itself: finish that first) | {'changed'} (L's identity is not what was accepted) | {'gone'} (no L).
local survivor, accepted = ARGV[1], ARGV[2]

if state == 'merged' then
  if into == survivor then return {'merged'} end
  return {'moved', into}
end
if state == 'frozen' and into ~= survivor then return {'busy', 'frozen', into} end
if not created then return {'gone'} end
local ids, nomerge, merged = redis.call('SMEMBERS', idsKey), redis.call('SMEMBERS', nomergeKey), redis.call('SMEMBERS', mergedKey)
if state ~= 'frozen' then
  local absorbing = redis.call('HKEYS', absorbingKey)
  if #absorbing > 0 then return {'busy', 'absorbing', absorbing[1]} end
  if digest(ids, nomerge, merged) ~= accepted then return {'changed'} end
  redis.call('HSET', pk, 'state', 'frozen', 'into', survivor)
end

local function hash(key)
  local flat, out = redis.call('HGETALL', key), {}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return out
end

-- A zset with its time to live (ms, -1: none) so the absorb keeps the longer of the two.
local function zset(key)
  return {pttl = redis.call('PTTL', key), z = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')}
end

-- Feature zsets (`fkeys` -> `f:<id>`) and frequency zsets (`fckeys` -> `fc:<scope>:<target>`).
local function zsets(index, part)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', prefix .. index)) do
    local z = zset(prefix .. part .. id)
    z.id = id
    out[#out + 1] = z
  end
  return out
end
local features, fc = zsets('fkeys', 'f:'), zsets('fckeys', 'fc:')

return {'frozen', cjson.encode({
  pid = pid, into = survivor, at = now, p = hash(pk), ids = ids, nomerge = nomerge, merged = merged,
  traits = hash(prefix .. 'traits'), tord = hash(prefix .. 'tord'), counts = hash(prefix .. 'counts'),
  computed = hash(prefix .. 'computed'), ftotals = hash(prefix .. 'ftotals'), features = features, fc = fc,
  fckeysPttl = redis.call('PTTL', prefix .. 'fckeys'), segs = redis.call('SMEMBERS', prefix .. 'segs'),
  seen = redis.call('ZRANGE', seenKey, 0, -1, 'WITHSCORES'), applied = hash(appliedKey),
})}
