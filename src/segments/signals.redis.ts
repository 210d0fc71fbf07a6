import type { RedisClient } from '../infra/redis.ts';
import type { ProfileKeys } from '../profiles/keys.ts';
import type { ProfileSignals } from './store.ts';

/**
 * Last seen, the definitions fingerprint of the last full evaluation (`p` hash `last_seen`,
 * `seg_defs`) and stored membership (`segs`) of profiles, on either layout: `keysOf` names a
 * profile's keys. Two commands per profile, issued together (auto-pipelining sends them in one
 * write per node; on the per-profile layout they go to many slots, which one pipeline could not).
 */
export async function readProfileSignals(redis: RedisClient, keysOf: (pid: string) => ProfileKeys, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>> {
  const read = await Promise.all(profileIds.map((pid) => {
    const pk = keysOf(pid);
    return Promise.all([redis.hmget(pk.hash, 'last_seen', 'seg_defs'), redis.smembers(pk.segs)]);
  }));
  const out = new Map<string, ProfileSignals>();
  profileIds.forEach((pid, i) => {
    const [[lastSeen, evaluated], segs] = read[i] as [(string | null)[], string[]];
    const seen = lastSeen === null || lastSeen === undefined ? NaN : Number(lastSeen);
    out.set(pid, { lastSeen: Number.isFinite(seen) ? seen : undefined, evaluated: evaluated ?? undefined, segments: new Set(segs) });
  });
  return out;
}
