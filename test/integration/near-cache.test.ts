import t from 'tap';
import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger } from '../../src/infra/log.ts';
import { connectNats } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys, type TenantKeys } from '../../src/profiles/keys.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { subscribeInvalidation } from '../../src/targeting/invalidation.nats.ts';
import { NearCache } from '../../src/targeting/near-cache.ts';
import { RedisSharingStore } from '../../src/targeting/sharing.redis.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('ncache');
let nc: NatsConnection;
let redis: RedisClient;
let keys: TenantKeys;

t.before(async () => {
  nc = await connectNats(NATS_URL, 'near-cache-test');
  redis = await connectRedis(REDIS_URL, 'near-cache-test');
  keys = tenantKeys(ns, 'acme');
  // Profiles as the profile and segment stores lay them out (issue4-design.md).
  await redis.hset(keys.segnames, { a: 'Segment A', b: 'Segment B' });
  for (const [user, pid, segs] of [['u1', 'p1', ['a']], ['u2', 'p2', ['a']], ['u3', 'p3', ['b']]] as const) {
    await redis.set(keys.identifier({ type: 'user_id', id: user }), pid);
    await redis.sadd(keys.profile(pid).segs, ...segs);
  }
});

t.teardown(async () => {
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
});

const user = (id: string) => [{ type: 'user_id', id }];
const segmentsOf = async (cache: NearCache, id: string) => (await cache.audience('acme', user(id)))?.segments.map((s) => s.id);

void t.test('lookups are served from the cache until the change feed names the profile', async (t) => {
  const cache = new NearCache(new RedisAudienceReader(redis, ns));
  const feed = subscribeInvalidation(nc, ns, cache, createLogger('silent'));
  t.teardown(() => feed.stop());
  t.same(await segmentsOf(cache, 'u1'), ['a']);
  t.same(await segmentsOf(cache, 'u2'), ['a']);
  t.same(cache.stats(), { entries: 2, hits: 0, misses: 2 });

  await redis.sadd(keys.profile('p1').segs, 'b');
  t.same(await segmentsOf(cache, 'u1'), ['a'], 'a change nobody announced is not seen: the answer came from the cache');
  t.equal(cache.stats().hits, 1);

  nc.publish(`${ns}.changes.acme.segment`, JSON.stringify({ kind: 'enter', segmentId: 'b', profileId: 'p1' }));
  await eventually(async () => ((await segmentsOf(cache, 'u1'))?.length === 2 ? true : undefined), 2_000, 'the change to be seen');
  t.same(await segmentsOf(cache, 'u1'), ['a', 'b'], 'the enter change dropped p1\'s entry');
  const before = cache.stats().hits;
  await segmentsOf(cache, 'u2');
  t.equal(cache.stats().hits, before + 1, 'p2\'s entry stayed (reverse index profile -> keys)');

  nc.publish(`${ns}.changes.acme.sharing`, JSON.stringify({ partner: 'dsp' }));
  await nc.flush();
  await eventually(async () => (cache.stats().entries === 0 ? true : undefined), 2_000, 'a sharing change to flush the tenant');
  t.pass('a sharing change flushes the tenant');
});

void t.test('a profile merge drops both profiles\' entries; another tenant\'s changes do not', async (t) => {
  const cache = new NearCache(new RedisAudienceReader(redis, ns));
  const feed = subscribeInvalidation(nc, ns, cache, createLogger('silent'));
  t.teardown(() => feed.stop());
  await segmentsOf(cache, 'u2');
  await segmentsOf(cache, 'u3');
  nc.publish(`${ns}.changes.globex.profile`, JSON.stringify({ kind: 'merge', survivor: 'p2', merged: 'p3' }));
  nc.publish(`${ns}.changes.acme.segment`, JSON.stringify({ kind: 'exit', segmentId: 'a', profileId: 'p2' }));
  await nc.flush();
  // Messages of one subscription arrive in order: once p2's exit is handled, globex's merge was too.
  await eventually(async () => (cache.stats().entries === 1 ? true : undefined), 2_000, 'p2\'s exit to drop its entry');
  t.equal(cache.stats().entries, 1, 'globex\'s merge of profile ids that are also acme\'s dropped nothing of acme');
  await segmentsOf(cache, 'u2');
  nc.publish(`${ns}.changes.acme.profile`, JSON.stringify({ kind: 'merge', survivor: 'p2', merged: 'p3' }));
  await nc.flush();
  await eventually(async () => (cache.stats().entries === 0 ? true : undefined), 2_000, 'the merge to drop both');
  t.pass('both entries dropped');
});

