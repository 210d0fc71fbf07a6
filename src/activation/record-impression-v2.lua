-- Counts one impression toward frequency caps in one slot of the per-profile layout, once per
-- impression id and slot (src/profiles/per-profile-layout.md §1, §6, step 7): record-impression.lua called
-- once per subject, each slot with its own `fcimp:<impressionId>`. frequency-v2.redis.ts puts
-- profile-prelude.lua in front (prefix, state, into).
-- KEYS[1]: a profile prefix `<ns>:{<tenant>:<pid>}:` or an identifier's `<ns>:{<tenant>:i:<h8>}:`.
-- ARGV: kind ('p': a profile's slot, guarded and its zsets listed in `fckeys` so a merge moves
--       them; 'i': an identifier's), impressionId, at (ms), member (`<channel>|<impressionId>`),
--       keepMs, trimBelow (ms), then the zsets to add the impression to, after `<prefix>fc:`:
--       `<scope>:<target>` in a profile's slot, `i:<type>:<id>:<scope>:<target>` in an identifier's.
-- Returns 1 when counted now, 0 when the impression id was counted in this slot before, or
-- {'moved', into} (the profile is merged or being merged into `into`: count it there).
local kind, imp, at, member, keep, trimBelow = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local marker = prefix .. 'fcimp:' .. imp

-- The guard of §2.3: a frozen profile takes no writes (what it counted is in its snapshot), a
-- tombstone none at all.
if kind == 'p' and (state == 'merged' or state == 'frozen') then
  if redis.call('EXISTS', marker) == 1 then return 0 end
  return {'moved', into}
end

if not redis.call('SET', marker, '1', 'NX', 'PX', keep) then return 0 end
local fckeys = prefix .. 'fckeys'
for i = 7, #ARGV do
  local k = prefix .. 'fc:' .. ARGV[i]
  redis.call('ZADD', k, at, member)
  -- Nothing older than the longest window can count again: exact windows need no more.
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. trimBelow)
  redis.call('PEXPIRE', k, keep)
  if kind == 'p' then
    redis.call('SADD', fckeys, ARGV[i])
    redis.call('PEXPIRE', fckeys, keep)
  end
end
return 1
