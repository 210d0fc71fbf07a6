-- Release (src/profiles/per-profile-layout.md §2.2 step 6), on profile P = KEYS[1]: P listed an identifier
-- in `:ids` whose claim another profile Q won, and the guardrails refused merging the two, so P
-- gives the identifier up (until then guardrail counts include it, which errs on the safe side).
-- ARGV: the identifier (`type:id`), Q.
-- Returns {'released'} | {'kept'} (P absorbed Q, or is absorbing it: the identifier is P's after
-- all) | {'moved', into} (P was merged, or is being merged, into another profile: release there).
local idf, owner = ARGV[1], ARGV[2]

if state then return {'moved', into or ''} end
if redis.call('SISMEMBER', mergedKey, owner) == 1 or redis.call('HEXISTS', absorbingKey, owner) == 1 then return {'kept'} end
redis.call('SREM', idsKey, idf)
return {'released'}
