-- The hot path of GetAudience: identifiers -> profile -> consent and segments with names and
-- taxonomy ids, for many lookups in one call (a tenant's keys share one hash slot).
-- KEYS[1]: the tenant prefix. ARGV: per lookup, the number of identifiers n then n `type:id`
-- identifiers in priority order.
-- Returns one array per lookup: {profileId, consentJSON or '', segmentId, name, taxonomyId or '',
-- ...}, or {} for an unknown person.
local prefix = KEYS[1]
local results = {}
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local pid = false
  for j = i + 1, i + n do
    pid = redis.call('GET', prefix .. 'id:' .. ARGV[j])
    if pid then break end
  end
  i = i + n + 1
  local out = {}
  if pid then
    out[1] = pid
    out[2] = redis.call('HGET', prefix .. 'p:' .. pid .. ':traits', '$consent') or ''
    local segs = redis.call('SMEMBERS', prefix .. 'p:' .. pid .. ':segs')
    if #segs > 0 then
      local names = redis.call('HMGET', prefix .. 'segnames', unpack(segs))
      local taxonomy = redis.call('HMGET', prefix .. 'segtaxonomy', unpack(segs))
      for k = 1, #segs do
        -- A deleted segment has no name any more and is not returned.
        if names[k] then
          out[#out + 1] = segs[k]
          out[#out + 1] = names[k]
          out[#out + 1] = taxonomy[k] or ''
        end
      end
    end
  end
  results[#results + 1] = out
end
return results
