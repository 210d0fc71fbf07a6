-- Applies one event to a tenant's identity graph and profile, atomically and once per messageId.
-- KEYS[1]: the tenant prefix `<ns>:{<tenant>}:` (routes the script to the tenant's slot).
-- ARGV: messageId, order token (zero-padded event time | messageId), event time ms, new profile id,
--       de-dup TTL seconds, counter name ('' for none), n identifiers, n x `type:id`,
--       then trait name / JSON value pairs.
-- Returns {'new'|'dup', profileId, version}.
local prefix = KEYS[1]
local mid, order, ts, newPid, ttl, countName = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local nIds = tonumber(ARGV[7])

local dedupKey = prefix .. 'dedup:' .. mid
local seen = redis.call('GET', dedupKey)
if seen then
  return {'dup', seen, redis.call('HGET', prefix .. 'p:' .. seen, 'version') or '0'}
end

local pid = false
for i = 1, nIds do
  local p = redis.call('GET', prefix .. 'id:' .. ARGV[7 + i])
  if p then pid = p break end
end
local pk
if not pid then
  pid = newPid
  pk = prefix .. 'p:' .. pid
  redis.call('HSET', pk, 'created', ts)
else
  pk = prefix .. 'p:' .. pid
end

-- An identifier already owned by another profile stays there: merging is a policy decision.
for i = 1, nIds do
  local idf = ARGV[7 + i]
  if redis.call('SET', prefix .. 'id:' .. idf, pid, 'NX') then
    redis.call('SADD', pk .. ':ids', idf)
  end
end

-- Last write wins by (event time, messageId): the same events in any order give the same traits.
local t = 8 + nIds
while t < #ARGV do
  local name, value = ARGV[t], ARGV[t + 1]
  local cur = redis.call('HGET', pk .. ':tord', name)
  if (not cur) or cur < order then
    redis.call('HSET', pk .. ':traits', name, value)
    redis.call('HSET', pk .. ':tord', name, order)
  end
  t = t + 2
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
return {'new', pid, tostring(version)}
