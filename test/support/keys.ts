import type { RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';

/*
 * Reads of Redis state that tests assert on, for the families whose layout is going to change
 * (src/profiles/per-profile-layout.md §1: per-segment members and `due` are split into buckets):
 * tests call these instead of naming the keys, so a new layout changes this file, not assertions.
 */

/** The profiles in a segment (SMEMBERS, in Redis' order). */
export function segMembers(redis: RedisClient, namespace: string, tenant: string, segment: string): Promise<string[]> {
  return redis.smembers(tenantKeys(namespace, tenant).segMembers(segment));
}

/** How many profiles a segment has (SCARD). */
export function segSize(redis: RedisClient, namespace: string, tenant: string, segment: string): Promise<number> {
  return redis.scard(tenantKeys(namespace, tenant).segMembers(segment));
}

/** When a profile's membership is due to be evaluated again (its `due` score), or null. */
export function dueOf(redis: RedisClient, namespace: string, tenant: string, profileId: string): Promise<string | null> {
  return redis.zscore(tenantKeys(namespace, tenant).due, profileId);
}

/** The segments a profile is in (its `segs` set), sorted. */
export async function segsOf(redis: RedisClient, namespace: string, tenant: string, profileId: string): Promise<string[]> {
  return (await redis.smembers(tenantKeys(namespace, tenant).profile(profileId).segs)).sort();
}