void t.test('the cache is bounded, expires entries, and never stores a read that raced an invalidation', async (t) => {
  let now = 1_000;
  const cache = new NearCache(new RedisAudienceReader(redis, ns), { maxEntries: 2, ttlMs: 500, now: () => now });
  await segmentsOf(cache, 'u1');
  await segmentsOf(cache, 'u2');
  await segmentsOf(cache, 'u3');
  t.equal(cache.stats().entries, 2, 'at most maxEntries');
  await segmentsOf(cache, 'u3');
  t.equal(cache.stats().hits, 1, 'the newest stays');
  await segmentsOf(cache, 'u1');
  t.equal(cache.stats().hits, 1, 'the least recently used went first');
  now += 501;
  await segmentsOf(cache, 'u1');
  t.equal(cache.stats().hits, 1, 'an entry past its TTL is read again');

  cache.clear();
  const pending = cache.audience('acme', user('u2'));
  cache.invalidateProfile('acme', 'p2');
  t.same((await pending)?.segments.map((s) => s.id), ['a'], 'the racing read is answered');
  t.equal(cache.stats().entries, 0, 'but not cached: it may predate the change');
  t.equal(await cache.audience('acme', user('nobody')), undefined);
  t.equal(cache.stats().entries, 0, 'unknown people are not cached (nothing announces their arrival)');
});

void t.test('a reconnect of the change feed clears the cache', async (t) => {
  const conn = await connectNats(NATS_URL, 'near-cache-reconnect');
  t.teardown(() => conn.close());
  const cache = new NearCache(new RedisAudienceReader(redis, ns));
  const feed = subscribeInvalidation(conn, ns, cache, createLogger('silent'));
  t.teardown(() => feed.stop());
  await segmentsOf(cache, 'u1');
  t.equal(cache.stats().entries, 1);
  await conn.reconnect();
  await eventually(async () => (cache.stats().entries === 0 ? true : undefined), 5_000, 'the reconnect to clear the cache');
  await eventually(async () => {
    await segmentsOf(cache, 'u1');
    return cache.stats().entries === 1 ? true : undefined;
  }, 5_000, 'caching to resume after the reconnect');
  t.pass('caching resumes after the reconnect');
});

void t.test('sharing agreements are stored per tenant and partner, and cached with the tenant', async (t) => {
  const store = new RedisSharingStore(redis, ns);
  const first = await store.set('acme', { partner: 'dsp', all: false, segmentIds: ['b', 'a', 'a'] }, 'key1');
  t.same(first.before, { partner: 'dsp', all: false, segmentIds: [] }, 'no agreement before');
  t.same(first.after, { partner: 'dsp', all: false, segmentIds: ['a', 'b'] });
  const second = await store.set('acme', { partner: 'dsp', all: true, segmentIds: [] }, 'key1');
  t.same(second.before.segmentIds, ['a', 'b'], 'the change records what it replaced');
  t.same(await store.get('globex', 'dsp'), { partner: 'dsp', all: false, segmentIds: [] }, 'another tenant has no agreement');
  const cache = new NearCache(new RedisAudienceReader(redis, ns));
  t.same(await cache.agreement('acme', 'dsp', () => store.get('acme', 'dsp')), { partner: 'dsp', all: true, segmentIds: [] });
  await store.set('acme', { partner: 'dsp', all: false, segmentIds: [] }, 'key1');
  t.equal((await cache.agreement('acme', 'dsp', () => store.get('acme', 'dsp'))).all, true, 'cached until the change is announced');
  cache.invalidateTenant('acme');
  t.equal((await cache.agreement('acme', 'dsp', () => store.get('acme', 'dsp'))).all, false, 'then read again');
  await store.setTaxonomy('acme', 'a', '243');
  t.same((await new RedisAudienceReader(redis, ns).audience('acme', user('u2')))?.segments, [{ id: 'a', name: 'Segment A', taxonomyId: '243' }], 'taxonomy ids come with the segment');
});
