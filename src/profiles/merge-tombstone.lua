-- M5 (src/profiles/per-profile-layout.md §3.2), on the loser L = KEYS[1], once S has absorbed it and its id
-- keys point at S: deletes L's state and leaves the tombstone `p` = {state=merged, into=S, created}.
-- ARGV: S.
-- Returns {'first'} (this call made the tombstone) | {'again'} (it was one already) |
-- {'refused', state, into} (L is not frozen into S: nothing deleted).
local survivor = ARGV[1]

if state == 'merged' and into == survivor then return {'again'} end
if state ~= 'frozen' or into ~= survivor then return {'refused', state or 'live', into or ''} end

local keys = {}
for _, fid in ipairs(redis.call('SMEMBERS', prefix .. 'fkeys')) do keys[#keys + 1] = prefix .. 'f:' .. fid end
for _, t in ipairs(redis.call('SMEMBERS', prefix .. 'fckeys')) do keys[#keys + 1] = prefix .. 'fc:' .. t end
for _, part in ipairs({'ids', 'traits', 'tord', 'counts', 'computed', 'ftotals', 'fkeys', 'fckeys', 'segs', 'nomerge',
  'merged', 'absorbing', 'movedout', 'seen', 'applied'}) do
  keys[#keys + 1] = prefix .. part
end
for i = 1, #keys, 1000 do redis.call('DEL', unpack(keys, i, math.min(i + 999, #keys))) end
redis.call('DEL', pk)
redis.call('HSET', pk, 'state', 'merged', 'into', survivor, 'created', created)
return {'first'}
