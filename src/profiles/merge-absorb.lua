-- M3 (src/profiles/per-profile-layout.md §3.2), on the survivor S = KEYS[1]: applies the snapshot of loser L
-- that merge-freeze.lua returned, with apply-event.lua's merge rules (`merge`, lines 156-230).
-- Exactly once: `S:merged` gets L in the same script, and a second absorb answers `done`. The
-- triggering event is not applied here: the caller runs apply-profile.lua on S afterwards.
-- ARGV: L, mode ('all', or 'sets': only the idempotent part, for a snapshot sent in chunks, §3.2),
--       snapshot JSON, n policies, n x (trait, code, sources joined by '\n').
-- Returns {'absorbed'} | {'sets'} | {'done'} (absorbed before) | {'not_accepted'} (no S:absorbing[L]: the merge
-- was aborted; thaw L) | {'moved', into} (S is not live).
local loser, mode, snap = ARGV[1], ARGV[2], cjson.decode(ARGV[3])
local at = 4
local function nextArg() local v = ARGV[at]; at = at + 1; return v end
local policies = {}
for _ = 1, tonumber(nextArg()) do
  local name, code, prio = nextArg(), nextArg(), nextArg()
  policies[name] = {code = code, prio = prio}
end

if state then return {'moved', into or ''} end
if redis.call('SISMEMBER', mergedKey, loser) == 1 then return {'done'} end
if redis.call('HEXISTS', absorbingKey, loser) == 0 then return {'not_accepted'} end
if snap.pid ~= loser or snap.into ~= pid then return redis.error_reply('merge-absorb: snapshot of ' .. tostring(snap.pid) .. ' into ' .. tostring(snap.into)) end

local traitsKey, tordKey = prefix .. 'traits', prefix .. 'tord'

-- Combines a trait of L (value v, state o) into S's, per policy (apply-event.lua `mergeTrait`).
local function mergeTrait(name, v, o)
  local p = policies[name]
  local code = p and p.code or 'lww'
  local cv = redis.call('HGET', traitsKey, name)
  local co = redis.call('HGET', tordKey, name)
  local take = false
  if code == 'set' then
    if o then
      local val, st = setValue(union(co and split(co) or {}, split(o)))
      redis.call('HSET', traitsKey, name, val)
      redis.call('HSET', tordKey, name, st)
    end
    return
  elseif code == 'incr' then
    if tonumber(o) then
      if co and not tonumber(co) then redis.call('HSET', tordKey, name, '0') end
      local sum = redis.call('HINCRBY', tordKey, name, o)
      redis.call('HSET', traitsKey, name, tostring(tonumber(sum) / 1000000))
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
    redis.call('HSET', traitsKey, name, v)
    if o then redis.call('HSET', tordKey, name, o) end
  end
end

