-- Bench only (bench/segments.ts): copies profiles that ingest built to new people, so a large
-- population has the Redis state ingest would have built from the same events under the new
-- people's ids. Every key of a template profile is copied, with the template's profile id,
-- identifiers and message ids replaced by the new person's.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:` (every key below is in the tenant's slot).
-- ARGV: groups of 8: template pid, new pid, template user id, new user id, template anonymous id,
--       new anonymous id, template message-id prefix, new message-id prefix.
-- Returns the number of profiles written; a template that is missing or has an identifier the
-- script does not know is an error (nothing of that group is half-written before the check).
local prefix = KEYS[1]

local function replaceAll(s, from, to)
  local out, i = {}, 1
  while true do
    local a, b = string.find(s, from, i, true)
    if not a then break end
    out[#out + 1] = string.sub(s, i, a - 1)
    out[#out + 1] = to
    i = b + 1
  end
  out[#out + 1] = string.sub(s, i)
  return table.concat(out)
end

local function copyTtl(src, dst)
  local ttl = redis.call('PTTL', src)
  if ttl > 0 then redis.call('PEXPIRE', dst, ttl) end
end

local written = 0
for g = 1, #ARGV, 8 do
  local tpid, npid = ARGV[g], ARGV[g + 1]
  local tuser, nuser, tanon, nanon = ARGV[g + 2], ARGV[g + 3], ARGV[g + 4], ARGV[g + 5]
  local tmid, nmid = ARGV[g + 6], ARGV[g + 7]
  local tk, nk = prefix .. 'p:' .. tpid, prefix .. 'p:' .. npid
  if redis.call('EXISTS', tk) == 0 then return redis.error_reply('template profile ' .. tpid .. ' not found') end
  local ids = redis.call('SMEMBERS', tk .. ':ids')
  local mapped = {}
  for _, idf in ipairs(ids) do
    if idf == 'user_id:' .. tuser then mapped[#mapped + 1] = 'user_id:' .. nuser
    elseif idf == 'anonymous_id:' .. tanon then mapped[#mapped + 1] = 'anonymous_id:' .. nanon
    else return redis.error_reply('template ' .. tpid .. ' has an unexpected identifier ' .. idf) end
  end
  -- COPY answers 0 when the template has no such key (no computed traits, say).
  for _, suffix in ipairs({ '', ':traits', ':counts', ':computed', ':ftotals', ':segs', ':fkeys' }) do
    redis.call('COPY', tk .. suffix, nk .. suffix, 'REPLACE')
  end
  local tord = redis.call('HGETALL', tk .. ':tord')
  if #tord > 0 then
    for i = 2, #tord, 2 do tord[i] = replaceAll(tord[i], tmid, nmid) end
    redis.call('HSET', nk .. ':tord', unpack(tord))
  end
  if #mapped > 0 then redis.call('SADD', nk .. ':ids', unpack(mapped)) end
  for _, idf in ipairs(mapped) do redis.call('SET', prefix .. 'id:' .. idf, npid) end
  for _, fid in ipairs(redis.call('SMEMBERS', tk .. ':fkeys')) do
    local src, dst = tk .. ':f:' .. fid, nk .. ':f:' .. fid
    local z = redis.call('ZRANGE', src, 0, -1, 'WITHSCORES')
    if #z > 0 then
      local args = {}
      for i = 1, #z, 2 do
        args[#args + 1] = z[i + 1]
        args[#args + 1] = replaceAll(z[i], tmid, nmid)
      end
      redis.call('ZADD', dst, unpack(args))
      copyTtl(src, dst)
    end
  end
  for _, sid in ipairs(redis.call('SMEMBERS', tk .. ':segs')) do redis.call('SADD', prefix .. 'seg:' .. sid .. ':members', npid) end
  local due = redis.call('ZSCORE', prefix .. 'due', tpid)
  if due then redis.call('ZADD', prefix .. 'due', due, npid) end
  redis.call('SADD', prefix .. 'profiles', npid)
  -- Per-event keys (the bench sends at most 3 events a person): de-duplication (holds the
  -- profile id), the applied result, feature de-duplication.
  for k = 0, 2 do
    local src = prefix .. 'dedup:' .. tmid .. k
    local ttl = redis.call('PTTL', src)
    if ttl ~= -2 then
      local dst = prefix .. 'dedup:' .. nmid .. k
      if ttl > 0 then redis.call('SET', dst, npid, 'PX', ttl) else redis.call('SET', dst, npid) end
    end
    redis.call('COPY', prefix .. 'applied:' .. tmid .. k, prefix .. 'applied:' .. nmid .. k, 'REPLACE')
    redis.call('COPY', prefix .. 'fdedup:' .. tmid .. k, prefix .. 'fdedup:' .. nmid .. k, 'REPLACE')
  end
  written = written + 1
end
return written
