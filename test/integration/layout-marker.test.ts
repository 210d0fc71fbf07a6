import t from 'tap';
import { RedisFrequencyStore } from '../../src/activation/frequency.redis.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import { PulseError } from '../../src/errors.ts';
import { parseIdentifierKey } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { isLayoutRefusal, TenantLayouts, type TenantLayoutsOptions } from '../../src/profiles/layout.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { RedisUnmergeState } from '../../src/profiles/unmerge.redis.ts';
import type { ConsentRecord } from '../../src/privacy/consent.ts';
import { RedisConsentStore } from '../../src/privacy/consent.redis.ts';
import { RedisSegmentDefinitions } from '../../src/segments/definitions.redis.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { cleanupNamespace, eventually, REDIS_URL, uniqueNamespace } from '../support/env.ts';

/*
 * The per-tenant layout marker (per-profile-layout.md §8): the first writer of a tenant sets it,
 * later ones read it; a process whose layout disagrees is refused; a change is seen within 1 s;
 * the v1 write scripts answer `paused` while the tenant migrates (and once it is on v2), which
 * their adapters turn into an UNAVAILABLE layout refusal, writing nothing.
 */

const ns = uniqueNamespace('layout');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'layout-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const layouts = (o: Partial<TenantLayoutsOptions> = {}): TenantLayouts => new TenantLayouts(redis, ns, { layout: 'tenant', buckets: 16, ...o });

function ev(mid: string, ids: string[], traits: JsonObject = {}): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: Date.parse('2026-06-01T12:00:00Z'), userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits, context: { source: 'web' }, identifiers: ids.map(parseIdentifierKey), extra: {},
  };
}

void t.test('the first writer of a new tenant sets its layout; every later one, whatever its configuration, reads it', async (t) => {
  const claimers = Array.from({ length: 12 }, (_, k) => layouts(k % 2 === 0 ? { layout: 'profile', buckets: 8 } : { layout: 'tenant', buckets: 32 }));
  const got = await Promise.all(claimers.map((l) => l.claim('fresh')));
  const stored = await redis.hgetall(tenantKeys(ns, 'fresh').layout);
  t.ok(stored['layout'] === 'profile' ? stored['buckets'] === '8' && stored['version'] === '2' : stored['buckets'] === '32' && stored['version'] === '1', `one claimer's choice is stored (${JSON.stringify(stored)})`);
  t.same(stored['state'], 'done', 'in state done');
  t.same(new Set(got.map((m) => JSON.stringify(m))).size, 1, 'every claimer got the same marker');
  t.same(got[0], { layout: stored['layout'], version: Number(stored['version']), buckets: Number(stored['buckets']), state: 'done' }, 'the stored one');
  const disagreeing = claimers.find((_, k) => (k % 2 === 0) !== (stored['layout'] === 'profile'));
  const check = await disagreeing?.check('fresh');
  t.same(check?.ok === false ? check.reason : 'ok', 'mismatch', 'a process of the other layout is refused');
  await t.rejects(async () => { await disagreeing?.assertWritable('fresh'); }, { code: 'UNAVAILABLE' }, 'assertWritable throws UNAVAILABLE');
  const err = await disagreeing?.assertWritable('fresh').catch((e: unknown) => e);
  t.ok(isLayoutRefusal(err), 'recognisable as a layout refusal');
  t.notOk(isLayoutRefusal(new PulseError('UNAVAILABLE', 'other')), 'another UNAVAILABLE is not');
});

void t.test('a tenant with profiles in the tenant layout is marked tenant even by a profile-layout process', async (t) => {
  const v1 = new RedisProfileStore(redis, ns, 3600);
  const [p] = await v1.applyEvents('old', [ev('o1', ['user_id:u1'])]);
  await new RedisSegmentDefinitions(redis, ns).indexProfiles('old', [p?.profileId ?? '']);
  const l = layouts({ layout: 'profile', buckets: 64 });
  t.same(await l.claim('old'), { layout: 'tenant', version: 1, buckets: 64, state: 'done' }, 'marked tenant');
  const check = await l.check('old');
  t.same(check.ok ? 'ok' : check.reason, 'mismatch', 'and this process may not write it');
});

