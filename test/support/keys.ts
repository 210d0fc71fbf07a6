import type { RedisLayout } from '../../src/config/config.ts';
import type { RedisClient } from '../../src/infra/redis.ts';
import type { Identifier } from '../../src/identity/identifier.ts';
import { bucketKeys, bucketOf, identifierOwner, profileKeys, tenantKeys, type ProfileKeys } from '../../src/profiles/keys.ts';

/*
 * Reads of Redis state that tests assert on, for the families whose layout changes between the
 * two key layouts (src/profiles/per-profile-layout.md §1: a profile's keys get its own hash tag,
 * per-segment members and `due` are split into buckets): tests call these instead of naming the
 * keys, so the same assertions hold on both layouts.
 */

/**
 * The layout the suites run under: `tenant` by default, `profile` when ops/test.mjs runs them
 * again with PULSE_TEST_REDIS_LAYOUT=profile (the Pulse processes tests start get it as
 * PULSE_REDIS_LAYOUT, see cleanEnv).
 */
export const TEST_LAYOUT: RedisLayout = process.env['PULSE_TEST_REDIS_LAYOUT'] === 'profile' ? 'profile' : 'tenant';
/** Buckets of the profile layout in tests (PULSE_REDIS_BUCKETS's default). */
export const TEST_BUCKETS = 64;

function buckets(namespace: string, tenant: string) {
  return Array.from({ length: TEST_BUCKETS }, (_, b) => bucketKeys(namespace, tenant, b));
}

/** The profiles in a segment (SMEMBERS; on the profile layout the union of its buckets, sorted). */
export async function segMembers(redis: RedisClient, namespace: string, tenant: string, segment: string): Promise<string[]> {
  if (TEST_LAYOUT === 'tenant') return redis.smembers(tenantKeys(namespace, tenant).segMembers(segment));
  return (await Promise.all(buckets(namespace, tenant).map((b) => redis.smembers(b.segMembers(segment))))).flat().sort();
}

/** How many profiles a segment has (SCARD; Σ over buckets). */
export async function segSize(redis: RedisClient, namespace: string, tenant: string, segment: string): Promise<number> {
  if (TEST_LAYOUT === 'tenant') return redis.scard(tenantKeys(namespace, tenant).segMembers(segment));
  return (await Promise.all(buckets(namespace, tenant).map((b) => redis.scard(b.segMembers(segment))))).reduce((a, n) => a + n, 0);
}

/** When a profile's membership is due to be evaluated again (its `due` score), or null. */
export function dueOf(redis: RedisClient, namespace: string, tenant: string, profileId: string): Promise<string | null> {
  if (TEST_LAYOUT === 'tenant') return redis.zscore(tenantKeys(namespace, tenant).due, profileId);
  return redis.zscore(bucketKeys(namespace, tenant, bucketOf(profileId, TEST_BUCKETS)).due, profileId);
}

/** The segments a profile is in (its `segs` set), sorted. */
export async function segsOf(redis: RedisClient, namespace: string, tenant: string, profileId: string): Promise<string[]> {
  const keys = TEST_LAYOUT === 'tenant' ? tenantKeys(namespace, tenant).profile(profileId) : profileKeys(namespace, tenant, profileId);
  return (await redis.smembers(keys.segs)).sort();
}

/** The key of an identifier's owner (-> the profile id): `id:<type>:<id>` under the tenant's tag, or in the identifier's own slot. */
export function ownerKey(namespace: string, tenant: string, idf: Identifier): string {
  return TEST_LAYOUT === 'tenant' ? tenantKeys(namespace, tenant).identifier(idf) : identifierOwner(namespace, tenant, idf);
}

/**
 * How long a messageId is remembered as applied, in seconds: its `dedup:<mid>` key's TTL, or on
 * the profile layout the time left of its entry in its profile's `seen` (`profileId` needed there);
 * -2 when it is not remembered.
 */
export async function rememberedFor(redis: RedisClient, namespace: string, tenant: string, messageId: string, profileId: string): Promise<number> {
  if (TEST_LAYOUT === 'tenant') return redis.ttl(tenantKeys(namespace, tenant).dedup(messageId));
  const until = await redis.zscore(profileKeys(namespace, tenant, profileId).seen, messageId);
  return until === null ? -2 : Math.round((Number(until) - Date.now()) / 1000);
}

/** A profile's keys in the layout the suites run under. */
export function profileKeysOf(namespace: string, tenant: string, profileId: string): ProfileKeys {
  return TEST_LAYOUT === 'tenant' ? tenantKeys(namespace, tenant).profile(profileId) : profileKeys(namespace, tenant, profileId);
}
