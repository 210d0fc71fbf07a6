-- Records one event's occurrences of the tenant's event features on one profile.
-- Idempotent: an occurrence's member is the messageId, so a redelivery adds nothing to a zset;
-- all-time totals are guarded by `fdedup:<messageId>` (kept as long as the event de-dup key).
-- KEYS[1]: the tenant prefix. ARGV: profileId, messageId, event time ms, now ms, de-dup TTL
-- seconds, trim slack ms, then per matched feature 5 values: featureId, value ('' = none),
-- has a property ('1'|'0'), occurrence horizon ms ('all', or '0' = not kept), keeps a total ('1'|'0').
local prefix = KEYS[1]
local pid, mid = ARGV[1], ARGV[2]
local at, now, ttl, slack = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
-- A profile merged away since its event was applied (by another processor) hands its occurrences
-- to the profile it was merged into: follow `merged_into` as apply-event.lua does.
for _ = 1, 64 do
  local into = redis.call('HGET', prefix .. 'p:' .. pid, 'merged_into')
  if not into then break end
  pid = into
end
local pk = prefix .. 'p:' .. pid
local fresh = nil
local i = 7
while i + 4 <= #ARGV do
  local fid, value, hasProperty, horizon, total = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  if horizon ~= '0' then
    local zk = pk .. ':f:' .. fid
    local member = mid
    if hasProperty == '1' then member = mid .. '|' .. value end
    if horizon == 'all' then
      redis.call('ZADD', zk, at, member)
      redis.call('SADD', pk .. ':fkeys', fid)
    else
      local h = tonumber(horizon)
      -- Occurrences already outside the horizon (plus slack) are never read: not worth a write.
      if at > now - h - slack then
        redis.call('ZADD', zk, at, member)
        redis.call('SADD', pk .. ':fkeys', fid)
        redis.call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. (now - h - slack))
        -- The whole zset lapses once its newest occurrence is out of the horizon.
        local keep = at + h + slack - now
        if keep > redis.call('PTTL', zk) then redis.call('PEXPIRE', zk, keep) end
      end
    end
  end
  if total == '1' then
    if fresh == nil then
      fresh = redis.call('SET', prefix .. 'fdedup:' .. mid, '1', 'NX', 'EX', ttl) ~= false
    end
    if fresh then
      local tk = pk .. ':ftotals'
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
return 1
