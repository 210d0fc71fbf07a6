-- Writes one profile of a tenant migrated from the tenant layout into the per-profile layout
-- (src/profiles/per-profile-layout.md §8 step 2), in the profile's slot, atomically. Whatever a
-- previous, interrupted run wrote here is replaced, so the copy can run again (the tenant is
-- paused: nothing else writes it meanwhile).
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`.
-- ARGV[1]: the profile as migrate-layout.ts read it from the tenant layout, JSON:
--   {into = survivor (a tombstone: nothing else is written) | absent, p = the `p` hash without
--    `merged_into`, ids, nomerge, segs, merged (arrays), traits, tord, counts, computed, ftotals
--    (objects), features, fc ({id, pttl, z = flat member/score} each), fckeysPttl, next_change
--    ('' = none), seen (flat member/time-to-live ms), applied (messageId -> result JSON)}.
-- Returns 'merged' (a tombstone written) or 'live'.
local prefix = KEYS[1]
local s = cjson.decode(ARGV[1])
local pk = prefix .. 'p'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- cjson decodes an empty JSON array as an empty object, and both are empty here.
local function each(x) if type(x) == 'table' then return x end return {} end

-- Variadic commands in slices (Lua's unpack has a limit).
local function slices(cmd, key, flat, step)
  for i = 1, #flat, step do
    redis.call(cmd, key, unpack(flat, i, math.min(i + step - 1, #flat)))
  end
end

local function hash(key, obj)
  local flat = {}
  for k, v in pairs(each(obj)) do flat[#flat + 1] = k; flat[#flat + 1] = tostring(v) end
  slices('HSET', key, flat, 1000)
end

local function zset(key, flat, pttl)
  local swapped = {}
  for i = 1, #flat, 2 do swapped[#swapped + 1] = flat[i + 1]; swapped[#swapped + 1] = flat[i] end
  slices('ZADD', key, swapped, 1000)
  if #swapped > 0 and tonumber(pttl) > 0 then redis.call('PEXPIRE', key, pttl) end
end

for _, fid in ipairs(redis.call('SMEMBERS', prefix .. 'fkeys')) do redis.call('DEL', prefix .. 'f:' .. fid) end
for _, t in ipairs(redis.call('SMEMBERS', prefix .. 'fckeys')) do redis.call('DEL', prefix .. 'fc:' .. t) end
for _, part in ipairs({'p', 'ids', 'traits', 'tord', 'counts', 'computed', 'ftotals', 'fkeys', 'fckeys', 'segs', 'nomerge', 'merged', 'absorbing', 'movedout', 'seen', 'applied'}) do
  redis.call('DEL', prefix .. part)
end

if s.into then
  redis.call('HSET', pk, 'state', 'merged', 'into', s.into)
  if s.p.created then redis.call('HSET', pk, 'created', s.p.created) end
  return 'merged'
end

hash(pk, s.p)
-- The bucket is rebuilt at sequence 1 (migrate-layout.ts scores the profile 1 in its index).
redis.call('HSET', pk, 'seg_seq', 1)
if s.next_change ~= '' then redis.call('HSET', pk, 'next_change', s.next_change) end
for _, part in ipairs({'ids', 'nomerge', 'segs', 'merged'}) do slices('SADD', prefix .. part, each(s[part]), 1000) end
for _, part in ipairs({'traits', 'tord', 'counts', 'computed', 'ftotals'}) do hash(prefix .. part, s[part]) end
for _, f in ipairs(each(s.features)) do
  redis.call('SADD', prefix .. 'fkeys', f.id)
  zset(prefix .. 'f:' .. f.id, each(f.z), f.pttl)
end
for _, f in ipairs(each(s.fc)) do
  redis.call('SADD', prefix .. 'fckeys', f.id)
  zset(prefix .. 'fc:' .. f.id, each(f.z), f.pttl)
end
if #each(s.fc) > 0 and tonumber(s.fckeysPttl) > 0 then redis.call('PEXPIRE', prefix .. 'fckeys', s.fckeysPttl) end

-- De-dup (§2.4): each entry lapses when its key in the tenant layout would have.
local seen, newest = {}, 0
local flat = each(s.seen)
for i = 1, #flat, 2 do
  local at = now + tonumber(flat[i + 1])
  seen[#seen + 1] = at
  seen[#seen + 1] = flat[i]
  if at > newest then newest = at end
end
if #seen > 0 then
  slices('ZADD', prefix .. 'seen', seen, 1000)
  hash(prefix .. 'applied', s.applied)
  redis.call('PEXPIRE', prefix .. 'seen', newest - now)
  if redis.call('EXISTS', prefix .. 'applied') == 1 then redis.call('PEXPIRE', prefix .. 'applied', newest - now) end
end
return 'live'
