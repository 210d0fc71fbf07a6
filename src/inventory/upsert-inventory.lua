-- Registers (replaces) one site or app and claims its placement ids, atomically.
-- KEYS[1] tenant prefix `<ns>:{<tenant>}:` (every key below shares its hash tag: one slot)
-- ARGV: inventory id, inventory JSON, then its placement ids.
-- Returns {'ok', created (1/0)} or {'conflict', placement id, owning inventory id} (nothing written).
local prefix = KEYS[1]
local id = ARGV[1]
for i = 3, #ARGV do
  local owner = redis.call('HGET', prefix .. 'placements', ARGV[i])
  if owner and owner ~= id then return {'conflict', ARGV[i], owner} end
end
local old = redis.call('HGET', prefix .. 'inventory', id)
if old then
  -- Placements dropped from the inventory are released for others to register.
  for _, p in ipairs(cjson.decode(old).placements) do
    redis.call('HDEL', prefix .. 'placements', p.id)
  end
end
redis.call('HSET', prefix .. 'inventory', id, ARGV[2])
for i = 3, #ARGV do
  redis.call('HSET', prefix .. 'placements', ARGV[i], id)
end
return {'ok', old and 0 or 1}
