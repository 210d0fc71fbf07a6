-- Prelude of the scripts that run in one profile's slot (src/profiles/per-profile-layout.md §2.3, §3.2):
-- profileSlotScript (profile-slot.ts) puts it in front of apply-profile.lua, merge-accept/freeze/
-- absorb/tombstone/abort.lua and the other profile-slot scripts. KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`.
-- Defines: prefix, pid, pk (the `p` hash), idsKey, nomergeKey, mergedKey, absorbingKey, now (Redis
-- time, ms), state (nil: live, 'frozen', 'merged'), into, created (nil: never born), seenKey,
-- appliedKey, movedoutKey; sorted, digest, list, setOf, idType, split, setValue, union, isSeen, trimSeen,
-- lapseSeen, movedTo.
local prefix = KEYS[1]
local pid = string.match(prefix, ':([^:{}]+)}:$')
local pk = prefix .. 'p'
local idsKey, nomergeKey, mergedKey, absorbingKey = prefix .. 'ids', prefix .. 'nomerge', prefix .. 'merged', prefix .. 'absorbing'
-- Identifier -> the profile an unmerge moved it to, between its swap (U2) and its id keys' repoint (U3) (§3.6).
local movedoutKey = prefix .. 'movedout'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- `state` is nil (live), 'frozen' or 'merged'; `into` the survivor; no `created`: never born.
local meta = redis.call('HMGET', pk, 'state', 'into', 'created')
local state, into, created = meta[1], meta[2], meta[3]

local function sorted(list)
  local out = {}
  for i, x in ipairs(list) do out[i] = x end
  table.sort(out)
  return out
end

-- What a loser's identity looked like when its merge was accepted: a change in between (an
-- attach, an absorb of its own) makes the freeze answer `changed`.
local function digest(ids, nomerge, merged)
  return redis.sha1hex(table.concat(sorted(ids), '\n') .. '\0' .. table.concat(sorted(nomerge), '\n') .. '\0' .. table.concat(sorted(merged), '\n'))
end

-- A JSON array read back: cjson encodes an empty Lua table as an object.
local function list(x)
  if type(x) ~= 'table' then return {} end
  return x
end

local function setOf(items)
  local out = {}
  for _, x in ipairs(items) do out[x] = true end
  return out
end

-- `user_id:u1` -> `user_id`, `partner:acme:x` -> `partner:acme` (as apply-profile.lua reads them).
local function idType(idf)
  if string.sub(idf, 1, 8) == 'partner:' then
    return string.sub(idf, 1, string.find(idf, ':', 9, true) - 1)
  end
  return string.sub(idf, 1, string.find(idf, ':', 1, true) - 1)
end

-- The set-valued trait helpers of apply-profile.lua.
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
  for _, l in ipairs({a, b}) do
    for _, x in ipairs(l) do
      if not seenM[x] then seenM[x] = true; out[#out + 1] = x end
    end
  end
  return out
end

-- De-dup state (§2.4): `:seen` member -> when it lapses (ms), `:applied` messageId -> what the
-- event changed (kept while its `a|<messageId>` member lives).
local seenKey, appliedKey = prefix .. 'seen', prefix .. 'applied'

-- Whether `member` of `:seen` has not lapsed (a member past its score is as good as gone).
local function isSeen(member)
  local s = redis.call('ZSCORE', seenKey, member)
  return s ~= false and s ~= nil and tonumber(s) > now
end

-- Drops lapsed members of `:seen`, 64 at a time, with what `:applied` kept for their `a|` members.
local function trimSeen()
  local expired = redis.call('ZRANGEBYSCORE', seenKey, '-inf', now, 'LIMIT', 0, 64)
  if #expired == 0 then return end
  for _, m in ipairs(expired) do
    if string.sub(m, 1, 2) == 'a|' then redis.call('HDEL', appliedKey, string.sub(m, 3)) end
  end
  redis.call('ZREM', seenKey, unpack(expired))
end

-- The de-dup state of a quiet profile lapses as a whole, with its newest member, as separate
-- string keys would. Call after adding to a non-empty `:seen`.
local function lapseSeen()
  local newest = redis.call('ZRANGE', seenKey, -1, -1, 'WITHSCORES')
  local keep = tonumber(newest[2]) - now
  redis.call('PEXPIRE', seenKey, keep)
  if redis.call('EXISTS', appliedKey) == 1 then redis.call('PEXPIRE', appliedKey, keep) end
end

-- The unmerge window (§3.6): the profile an in-flight unmerge moved identifier `via` (`type:id`) to,
-- or nil. A caller that reached this profile through `via` (an id key not repointed yet) answers
-- {'moved', movedTo(via)}: the person behind `via` lives there now. Reads nothing for '' or nil.
local function movedTo(via)
  if via == nil or via == '' then return nil end
  local target = redis.call('HGET', movedoutKey, via)
  if target then return target end
  return nil
end
