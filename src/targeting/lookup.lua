-- The hot path of GetAudience in one round trip: identifiers -> profile -> segments with names.
-- KEYS[1]: the tenant prefix. ARGV: `type:id` identifiers in priority order.
-- Returns {profileId, segmentId, name, segmentId, name, ...} or {} for an unknown person.
local prefix = KEYS[1]
local pid = false
for i = 1, #ARGV do
  pid = redis.call('GET', prefix .. 'id:' .. ARGV[i])
  if pid then break end
end
if not pid then return {} end
local out = {pid}
local segs = redis.call('SMEMBERS', prefix .. 'p:' .. pid .. ':segs')
if #segs == 0 then return out end
local names = redis.call('HMGET', prefix .. 'segnames', unpack(segs))
for i = 1, #segs do
  -- A deleted segment has no name any more and is not returned.
  if names[i] then
    out[#out + 1] = segs[i]
    out[#out + 1] = names[i]
  end
end
return out
