-- Writes a connector's state and status only while the caller holds the run lease, and renews
-- the lease: a run whose lease expired (a paused or partitioned process) cannot overwrite the
-- cursor of the run that took over.
-- KEYS[1]: the connector hash, KEYS[2]: its lease. ARGV: op ('write'|'release'), token, ttl ms,
-- then field / value pairs for the hash. Returns 1 when written, 0 when the lease is not ours.
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
if ARGV[1] == 'release' then
  redis.call('DEL', KEYS[2])
else
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return 1
