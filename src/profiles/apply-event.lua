-- Applies one event to a tenant's identity graph and profile, atomically and once per messageId,
-- merging the profiles the event's identifiers link (the oldest survives) within the guardrails.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:` (every key below is in the tenant's slot).
-- ARGV: messageId, order token (zero-padded event time | messageId), event time ms, new profile id,
--       de-dup TTL seconds, counter name ('' for none), source (for priority policies),
--       max identifiers per profile, n limits, n x (type, limit), n policies, n x (trait, code,
--       sources joined by '\n'), n identifiers, n x `type:id` (highest priority first),
--       n trait writes, n x (trait, encoded value), n computed writes, n x (kind, name, value).
-- Returns {'new'|'dup', profileId, version, {trait, value}..., {survivor, merged, ids}..., {reason, identifier, other}...}.
-- Paused while the tenant's Redis layout is migrated, and for good once it is (per-profile-layout.md §8).
local layoutMark = redis.call('HMGET', KEYS[1] .. 'layout', 'version', 'state') if layoutMark[1] == '2' or layoutMark[2] == 'migrating' then return {'paused'} end
local prefix = KEYS[1]
local mid, order, ts, newPid, ttl, countName, source = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local maxIds = tonumber(ARGV[8])
local at = 9
local function nextArg() local v = ARGV[at]; at = at + 1; return v end

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
local ids = {}
for i = 1, tonumber(nextArg()) do ids[i] = nextArg() end
local writes = {}
for _ = 1, tonumber(nextArg()) do writes[#writes + 1] = {nextArg(), nextArg()} end
local computed = {}
for _ = 1, tonumber(nextArg()) do computed[#computed + 1] = {nextArg(), nextArg(), nextArg()} end

local function pkey(pid) return prefix .. 'p:' .. pid end

-- A merged-away profile keeps `merged_into`; follow it to the live profile.
local function live(pid)
  for _ = 1, 64 do
    local into = redis.call('HGET', pkey(pid), 'merged_into')
    if not into then return pid end
    pid = into
  end
  return pid
end

local dedupKey = prefix .. 'dedup:' .. mid
-- What an applied event changed, kept a day so a redelivery (after a crash before the processor
-- recorded it) returns the same merges and trait changes to publish again.
local resultKey = prefix .. 'applied:' .. mid
local seen = redis.call('GET', dedupKey)
if seen then
  local pid = live(seen)
  local r = redis.call('GET', resultKey)
  local d = r and cjson.decode(r) or {{}, {}, {}}
  return {'dup', pid, redis.call('HGET', pkey(pid), 'version') or '0', d[1], d[2], d[3]}
end

local function idType(idf)
  if string.sub(idf, 1, 8) == 'partner:' then
    return string.sub(idf, 1, string.find(idf, ':', 9, true) - 1)
  end
  return string.sub(idf, 1, string.find(idf, ':', 1, true) - 1)
end

local function typeCounts(pid)
  local c, n = {}, 0
  for _, idf in ipairs(redis.call('SMEMBERS', pkey(pid) .. ':ids')) do
    local t = idType(idf)
    c[t] = (c[t] or 0) + 1
    n = n + 1
  end
  return c, n
end

-- Whether profiles `a` and `b` were split apart by an unmerge and must not fuse again. Each side
-- keeps the other's id in `:nomerge`; a merge hands the loser's set to the survivor, so a stored
-- id is followed to the profile it lives on in now.
local function apart(a, b)
  for _, pair in ipairs({{a, b}, {b, a}}) do
    for _, x in ipairs(redis.call('SMEMBERS', pkey(pair[1]) .. ':nomerge')) do
      if live(x) == pair[2] then return true end
    end
  end
  return false
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

local function split(s)
  local out = {}
  for x in string.gmatch(s, '[^\n]+') do out[#out + 1] = x end
  return out
end

local function setValue(members)
  table.sort(members)
  return '[' .. table.concat(members, ',') .. ']', table.concat(members, '\n')
end

local function union(a, b)
  local seenM, out = {}, {}
  for _, list in ipairs({a, b}) do
    for _, x in ipairs(list) do
      if not seenM[x] then seenM[x] = true; out[#out + 1] = x end
    end
  end
  return out
end

-- Millionths back to a JSON number (Lua's %.14g is valid JSON).
local function fromMicros(m) return tostring(tonumber(m) / 1000000) end

-- Combines a trait of a merged profile (value v, state o) into the survivor's; returns true on change.
local function mergeTrait(pk, name, v, o)
  local p = policies[name]
  local code = p and p.code or 'lww'
  local cv = redis.call('HGET', pk .. ':traits', name)
  local co = redis.call('HGET', pk .. ':tord', name)
  local take = false
  if code == 'set' then
    if o then
      local val, state = setValue(union(co and split(co) or {}, split(o)))
      redis.call('HSET', pk .. ':traits', name, val)
      redis.call('HSET', pk .. ':tord', name, state)
    end
    return
  elseif code == 'incr' then
    if tonumber(o) then
      if co and not tonumber(co) then redis.call('HSET', pk .. ':tord', name, '0') end
      local sum = redis.call('HINCRBY', pk .. ':tord', name, o)
      redis.call('HSET', pk .. ':traits', name, fromMicros(sum))
    end
    return
  elseif code == 'max' then
    take = (not cv) or (tonumber(v) and tonumber(cv) and tonumber(v) > tonumber(cv))
  elseif code == 'min' then
    take = (not cv) or (tonumber(v) and tonumber(cv) and tonumber(v) < tonumber(cv))
  elseif code == 'first' then
    take = (not co) or (o and o < co)
  else
    take = (not co) or (o and o > co)
  end
  if take then
    redis.call('HSET', pk .. ':traits', name, v)
    if o then redis.call('HSET', pk .. ':tord', name, o) end
  end
end

-- Moves profile `loser` into `survivor`; the loser keeps only `merged_into`.
local function merge(survivor, loser)
  local sk, lk = pkey(survivor), pkey(loser)
  local moved = redis.call('SMEMBERS', lk .. ':ids')
  for _, idf in ipairs(moved) do
    redis.call('SET', prefix .. 'id:' .. idf, survivor)
    redis.call('SADD', sk .. ':ids', idf)
  end
  local ltraits = redis.call('HGETALL', lk .. ':traits')
  for i = 1, #ltraits, 2 do
    mergeTrait(sk, ltraits[i], ltraits[i + 1], redis.call('HGET', lk .. ':tord', ltraits[i]))
  end
  local counts = redis.call('HGETALL', lk .. ':counts')
  for i = 1, #counts, 2 do redis.call('HINCRBY', sk .. ':counts', counts[i], counts[i + 1]) end
  local comp = redis.call('HGETALL', lk .. ':computed')
  for i = 1, #comp, 2 do redis.call('HINCRBY', sk .. ':computed', comp[i], comp[i + 1]) end
  -- Feature zsets are the features store's; members are per message, so MAX de-duplicates them.
  for _, fid in ipairs(redis.call('SMEMBERS', lk .. ':fkeys')) do
    local sf, lf = sk .. ':f:' .. fid, lk .. ':f:' .. fid
    -- ZUNIONSTORE drops the destination's expiry; keep the longer of the two (-1: none, -2: no key).
    local st, lt = redis.call('PTTL', sf), redis.call('PTTL', lf)
    if redis.call('ZUNIONSTORE', sf, 2, sf, lf, 'AGGREGATE', 'MAX') > 0 and st ~= -1 and lt ~= -1 and math.max(st, lt) > 0 then
      redis.call('PEXPIRE', sf, math.max(st, lt))
    end
    redis.call('DEL', lf)
    redis.call('SADD', sk .. ':fkeys', fid)
  end
  -- Frequency-cap impressions counted on the loser count on the survivor (record-impression.lua
  -- lists a profile's zsets in `:fckeys`); members are per impression id, so MAX de-duplicates.
  for _, t in ipairs(redis.call('SMEMBERS', lk .. ':fckeys')) do
    local sf, lf = prefix .. 'fc:p:' .. survivor .. ':' .. t, prefix .. 'fc:p:' .. loser .. ':' .. t
    local keep = math.max(redis.call('PTTL', sf), redis.call('PTTL', lf))
    if redis.call('ZUNIONSTORE', sf, 2, sf, lf, 'AGGREGATE', 'MAX') > 0 then
      if keep > 0 then redis.call('PEXPIRE', sf, keep) end
      redis.call('SADD', sk .. ':fckeys', t)
      if keep > redis.call('PTTL', sk .. ':fckeys') then redis.call('PEXPIRE', sk .. ':fckeys', keep) end
    end
    redis.call('DEL', lf)
  end
  -- All-time feature totals (`<featureId>|c|s|mn|mx|f|l`): counts and sums add, the rest keep the extreme.
  local totals = redis.call('HGETALL', lk .. ':ftotals')
  for i = 1, #totals, 2 do
    local field, v = totals[i], totals[i + 1]
    local kind = string.match(field, '|(%a+)$')
    if kind == 'c' then
      redis.call('HINCRBY', sk .. ':ftotals', field, v)
    elseif kind == 's' then
      redis.call('HINCRBYFLOAT', sk .. ':ftotals', field, v)
    else
      local cur = tonumber(redis.call('HGET', sk .. ':ftotals', field) or '')
      local lower = kind == 'mn' or kind == 'f'
      if cur == nil or (lower and tonumber(v) < cur) or ((not lower) and tonumber(v) > cur) then
        redis.call('HSET', sk .. ':ftotals', field, v)
      end
    end
  end
  local apartFrom = redis.call('SMEMBERS', lk .. ':nomerge')
  if #apartFrom > 0 then redis.call('SADD', sk .. ':nomerge', unpack(apartFrom)) end
  -- The processor re-evaluates the survivor; the loser leaves every segment now.
  for _, sid in ipairs(redis.call('SMEMBERS', lk .. ':segs')) do
    redis.call('SREM', prefix .. 'seg:' .. sid .. ':members', loser)
  end
  redis.call('ZREM', prefix .. 'due', loser)
  local lm = redis.call('HMGET', lk, 'created', 'first_seen', 'last_seen', 'version')
  local sm = redis.call('HMGET', sk, 'created', 'first_seen', 'last_seen')
  if lm[1] and ((not sm[1]) or tonumber(lm[1]) < tonumber(sm[1])) then redis.call('HSET', sk, 'created', lm[1]) end
  if lm[2] and ((not sm[2]) or tonumber(lm[2]) < tonumber(sm[2])) then redis.call('HSET', sk, 'first_seen', lm[2]) end
  if lm[3] and ((not sm[3]) or tonumber(lm[3]) > tonumber(sm[3])) then redis.call('HSET', sk, 'last_seen', lm[3]) end
  -- The survivor's version passes both, so a late evaluation of either is fenced off.
  if lm[4] then redis.call('HINCRBY', sk, 'version', lm[4]) end
  redis.call('DEL', lk, lk .. ':ids', lk .. ':traits', lk .. ':tord', lk .. ':counts', lk .. ':computed', lk .. ':fkeys', lk .. ':ftotals', lk .. ':segs', lk .. ':nomerge', lk .. ':fckeys')
  redis.call('HSET', lk, 'merged_into', survivor)
  table.sort(moved)
  return {survivor, loser, table.concat(moved, '\n')}
end

-- The older profile survives: smallest `created`, ties to the smaller id.
local function older(a, b)
  local ca, cb = tonumber(redis.call('HGET', pkey(a), 'created') or '0'), tonumber(redis.call('HGET', pkey(b), 'created') or '0')
  if ca ~= cb then return ca < cb end
  return a < b
end

-- Walk the identifiers in priority order, growing one group: the first identifier anchors it;
-- each other profile or new identifier joins unless a guardrail refuses it.
local group = false
local counts, total = {}, 0
local pending = {}
local merges, refused = {}, {}
for _, idf in ipairs(ids) do
  local owner = redis.call('GET', prefix .. 'id:' .. idf)
  -- An identifier already in the group needs nothing.
  if owner and owner ~= group then
    local add, addN = typeCounts(owner)
    local why = refusal(counts, total, add, addN)
    if not why and group and apart(group, owner) then why = 'unmerged' end
    if why then
      refused[#refused + 1] = {why, idf, owner}
    else
      if group then
        local s, l = group, owner
        if older(owner, group) then s, l = owner, group end
        merges[#merges + 1] = merge(s, l)
        group = s
      else
        group = owner
      end
      for t, n in pairs(add) do counts[t] = (counts[t] or 0) + n end
      total = total + addN
    end
  elseif not owner then
    local t = idType(idf)
    local why = refusal(counts, total, {[t] = 1}, 1)
    if why then
      refused[#refused + 1] = {why, idf, ''}
    else
      pending[#pending + 1] = idf
      counts[t] = (counts[t] or 0) + 1
      total = total + 1
    end
  end
end

local pid = group
if not pid then
  pid = newPid
  redis.call('HSET', pkey(pid), 'created', ts)
end
local pk = pkey(pid)
for _, idf in ipairs(pending) do
  redis.call('SET', prefix .. 'id:' .. idf, pid)
  redis.call('SADD', pk .. ':ids', idf)
end
if #refused > 0 then
  for _, r in ipairs(refused) do
    redis.call('LPUSH', prefix .. 'merges:refused', cjson.encode({at = tonumber(ts), messageId = mid, profile = pid, identifier = r[2], other = r[3], reason = r[1]}))
  end
  redis.call('LTRIM', prefix .. 'merges:refused', 0, 999)
end

-- Trait writes per policy; every policy compares state that does not depend on arrival order.
local changed = {}
for _, w in ipairs(writes) do
  local name, v = w[1], w[2]
  local p = policies[name]
  local code = p and p.code or 'lww'
  local cv = redis.call('HGET', pk .. ':traits', name)
  local co = redis.call('HGET', pk .. ':tord', name)
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
    if co and not tonumber(co) then redis.call('HSET', pk .. ':tord', name, '0') end
    newO = tostring(redis.call('HINCRBY', pk .. ':tord', name, v))
    newV = fromMicros(newO)
  end
  if newV and newV ~= cv then
    redis.call('HSET', pk .. ':traits', name, newV)
    changed[#changed + 1] = {name, newV}
  end
  if newO then redis.call('HSET', pk .. ':tord', name, newO) end
end

for _, c in ipairs(computed) do
  if c[1] == 's' then
    redis.call('HINCRBY', pk .. ':computed', 's|' .. c[2], c[3])
  else
    redis.call('HINCRBY', pk .. ':computed', 'm|' .. c[2] .. '|' .. c[3], 1)
  end
end

if countName ~= '' then
  redis.call('HINCRBY', pk .. ':counts', countName, 1)
end

local first = redis.call('HGET', pk, 'first_seen')
if (not first) or tonumber(ts) < tonumber(first) then redis.call('HSET', pk, 'first_seen', ts) end
local last = redis.call('HGET', pk, 'last_seen')
if (not last) or tonumber(ts) > tonumber(last) then redis.call('HSET', pk, 'last_seen', ts) end
local version = redis.call('HINCRBY', pk, 'version', 1)

redis.call('SET', dedupKey, pid, 'EX', ttl)
if #changed > 0 or #merges > 0 or #refused > 0 then
  redis.call('SET', resultKey, cjson.encode({changed, merges, refused}), 'EX', math.min(tonumber(ttl), 86400))
end
return {'new', pid, tostring(version), changed, merges, refused}
