-- Applies one event to one profile of the per-profile layout (src/profiles/per-profile-layout.md §2.3), once per
-- messageId. apply-event.lua without identity: resolving identifiers, merging and the guardrails
-- between profiles are the processor's (identity-plan.ts); this script checks the profile's state,
-- attaches identifiers within the profile's own limits, and applies traits, computed traits, counts.
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:` (every key below is in the profile's slot).
-- ARGV: messageId, order token (zero-padded event time | messageId), event time ms, birth ('1': a
--       new profile, `created` is set if unset), via (the `type:id` the profile was found by; ''
--       for a birth or to skip the check), de-dup TTL seconds, counter name ('' for none), source
--       (for priority policies), amend ('1': this processor applied the event already, on this
--       profile or one it absorbed, and planned again after a lost claim: the refusals below are
--       added to what is stored for it, as the merges always are), max identifiers per profile, n limits, n x (type, limit),
--       n policies, n x (trait, code, sources joined by '\n'), n attach, n x `type:id` (in walk
--       order), n refused, n x (reason, `type:id`, other) (the processor's refusals, kept for a
--       redelivery), n merges, n x (survivor, merged, ids joined by '\n') (merges the processor
--       performed for this event, likewise), n trait writes, n x (trait, encoded value),
--       n computed writes, n x (kind, name, value).
-- Returns {'new'|'dup', profileId, version, {trait, value}..., {survivor, merged, ids}...,
--          {reason, identifier, other}..., {identifier to claim}...}
--   (apply-event.lua's answer plus the identifiers whose id keys the processor claims with SET NX:
--   those attached now, or on a redelivery those of `attach` the profile holds),
--   or {'moved', profileId} (merged or frozen into another profile, or `via` moved out by an
--   unmerge: apply there), or {'stale'} (`via` is not the profile's: resolve again).
-- profile-prelude.lua goes first: prefix, pid, pk, idsKey, now, state, into and the helpers.
local mid, order, ts, birth, via, ttl, countName, source, amend = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local maxIds = tonumber(ARGV[10])
local at = 11
local function nextArg() local v = ARGV[at]; at = at + 1; return v end

-- What an applied event changed, as stored for a redelivery (§2.4).
local function stored()
  if isSeen('a|' .. mid) then
    local r = redis.call('HGET', appliedKey, mid)
    if r then return cjson.decode(r) end
  end
  return {{}, {}, {}}
end

-- Guard prelude (§2.3), shared by the profile-slot scripts: a profile merged or being merged into
-- another, or an identifier moved out by an unmerge, sends the caller elsewhere.
if state == 'merged' then return {'moved', into} end
if state == 'frozen' then
  if not isSeen(mid) then return {'moved', into} end
  local d = stored()
  return {'dup', into, redis.call('HGET', pk, 'version') or '0', d[1], d[2], d[3], {}}
end
if via ~= '' then
  local target = redis.call('HGET', prefix .. 'movedout', via)
  if target then return {'moved', target} end
  if redis.call('SISMEMBER', idsKey, via) == 0 then return {'stale'} end
end

local limits = {}
for _ = 1, tonumber(nextArg()) do local t = nextArg(); limits[t] = tonumber(nextArg()) end
local policies = {}
for _ = 1, tonumber(nextArg()) do
  local name, code, prio = nextArg(), nextArg(), nextArg()
  local ranks, list = {}, {}
  for s in string.gmatch(prio, '[^\n]+') do list[#list + 1] = s end
  for i, s in ipairs(list) do ranks[s] = #list - i + 1 end
  policies[name] = {code = code, ranks = ranks}
end
local attach = {}
for i = 1, tonumber(nextArg()) do attach[i] = nextArg() end
local refused = {}
for _ = 1, tonumber(nextArg()) do refused[#refused + 1] = {nextArg(), nextArg(), nextArg()} end
local merges = {}
for _ = 1, tonumber(nextArg()) do merges[#merges + 1] = {nextArg(), nextArg(), nextArg()} end
local writes = {}
for _ = 1, tonumber(nextArg()) do writes[#writes + 1] = {nextArg(), nextArg()} end
local computed = {}
for _ = 1, tonumber(nextArg()) do computed[#computed + 1] = {nextArg(), nextArg(), nextArg()} end

if isSeen(mid) then
  -- A redelivery: claims a crash may have interrupted are made again, for identifiers still held.
  local claim = {}
  for _, idf in ipairs(attach) do
    if redis.call('SISMEMBER', idsKey, idf) == 1 then claim[#claim + 1] = idf end
  end
  local d = stored()
  -- Merges performed for the event since (a redelivery finishing them, or a replan after a lost
  -- claim) and, when amending, its new refusals are kept with it, each once.
  local kept, added = {}, false
  for _, m in ipairs(list(d[2])) do kept['m|' .. m[2]] = true end
  for _, r in ipairs(list(d[3])) do kept['r|' .. table.concat(r, '|')] = true end
  local function keep(kind, entry, key, into)
    if kept[kind .. key] then return end
    kept[kind .. key] = true
    into[#into + 1] = entry
    added = true
  end
  d[2], d[3] = list(d[2]), list(d[3])
  for _, m in ipairs(merges) do keep('m|', m, m[2], d[2]) end
  if amend == '1' then
    for _, r in ipairs(refused) do keep('r|', r, table.concat(r, '|'), d[3]) end
  end
  if added then
    redis.call('HSET', appliedKey, mid, cjson.encode(d))
    redis.call('ZADD', seenKey, 'GT', now + math.min(ttl, 86400) * 1000, 'a|' .. mid)
    lapseSeen()
  end
  return {'dup', pid, redis.call('HGET', pk, 'version') or '0', d[1], d[2], d[3], claim}
end

-- Why adding `add` (type counts, total) to `base` would break a guardrail, or nil.
local function refusal(base, baseN, add, addN)
  if baseN + addN > maxIds then return 'max_identifiers ' .. maxIds end
  for t, n in pairs(add) do
    local lim = limits[t]
    if lim and (base[t] or 0) + n > lim then return 'limit ' .. t .. ' ' .. lim end
  end
  return nil
end

-- Millionths back to a JSON number (Lua's %.14g is valid JSON).
local function fromMicros(m) return tostring(tonumber(m) / 1000000) end

if birth == '1' then redis.call('HSETNX', pk, 'created', ts) end

-- Attach: the profile's limits over `:ids` plus the identifiers added so far, checked here so two
-- concurrent attaches cannot both pass; added before the processor claims their id keys.
local counts, total = {}, 0
for _, idf in ipairs(redis.call('SMEMBERS', idsKey)) do
  local t = idType(idf)
  counts[t] = (counts[t] or 0) + 1
  total = total + 1
end
local claim = {}
for _, idf in ipairs(attach) do
  if redis.call('SISMEMBER', idsKey, idf) == 1 then
    claim[#claim + 1] = idf
  else
    local t = idType(idf)
    local why = refusal(counts, total, {[t] = 1}, 1)
    if why then
      refused[#refused + 1] = {why, idf, ''}
    else
      redis.call('SADD', idsKey, idf)
      counts[t] = (counts[t] or 0) + 1
      total = total + 1
      claim[#claim + 1] = idf
    end
  end
end

-- Trait writes per policy; every policy compares state that does not depend on arrival order.
local changed = {}
for _, w in ipairs(writes) do
  local name, v = w[1], w[2]
  local p = policies[name]
  local code = p and p.code or 'lww'
  local cv = redis.call('HGET', prefix .. 'traits', name)
  local co = redis.call('HGET', prefix .. 'tord', name)
  local newV, newO = nil, nil
  if code == 'lww' then
    if (not co) or co < order then newV, newO = v, order end
  elseif code == 'first' then
    if (not co) or order < co then newV, newO = v, order end
  elseif code == 'prio' then
    local tok = string.format('%03d', p.ranks[source] or 0) .. '|' .. order
    if (not co) or co < tok then newV, newO = v, tok end
  elseif code == 'max' then
    if (not cv) or (not tonumber(cv)) or tonumber(v) > tonumber(cv) then newV = v end
  elseif code == 'min' then
    if (not cv) or (not tonumber(cv)) or tonumber(v) < tonumber(cv) then newV = v end
  elseif code == 'set' then
    local before = co and split(co) or {}
    local all = union(before, split(v))
    if #all > #before then newV, newO = setValue(all) end
  elseif code == 'incr' then
    -- A trait written under another policy before holds no running sum yet.
    if co and not tonumber(co) then redis.call('HSET', prefix .. 'tord', name, '0') end
    newO = tostring(redis.call('HINCRBY', prefix .. 'tord', name, v))
    newV = fromMicros(newO)
  end
  if newV and newV ~= cv then
    redis.call('HSET', prefix .. 'traits', name, newV)
    changed[#changed + 1] = {name, newV}
  end
  if newO then redis.call('HSET', prefix .. 'tord', name, newO) end
end

for _, c in ipairs(computed) do
  if c[1] == 's' then
    redis.call('HINCRBY', prefix .. 'computed', 's|' .. c[2], c[3])
  else
    redis.call('HINCRBY', prefix .. 'computed', 'm|' .. c[2] .. '|' .. c[3], 1)
  end
end

if countName ~= '' then
  redis.call('HINCRBY', prefix .. 'counts', countName, 1)
end

local first = redis.call('HGET', pk, 'first_seen')
if (not first) or tonumber(ts) < tonumber(first) then redis.call('HSET', pk, 'first_seen', ts) end
local last = redis.call('HGET', pk, 'last_seen')
if (not last) or tonumber(ts) > tonumber(last) then redis.call('HSET', pk, 'last_seen', ts) end
local version = redis.call('HINCRBY', pk, 'version', 1)

-- De-dup (§2.4): `:seen` holds the messageId until now + TTL and `a|<messageId>` while `:applied`
-- keeps what the event changed (a day at most).
trimSeen()
redis.call('ZADD', seenKey, now + ttl * 1000, mid)
if #changed > 0 or #merges > 0 or #refused > 0 then
  redis.call('HSET', appliedKey, mid, cjson.encode({changed, merges, refused}))
  redis.call('ZADD', seenKey, now + math.min(ttl, 86400) * 1000, 'a|' .. mid)
end
lapseSeen()
return {'new', pid, tostring(version), changed, merges, refused, claim}
