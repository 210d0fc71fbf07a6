-- M4 (src/profiles/per-profile-layout.md §3.2): points one identifier key at survivor S if it points at the
-- loser L or at a profile L (or S) absorbed before, or at nobody (L's own claim had not been made).
-- KEYS[1]: the identifier's owner key `<identifier tag>id:<type>:<id>`.
-- ARGV: S, then the profiles whose ownership passes to S (L first).
-- Returns {'ok'} (it points at S now) | {'other', owner} (another profile holds it: left alone).
local key, survivor = KEYS[1], ARGV[1]
local owner = redis.call('GET', key)
if owner == survivor then return {'ok'} end
if owner then
  local passes = false
  for i = 2, #ARGV do
    if ARGV[i] == owner then passes = true; break end
  end
  if not passes then return {'other', owner} end
end
redis.call('SET', key, survivor)
return {'ok'}
