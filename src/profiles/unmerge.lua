-- Splits a profile in two, atomically: the state rebuilt for each side in a scratch namespace
-- replaces the profile's (side A keeps the profile id) and becomes a new profile (side B, which
-- takes the split identifiers); the two are marked never to merge again (`:nomerge`, read by
-- apply-event.lua). Nothing changes unless the profile is still at the version the rebuild read.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:`; KEYS[2]: the scratch prefix `<scratch ns>:{<tenant>}:`
-- (same hash tag, so the same slot on Redis Cluster).
-- ARGV: profileId, expected version, new profile id, scratch profile of side A ('' = no events),
--       of side B, now ms, consent trait name, n split identifiers, n x `type:id`,
--       n merged-away ids to point at the new profile, n x id.
-- Returns {'ok', versionA, versionB} | {'changed', version} | {'merged', into} | {'moved', identifier} | {'exists'}.
-- Paused while the tenant's Redis layout is migrated, and for good once it is (per-profile-layout.md §8).
local layoutMark = redis.call('HMGET', KEYS[1] .. 'layout', 'version', 'state') if layoutMark[1] == '2' or layoutMark[2] == 'migrating' then return {'paused'} end
local real, scratch = KEYS[1], KEYS[2]
local pid, expected, newPid, sa, sb, now, consentName = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local at = 8
local function nextArg() local v = ARGV[at]; at = at + 1; return v end
local split = {}
for i = 1, tonumber(nextArg()) do split[i] = nextArg() end
local repoint = {}
for i = 1, tonumber(nextArg()) do repoint[i] = nextArg() end

local pk, bk = real .. 'p:' .. pid, real .. 'p:' .. newPid
local meta = redis.call('HMGET', pk, 'version', 'merged_into', 'created')
if meta[2] then return {'merged', meta[2]} end
if (meta[1] or '0') ~= expected then return {'changed', meta[1] or '0'} end
for _, idf in ipairs(split) do
  if redis.call('GET', real .. 'id:' .. idf) ~= pid then return {'moved', idf} end
end
if redis.call('EXISTS', bk) == 1 then return {'exists'} end

-- The consent record as it stands now: a refusal recorded on the fused profile (outside any
-- replayed event) must survive on both sides, so the newer of it and the rebuilt one is kept.
local consentValue = redis.call('HGET', pk .. ':traits', consentName)
local consentOrder = redis.call('HGET', pk .. ':tord', consentName)

local REBUILT = {':traits', ':tord', ':counts', ':computed', ':ftotals'}

-- Replaces the rebuilt parts of `tk` by scratch profile `s` ('' = a side without events).
-- Returns first seen, last seen and the number of events replayed.
local function install(tk, s)
  for _, fid in ipairs(redis.call('SMEMBERS', tk .. ':fkeys')) do redis.call('DEL', tk .. ':f:' .. fid) end
  redis.call('DEL', tk .. ':fkeys')
  for _, suffix in ipairs(REBUILT) do redis.call('DEL', tk .. suffix) end
  if s == '' then return now, now, 0 end
  local sk = scratch .. 'p:' .. s
  for _, suffix in ipairs(REBUILT) do
    -- Scratch keys carry an expiry in case the unmerge dies; RENAME would keep it.
    if redis.call('EXISTS', sk .. suffix) == 1 then
      redis.call('RENAME', sk .. suffix, tk .. suffix)
      redis.call('PERSIST', tk .. suffix)
    end
  end
  for _, fid in ipairs(redis.call('SMEMBERS', sk .. ':fkeys')) do
    -- RENAME keeps the zset's expiry, the one record-features.lua gave it (its newest occurrence's horizon).
    if redis.call('EXISTS', sk .. ':f:' .. fid) == 1 then
      redis.call('RENAME', sk .. ':f:' .. fid, tk .. ':f:' .. fid)
      redis.call('SADD', tk .. ':fkeys', fid)
    end
  end
  local m = redis.call('HMGET', sk, 'first_seen', 'last_seen', 'version')
  return m[1] or now, m[2] or now, tonumber(m[3] or '0')
end

local function keepConsent(tk)
  if not consentOrder then return end
  local o = redis.call('HGET', tk .. ':tord', consentName)
  if (not o) or o < consentOrder then
    redis.call('HSET', tk .. ':traits', consentName, consentValue)
    redis.call('HSET', tk .. ':tord', consentName, consentOrder)
  end
end

local firstA, lastA = install(pk, sa)
local firstB, lastB, eventsB = install(bk, sb)
keepConsent(pk)
keepConsent(bk)

-- The version passes the one the old state was evaluated at, so no late evaluation of it lands.
local versionA = tonumber(expected) + 1
redis.call('HSET', pk, 'version', versionA, 'first_seen', firstA, 'last_seen', lastA)
redis.call('HDEL', pk, 'seg_defs')
if sa ~= '' then redis.call('HSET', pk, 'created', firstA) end
local versionB = math.max(1, eventsB)
redis.call('HSET', bk, 'created', firstB, 'first_seen', firstB, 'last_seen', lastB, 'version', versionB)

for _, idf in ipairs(split) do
  redis.call('SET', real .. 'id:' .. idf, newPid)
  redis.call('SREM', pk .. ':ids', idf)
  redis.call('SADD', bk .. ':ids', idf)
end
redis.call('SADD', pk .. ':nomerge', newPid)
redis.call('SADD', bk .. ':nomerge', pid)
-- Profiles merged into this one long ago whose identifiers all left now read as the new profile.
for _, x in ipairs(repoint) do
  if redis.call('HGET', real .. 'p:' .. x, 'merged_into') == pid then redis.call('HSET', real .. 'p:' .. x, 'merged_into', newPid) end
end
return {'ok', tostring(versionA), tostring(versionB)}