void t.test('a marker change is seen within the cache time (1 s)', async (t) => {
  let now = 1_000_000;
  const l = layouts({ now: () => now });
  t.equal((await l.claim('cached')).state, 'done', 'claimed');
  await redis.hset(tenantKeys(ns, 'cached').layout, 'state', 'migrating');
  now += 999;
  t.equal((await l.read('cached'))?.state, 'done', 'within 1 s the cached marker is used');
  now += 1;
  t.equal((await l.read('cached'))?.state, 'migrating', 'after 1 s the change is read');
  const check = await l.check('cached');
  t.same(check.ok ? 'ok' : check.reason, 'migrating', 'and writers are refused while migrating');
  // On the real clock too.
  const real = layouts();
  t.equal((await real.read('cached'))?.state, 'migrating', 'a fresh reader reads it');
  await redis.hset(tenantKeys(ns, 'cached').layout, 'state', 'done');
  t.equal((await real.read('cached'))?.state, 'migrating', 'read from the cache right after the change');
  t.ok(await eventually(async () => ((await real.read('cached'))?.state === 'done' ? true : undefined), 5_000, 'the change'), 'and the change on the real clock later');
});

void t.test('the v1 write scripts answer paused while the tenant migrates and once it is on v2; the adapters refuse, writing nothing', async (t) => {
  const tenant = 'mig';
  const keys = tenantKeys(ns, tenant);
  const profiles = new RedisProfileStore(redis, ns, 3600);
  const segments = new RedisSegmentStore(redis, ns);
  const consent = new RedisConsentStore(redis, ns);
  const frequency = new RedisFrequencyStore(redis, ns);
  const unmerge = new RedisUnmergeState(redis, ns);
  const [p] = await profiles.applyEvents(tenant, [ev('m1', ['user_id:u1', 'anonymous_id:a1'], { plan: 'pro' })]);
  const pid = p?.profileId ?? '';
  const record = { tcString: 'x', gdprApplies: true, cmpId: 1, cmpVersion: 1, policyVersion: 4, vendorListVersion: 1, publisherCountryCode: 'DE', isServiceSpecific: true, purposes: [], legitimateInterests: [], specialFeatures: [], vendorId: null, vendorConsent: null, vendorLegitimateInterest: null, lastUpdated: null } satisfies ConsentRecord;
  const writes = {
    apply: () => profiles.applyEvents(tenant, [ev('m2', ['user_id:u1'], { plan: 'team' })]),
    refusal: () => consent.recordRefusals(tenant, [{ event: ev('m3', ['user_id:u1']), record }]),
    impression: () => frequency.recordImpressions(tenant, [{ impressionId: 'imp1', subjects: [`p:${pid}`], targets: ['campaign:c1'], channel: 'web', at: Date.now() }], Date.now()),
    membership: () => segments.writeMembership(tenant, pid, 5, [['s1', true]], { at: 1, schedule: 'set', nextChange: 99, definitions: undefined }),
    unmerge: () => unmerge.scratch(tenant).swap({ profileId: pid, expectedVersion: 1, newProfileId: '00000000-0000-8000-8000-000000000009', now: 1, consentTrait: 'consent', split: ['anonymous_id:a1'], repoint: [] }),
  };
  const state = async (): Promise<unknown> => ({
    p: await redis.hgetall(keys.profile(pid).hash), traits: await redis.hgetall(keys.profile(pid).traits), segs: await redis.smembers(keys.profile(pid).segs),
    due: await redis.zrange(keys.due, 0, -1), dedup: await redis.exists(keys.dedup('m2')), imp: await redis.exists(`${keys.prefix}fcimp:imp1`),
    fc: await redis.exists(keys.frequency(`p:${pid}`, 'campaign:c1')), ids: await redis.smembers(keys.profile(pid).ids),
  });
  const before = await state();
  for (const [mark, label] of [[{ layout: 'tenant', version: '1', buckets: '8', state: 'migrating' }, 'migrating'], [{ layout: 'profile', version: '2', buckets: '8', state: 'done' }, 'migrated to v2']] as const) {
    await redis.hset(keys.layout, mark);
    for (const [name, write] of Object.entries(writes)) {
      const err = await write().then(() => undefined, (e: unknown) => e);
      t.ok(isLayoutRefusal(err) && err instanceof PulseError && err.code === 'UNAVAILABLE', `${label}: ${name} is refused with UNAVAILABLE (${String(err)})`);
    }
    t.same(await state(), before, `${label}: nothing was written`);
  }
  await redis.hset(keys.layout, { layout: 'tenant', version: '1', state: 'done' });
  const [again] = await writes.apply();
  t.same([again?.profileId, again?.duplicate], [pid, false], 'back on tenant/done, v1 writes go through again');
  t.same(await writes.membership(), [{ kind: 'enter', segmentId: 's1', profileId: pid }], 'membership too');
  t.same(await writes.impression(), [true], 'and impressions');
});
