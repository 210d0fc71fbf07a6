-- Writes a new version of a segment definition, unless another update got in first.
-- KEYS[1]: the tenant prefix. ARGV: segment id, versions already listed (what the caller read),
-- the new definition JSON, its name.
-- Returns the new number of versions, -1 when the segment does not exist, -2 on a concurrent update.
local prefix, id = KEYS[1], ARGV[1]
local current = redis.call('HGET', prefix .. 'segments', id)
if not current then return -1 end
local vkey = prefix .. 'segdef:' .. id .. ':versions'
local n = redis.call('LLEN', vkey)
if n ~= tonumber(ARGV[2]) then return -2 end
-- A segment created before definitions were versioned: its current definition becomes version 1.
if n == 0 then redis.call('RPUSH', vkey, current) end
redis.call('HSET', prefix .. 'segments', id, ARGV[3])
redis.call('HSET', prefix .. 'segnames', id, ARGV[4])
redis.call('INCR', prefix .. 'catalog_v')
return redis.call('RPUSH', vkey, ARGV[3])
