import t from 'tap';
import type { Command } from 'ioredis';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';

// RedisAudienceReader sends the lookups of calls made in the same tick as one script call per
// tenant; each caller must still get exactly its own answers, in its own order.
const ns = uniqueNamespace('abatch');
let redis: RedisClient;

/** Script calls (EVALSHA/EVAL) the reader sends while `fn` runs, by tenant prefix. */
async function scriptCalls<T>(fn: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
  const calls: string[] = [];
  const original = redis.sendCommand.bind(redis) as (command: Command) => unknown;
  const spy = (command: Command): unknown => {
    if (command.name === 'evalsha' || command.name === 'eval') calls.push(String(command.args[2]));
    return original(command);
  };
  Object.assign(redis, { sendCommand: spy });
  try {
    return { result: await fn(), calls };
  } finally {
    Object.assign(redis, { sendCommand: original });
  }
}

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'audience-batching-test');
  for (const tenant of ['acme', 'globex']) {
    const keys = tenantKeys(ns, tenant);
    await redis.hset(keys.segnames, { a: `A of ${tenant}`, b: `B of ${tenant}` });
    await redis.hset(keys.segtaxonomy, { b: '607' });
    for (let i = 0; i < 300; i++) {
      await redis.set(keys.identifier({ type: 'user_id', id: `u${i}` }), `${tenant}-p${i}`);
      await redis.sadd(keys.profile(`${tenant}-p${i}`).segs, i % 2 === 0 ? 'a' : 'b');
    }
    await redis.set(keys.identifier({ type: 'gaid', id: 'g1' }), `${tenant}-p1`);
    await redis.hset(keys.profile(`${tenant}-p1`).traits, '$consent', JSON.stringify({ tcString: 'CQ-test', gdprApplies: true }));
  }
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const user = (id: string) => [{ type: 'user_id', id }];

void t.test('concurrent lookups of one tick share one script call per tenant and each caller gets its own answers', async (t) => {
  const reader = new RedisAudienceReader(redis, ns);
  const { result, calls } = await scriptCalls(() => Promise.all([
    reader.records('acme', [user('u0')]),
    reader.records('globex', [user('u1'), user('nobody')]),
    reader.records('acme', [user('nobody'), user('u3'), [{ type: 'gaid', id: 'g1' }, { type: 'user_id', id: 'u2' }]]),
    reader.audience('globex', user('u2')),
  ]));
  t.strictSame(calls.sort(), [tenantKeys(ns, 'acme').prefix, tenantKeys(ns, 'globex').prefix], 'one script call per tenant');
  const [a, b, c, d] = result;
  t.strictSame(a, [{ profileId: 'acme-p0', segments: [{ id: 'a', name: 'A of acme' }], storedConsent: undefined }]);
  t.strictSame(b, [{ profileId: 'globex-p1', segments: [{ id: 'b', name: 'B of globex', taxonomyId: '607' }], storedConsent: { tcString: 'CQ-test', gdprApplies: true } }, undefined]);
  t.strictSame(c?.map((r) => r?.profileId), [undefined, 'acme-p3', 'acme-p2'], 'user_id outranks gaid within a lookup');
  t.strictSame(d, { profileId: 'globex-p2', segments: [{ id: 'a', name: 'A of globex' }] });
});

void t.test('a tick with more lookups than one script call takes is split, answers still in order', async (t) => {
  const reader = new RedisAudienceReader(redis, ns);
  const { result, calls } = await scriptCalls(() => Promise.all(Array.from({ length: 300 }, (_, i) => reader.records('acme', [user(`u${i}`)]))));
  t.ok(calls.length >= 2, `${calls.length} script calls for 300 lookups`);
  t.strictSame(result.map((r) => r[0]?.profileId), Array.from({ length: 300 }, (_, i) => `acme-p${i}`));
});

void t.test('one call with more lookups than a script call takes is one pipeline of chunks', async (t) => {
  const reader = new RedisAudienceReader(redis, ns);
  const records = await reader.records('globex', Array.from({ length: 301 }, (_, i) => user(i === 300 ? 'nobody' : `u${i}`)));
  t.equal(records.length, 301);
  t.strictSame(records.slice(0, 300).map((r) => r?.profileId), Array.from({ length: 300 }, (_, i) => `globex-p${i}`));
  t.equal(records[300], undefined);
  t.strictSame(await reader.records('globex', []), [], 'no lookups, no call');
});

void t.test('a failing script call fails every caller of its batch', async (t) => {
  const closed = await connectRedis(REDIS_URL, 'audience-batching-closed');
  await closed.quit();
  const reader = new RedisAudienceReader(closed, ns);
  const results = await Promise.allSettled([reader.records('acme', [user('u0')]), reader.records('acme', [user('u1')])]);
  t.strictSame(results.map((r) => r.status), ['rejected', 'rejected']);
});
