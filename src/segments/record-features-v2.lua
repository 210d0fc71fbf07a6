-- Records one event's occurrences of the tenant's event features on one profile of the per-profile
-- layout (src/profiles/per-profile-layout.md §6, step 7): record-features.lua in the profile's slot.
-- features-v2.redis.ts puts profile-prelude.lua in front (prefix, pk, state, into, now, seenKey, isSeen, trimSeen, lapseSeen).
-- Idempotent: an occurrence's member is the messageId, so a redelivery adds nothing to a zset;
-- all-time totals are guarded by the member `f|<messageId>` of `:seen` (§2.4; score = when it
-- lapses, now + the event de-dup TTL, as apply-profile.lua keeps `<messageId>`), which a merge
-- carries over to the survivor with the rest of `:seen`.
-- KEYS[1]: the profile prefix `<ns>:{<tenant>:<pid>}:`.
-- ARGV: messageId, event time ms, now ms (the caller's: horizons), de-dup TTL seconds, trim slack
-- ms, then per matched feature 5 values: featureId, value ('' = none), has a property ('1'|'0'),
-- occurrence horizon ms ('all', or '0' = not kept), keeps a total ('1'|'0').
-- Returns {'recorded'}, {'dup'} (a frozen profile recorded this event before it was frozen: the
-- merge carries it), or {'moved', into} (merged or being merged into `into`: record there).
local mid = ARGV[1]
local at, asOf, ttl, slack = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local fmember = 'f|' .. mid

-- Whether the totals of this event were counted here.
local function counted() return isSeen(fmember) end

-- The guard of §2.3/§3.3: a frozen profile takes no writes (its snapshot is being absorbed), a
-- tombstone none at all; the caller records on `into`.
if state == 'merged' then return {'moved', into} end
if state == 'frozen' then
  if counted() then return {'dup'} end
  return {'moved', into}
end

local fresh = nil
local i = 6
while i + 4 <= #ARGV do
  local fid, value, hasProperty, horizon, total = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if horizon ~= '0' then
    local zk = prefix .. 'f:' .. fid
    local member = mid
    if hasProperty == '1' then member = mid .. '|' .. value end
    if horizon == 'all' then
      redis.call('ZADD', zk, at, member)
      redis.call('SADD', prefix .. 'fkeys', fid)
    else
      local h = tonumber(horizon)
      -- Occurrences already outside the horizon (plus slack) are never read: not worth a write.
      if at > asOf - h - slack then
        redis.call('ZADD', zk, at, member)
        redis.call('SADD', prefix .. 'fkeys', fid)
        redis.call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. (asOf - h - slack))
        -- The whole zset lapses once its newest occurrence is out of the horizon.
        local keep = at + h + slack - asOf
        if keep > redis.call('PTTL', zk) then redis.call('PEXPIRE', zk, keep) end
      end
    end
  end
  if total == '1' then
    if fresh == nil then fresh = not counted() end
    if fresh then
      local tk = prefix .. 'ftotals'
      redis.call('HINCRBY', tk, fid .. '|c', 1)
      local first = tonumber(redis.call('HGET', tk, fid .. '|f') or '')
      if first == nil or at < first then redis.call('HSET', tk, fid .. '|f', at) end
      local last = tonumber(redis.call('HGET', tk, fid .. '|l') or '')
      if last == nil or at > last then redis.call('HSET', tk, fid .. '|l', at) end
      if value ~= '' then
        local v = tonumber(value)
        redis.call('HINCRBYFLOAT', tk, fid .. '|s', value)
        local mn = tonumber(redis.call('HGET', tk, fid .. '|mn') or '')
        if mn == nil or v < mn then redis.call('HSET', tk, fid .. '|mn', value) end
        local mx = tonumber(redis.call('HGET', tk, fid .. '|mx') or '')
        if mx == nil or v > mx then redis.call('HSET', tk, fid .. '|mx', value) end
      end
    end
  end
  i = i + 5
end

if fresh then
  -- `:seen` as apply-profile.lua keeps it (the prelude's trimSeen and lapseSeen).
  trimSeen()
  redis.call('ZADD', seenKey, now + ttl * 1000, fmember)
  lapseSeen()
end
return {'recorded'}