-- ZADD GT of flat member/score pairs, in slices (unpack has a limit).
local function zadd(key, flat)
  for i = 1, #flat, 1000 do
    local args = {}
    for j = i, math.min(i + 999, #flat), 2 do args[#args + 1] = flat[j + 1]; args[#args + 1] = flat[j] end
    redis.call('ZADD', key, 'GT', unpack(args))
  end
end

-- What is left of a zset's time to live since the snapshot (-1: none; -2: gone by now).
local function left(z)
  if z.pttl < 0 then return z.pttl end
  local ms = z.pttl - (now - snap.at)
  if ms <= 0 then return -2 end
  return ms
end

-- Sets and zsets first: adding them again changes nothing, so a large snapshot may come in
-- several `sets` calls before the `all` call.
local ids = list(snap.ids)
for i = 1, #ids, 1000 do redis.call('SADD', idsKey, unpack(ids, i, math.min(i + 999, #ids))) end
local nomerge = list(snap.nomerge)
if #nomerge > 0 then redis.call('SADD', nomergeKey, unpack(nomerge)) end
-- Feature zsets: members are per message, so the larger score de-duplicates them; the result
-- keeps the longer time to live, none if either had none (ZUNIONSTORE in apply-event.lua).
for _, f in ipairs(list(snap.features)) do
  local key = prefix .. 'f:' .. f.id
  local st, lt = redis.call('PTTL', key), left(f)
  if lt ~= -2 then zadd(key, list(f.z)) end
  if redis.call('EXISTS', key) == 1 then
    if st == -1 or lt == -1 then redis.call('PERSIST', key)
    elseif math.max(st, lt) > 0 then redis.call('PEXPIRE', key, math.max(st, lt)) end
  end
  redis.call('SADD', prefix .. 'fkeys', f.id)
end
-- Frequency-cap impressions counted on L count on S; members are per impression id.
local fckeys = prefix .. 'fckeys'
for _, f in ipairs(list(snap.fc)) do
  local key = prefix .. 'fc:' .. f.id
  local lt = left(f)
  local keep = math.max(redis.call('PTTL', key), lt)
  if lt ~= -2 then zadd(key, list(f.z)) end
  if redis.call('EXISTS', key) == 1 then
    if keep > 0 then redis.call('PEXPIRE', key, keep) else redis.call('PERSIST', key) end
    redis.call('SADD', fckeys, f.id)
    if keep > redis.call('PTTL', fckeys) then redis.call('PEXPIRE', fckeys, keep) end
  end
end

-- De-dup (§2.4): an event counted on L is never counted again on S. The later expiry wins; what an
-- event changed (`applied`) comes with its live `a|<messageId>` member.
local seen, live = list(snap.seen), {}
local applied = snap.applied or {}
for i = 1, #seen, 2 do
  local m = seen[i]
  if tonumber(seen[i + 1]) > now then
    live[#live + 1] = m; live[#live + 1] = seen[i + 1]
    local r = string.sub(m, 1, 2) == 'a|' and applied[string.sub(m, 3)]
    if r then redis.call('HSETNX', appliedKey, string.sub(m, 3), r) end
  end
end
if #live > 0 then
  zadd(seenKey, live)
  lapseSeen()
end

if mode == 'sets' then return {'sets'} end

-- The rest adds up, so it is applied once: guarded by S:merged, which gets L here.
for name, v in pairs(snap.traits) do mergeTrait(name, v, snap.tord[name]) end
for k, n in pairs(snap.counts) do redis.call('HINCRBY', prefix .. 'counts', k, n) end
for k, n in pairs(snap.computed) do redis.call('HINCRBY', prefix .. 'computed', k, n) end

-- All-time feature totals (`<featureId>|c|s|mn|mx|f|l`): counts and sums add, the rest keep the extreme.
local totalsKey = prefix .. 'ftotals'
for field, v in pairs(snap.ftotals) do
  local kind = string.match(field, '|(%a+)$')
  if kind == 'c' then
    redis.call('HINCRBY', totalsKey, field, v)
  elseif kind == 's' then
    redis.call('HINCRBYFLOAT', totalsKey, field, v)
  else
    local cur = tonumber(redis.call('HGET', totalsKey, field) or '')
    local lower = kind == 'mn' or kind == 'f'
    if cur == nil or (lower and tonumber(v) < cur) or ((not lower) and tonumber(v) > cur) then
      redis.call('HSET', totalsKey, field, v)
    end
  end
end

redis.call('SADD', mergedKey, loser, unpack(list(snap.merged)))

local lm = snap.p
local sm = redis.call('HMGET', pk, 'created', 'first_seen', 'last_seen')
if lm.created and ((not sm[1]) or tonumber(lm.created) < tonumber(sm[1])) then redis.call('HSET', pk, 'created', lm.created) end
if lm.first_seen and ((not sm[2]) or tonumber(lm.first_seen) < tonumber(sm[2])) then redis.call('HSET', pk, 'first_seen', lm.first_seen) end
if lm.last_seen and ((not sm[3]) or tonumber(lm.last_seen) > tonumber(sm[3])) then redis.call('HSET', pk, 'last_seen', lm.last_seen) end
-- S's version passes both, so a late evaluation of either is fenced off.
if lm.version then redis.call('HINCRBY', pk, 'version', lm.version) end

return {'absorbed'}
