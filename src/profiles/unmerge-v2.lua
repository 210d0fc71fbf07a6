-- Unmerge on the per-profile layout (src/profiles/per-profile-layout.md §3.6, step 9): the steps that
-- run in one profile's slot. unmerge-v2.redis.ts puts profile-prelude.lua in front (prefix, pid, pk,
-- idsKey, nomergeKey, mergedKey, absorbingKey, movedoutKey, seenKey, now, state, into, created,
-- list, lapseSeen).
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`; KEYS[2]: the prefix of the same profile id
-- in the scratch namespace `<scratch ns>:{<tenant>:<pid>}:` (same hash tag, so the same slot), or
-- KEYS[1] again for the modes that read no scratch.
-- ARGV[1] is the mode:
--   install (U1, on the new profile B): P, consent trait, P's consent value ('' none), its order
--     token ('' none), de-dup TTL seconds, n split `type:id`, n moved messageIds, n repointed
--     tombstones. Copies B's rebuilt state from the scratch (COPY: the scratch stays, so a redo after
--     `changed` can install it again), then ids = split, nomerge = {P}, merged = the tombstones that
--     read as B now, `:seen` = the moved messageIds (and their `f|` members), `unmerge_of` = P.
--     Returns {'ok', version} | {'done', version} (B was installed for P before) | {'exists'}.
--   swap (U2, on P): expected version, B, consent trait, n split, n repointed tombstones.
--     Checks P is live at the expected version with nothing absorbing and every split identifier
--     still its own; installs side A from the scratch (RENAME), SREMs the split identifiers, SADDs B
--     to nomerge and sets movedout[idf] = B for each: from now on an event or lookup that reaches P
--     through a split identifier answers `moved B` (profile-prelude.lua movedTo).
--     Returns {'ok', version, P's consent value, its order token ('' none: as it stood before the
--     install, for `consent` on B)} | {'changed'} | {'merged', into} | {'moved', identifier}.
--   consent (on B, after U2): consent trait, value, order token. A consent record of P newer than
--     the one install was given (recorded between the two reads) is kept on B too. {'ok'}.
--   fence (recovery, on P): B. {'swapped', identifier...} (U2 ran: the identifiers still moved out to
--     B) | {'merged', into} (P is a tombstone) | {'fenced'} (U2 never ran; P's version is bumped, so a
--     driver still at work gets `changed` from its U2 and B may go).
--   drop (on B): P. Deletes B if an unmerge of P installed it: {'dropped'} | {'kept'}.
--   repoint (U3, on a tombstone X): P, B. X read as P (`into` = P): it reads as B now.
--     {'ok'} | {'other'}.
local mode = ARGV[1]
local scratch = KEYS[2]
local at = 2
local function nextArg() local v = ARGV[at]; at = at + 1; return v end
local function nextList()
  local out = {}
  for i = 1, tonumber(nextArg()) do out[i] = nextArg() end
  return out
end

-- Rebuilt from the events (the rest of a profile is identity, de-dup and frequency state).
local REBUILT = {'traits', 'tord', 'counts', 'computed', 'ftotals'}
-- Every key of a profile besides its feature and frequency zsets (merge-tombstone.lua's list).
local PARTS = {'ids', 'traits', 'tord', 'counts', 'computed', 'ftotals', 'fkeys', 'fckeys', 'segs', 'nomerge',
  'merged', 'absorbing', 'movedout', 'seen', 'applied'}

-- Replaces the rebuilt parts of this profile by the scratch's (`move`: RENAME, else COPY). Returns
-- first seen, last seen and the version of the scratch profile (nil: no event was replayed).
local function install(move)
  for _, fid in ipairs(redis.call('SMEMBERS', prefix .. 'fkeys')) do redis.call('DEL', prefix .. 'f:' .. fid) end
  redis.call('DEL', prefix .. 'fkeys')
  for _, part in ipairs(REBUILT) do redis.call('DEL', prefix .. part) end
  local m = redis.call('HMGET', scratch .. 'p', 'first_seen', 'last_seen', 'version')
  if not m[3] then return now, now, nil end
  local function take(from, to)
    if move then redis.call('RENAME', from, to) else redis.call('COPY', from, to, 'REPLACE') end
  end
  for _, part in ipairs(REBUILT) do
    -- Scratch keys carry an expiry in case the unmerge dies; RENAME and COPY keep it.
    if redis.call('EXISTS', scratch .. part) == 1 then
      take(scratch .. part, prefix .. part)
      redis.call('PERSIST', prefix .. part)
    end
  end
  for _, fid in ipairs(redis.call('SMEMBERS', scratch .. 'fkeys')) do
    -- A feature zset keeps the expiry record-features-v2.lua gave it (its newest occurrence's horizon).
    if redis.call('EXISTS', scratch .. 'f:' .. fid) == 1 then
      take(scratch .. 'f:' .. fid, prefix .. 'f:' .. fid)
      redis.call('SADD', prefix .. 'fkeys', fid)
    end
  end
  return m[1], m[2], tonumber(m[3])
end

-- The consent record as it stood on the fused profile: a refusal recorded outside any replayed
-- event must survive on both sides, so the newer of it and the rebuilt one is kept.
local function keepConsent(name, value, order)
  if (not order) or order == '' then return end
  local o = redis.call('HGET', prefix .. 'tord', name)
  if (not o) or o < order then
    redis.call('HSET', prefix .. 'traits', name, value)
    redis.call('HSET', prefix .. 'tord', name, order)
  end
end

if mode == 'install' then
  local source, consentName, consentValue, consentOrder, ttl = nextArg(), nextArg(), nextArg(), nextArg(), tonumber(nextArg())
  local splitIds, moved, repoint = nextList(), nextList(), nextList()
  local of = redis.call('HGET', pk, 'unmerge_of')
  if of == source then return {'done', redis.call('HGET', pk, 'version') or '0'} end
  if redis.call('EXISTS', pk) == 1 then return {'exists'} end
  local first, last, events = install(false)
  keepConsent(consentName, consentValue, consentOrder)
  local version = math.max(1, events or 0)
  redis.call('HSET', pk, 'created', first, 'first_seen', first, 'last_seen', last, 'version', version, 'unmerge_of', source)
  for i = 1, #splitIds, 1000 do redis.call('SADD', idsKey, unpack(splitIds, i, math.min(i + 999, #splitIds))) end
  redis.call('SADD', nomergeKey, source)
  for i = 1, #repoint, 1000 do redis.call('SADD', mergedKey, unpack(repoint, i, math.min(i + 999, #repoint))) end
  -- De-dup (§2.4): a redelivered event of B's reads as a duplicate here (its totals too).
  if #moved > 0 then
    local until_ = now + ttl * 1000
    for i = 1, #moved, 500 do
      local args = {}
      for j = i, math.min(i + 499, #moved) do
        args[#args + 1] = until_; args[#args + 1] = moved[j]
        args[#args + 1] = until_; args[#args + 1] = 'f|' .. moved[j]
      end
      redis.call('ZADD', seenKey, 'GT', unpack(args))
    end
    lapseSeen()
  end
  return {'ok', tostring(version)}
end

if mode == 'swap' then
  local expected, newPid, consentName = nextArg(), nextArg(), nextArg()
  local splitIds, repoint = nextList(), nextList()
  if state == 'merged' then return {'merged', into} end
  -- Being merged into another profile, or absorbing one: its state is about to change.
  if state == 'frozen' or redis.call('HLEN', absorbingKey) > 0 then return {'changed'} end
  if (redis.call('HGET', pk, 'version') or '0') ~= expected then return {'changed'} end
  for _, idf in ipairs(splitIds) do
    if redis.call('SISMEMBER', idsKey, idf) == 0 then return {'moved', idf} end
  end
  local consentValue = redis.call('HGET', prefix .. 'traits', consentName)
  local consentOrder = redis.call('HGET', prefix .. 'tord', consentName)
  local first, last, events = install(true)
  keepConsent(consentName, consentValue, consentOrder)
  -- The version passes the one the old state was evaluated at, so no late evaluation of it lands.
  local version = tonumber(expected) + 1
  redis.call('HSET', pk, 'version', version, 'first_seen', first, 'last_seen', last)
  redis.call('HDEL', pk, 'seg_defs')
  if events then redis.call('HSET', pk, 'created', first) end
  for _, idf in ipairs(splitIds) do
    redis.call('SREM', idsKey, idf)
    redis.call('HSET', movedoutKey, idf, newPid)
  end
  redis.call('SADD', nomergeKey, newPid)
  for _, x in ipairs(repoint) do redis.call('SREM', mergedKey, x) end
  return {'ok', tostring(version), consentValue or '', consentOrder or ''}
end

if mode == 'consent' then
  keepConsent(nextArg(), nextArg(), nextArg())
  return {'ok'}
end

if mode == 'fence' then
  local newPid = nextArg()
  if state == 'merged' then return {'merged', into} end
  if redis.call('SISMEMBER', nomergeKey, newPid) == 1 then
    local out = {'swapped'}
    local flat = redis.call('HGETALL', movedoutKey)
    for i = 1, #flat, 2 do
      if flat[i + 1] == newPid then out[#out + 1] = flat[i] end
    end
    return out
  end
  if created then redis.call('HINCRBY', pk, 'version', 1) end
  return {'fenced'}
end

if mode == 'drop' then
  local source = nextArg()
  if redis.call('HGET', pk, 'unmerge_of') ~= source then return {'kept'} end
  local keys = {}
  for _, fid in ipairs(redis.call('SMEMBERS', prefix .. 'fkeys')) do keys[#keys + 1] = prefix .. 'f:' .. fid end
  for _, t in ipairs(redis.call('SMEMBERS', prefix .. 'fckeys')) do keys[#keys + 1] = prefix .. 'fc:' .. t end
  for _, part in ipairs(PARTS) do keys[#keys + 1] = prefix .. part end
  keys[#keys + 1] = pk
  for i = 1, #keys, 1000 do redis.call('DEL', unpack(keys, i, math.min(i + 999, #keys))) end
  return {'dropped'}
end

if mode == 'repoint' then
  local source, newPid = nextArg(), nextArg()
  if state == 'merged' and into == source then
    redis.call('HSET', pk, 'into', newPid)
    return {'ok'}
  end
  return {'other'}
end

return redis.error_reply('unmerge-v2: unknown mode ' .. tostring(mode))
