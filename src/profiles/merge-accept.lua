-- M1 (src/profiles/per-profile-layout.md §3.2), on the survivor S = KEYS[1]: accepts absorbing loser L, or
-- refuses. The guardrails are checked atomically here, over S's identifiers and those of L the
-- caller read (which it also reserves in S:ids against concurrent attaches), so what was accepted
-- cannot be broken by a write to S in between. Idempotent: the same L and identity answer `ok` again.
-- ARGV: L, L's created ('' = unset), messageId, max identifiers, n limits, n x (type, limit),
--       n, L's ids (`type:id`), n, L's nomerge, n, L's merged (as read by the caller).
-- Returns {'ok', digest} | {'done'} (L is absorbed already) | {'refused', reason} (a guardrail, or
-- 'unmerged') | {'younger'} (L is older: it must survive) | {'moved', into} (S is not live) |
-- {'unborn'} (S has no profile).
local loser, loserCreated, mid = ARGV[1], ARGV[2], ARGV[3]
local maxIds = tonumber(ARGV[4])
local at = 5
local function nextArg() local v = ARGV[at]; at = at + 1; return v end
local limits = {}
for _ = 1, tonumber(nextArg()) do local t = nextArg(); limits[t] = tonumber(nextArg()) end
local function nextList()
  local out = {}
  for i = 1, tonumber(nextArg()) do out[i] = nextArg() end
  return out
end
local lids, lnomerge, lmerged = nextList(), nextList(), nextList()

if state then return {'moved', into or ''} end
if not created then return {'unborn'} end
if redis.call('SISMEMBER', mergedKey, loser) == 1 then return {'done'} end
local d = digest(lids, lnomerge, lmerged)
local current = redis.call('HGET', absorbingKey, loser)
local before = current and cjson.decode(current) or nil
if before and before.digest == d then return {'ok', d} end

-- The older profile survives: smallest `created` (unset counts as 0), ties to the smaller id.
local cs, cl = tonumber(created), tonumber(loserCreated) or 0
if cl < cs or (cl == cs and loser < pid) then return {'younger'} end

-- The guardrails over S:ids ∪ L's ids, as apply-event.lua checks a merge: the total first, then
-- per type (only types L brings can break a limit), then whether an unmerge split the two.
local all = setOf(redis.call('SMEMBERS', idsKey))
local counts, total, brings = {}, 0, {}
for _, idf in ipairs(lids) do all[idf] = true; brings[idType(idf)] = true end
for idf in pairs(all) do
  local t = idType(idf)
  counts[t] = (counts[t] or 0) + 1
  total = total + 1
end
if total > maxIds then return {'refused', 'max_identifiers ' .. maxIds} end
for t in pairs(brings) do
  local lim = limits[t]
  if lim and counts[t] > lim then return {'refused', 'limit ' .. t .. ' ' .. lim} end
end

-- Split by an unmerge: S's nomerge names L or a profile L absorbed, or the other way round.
local lives = setOf(lmerged)
lives[loser] = true
for _, x in ipairs(redis.call('SMEMBERS', nomergeKey)) do
  if lives[x] then return {'refused', 'unmerged'} end
end
local slives = setOf(redis.call('SMEMBERS', mergedKey))
slives[pid] = true
for _, x in ipairs(lnomerge) do
  if slives[x] then return {'refused', 'unmerged'} end
end

-- Reserve L's identifiers; `added` are those S did not hold, which an abort takes back.
local added = before and list(before.added) or {}
for _, idf in ipairs(lids) do
  if redis.call('SADD', idsKey, idf) == 1 then added[#added + 1] = idf end
end
redis.call('HSET', absorbingKey, loser, cjson.encode({ids = lids, added = added, digest = d, at = now, mid = mid}))
return {'ok', d}
