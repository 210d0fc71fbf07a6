import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { parseIdentifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient, type Script } from '../../src/infra/redis.ts';
import { DEFAULT_IDENTITY_LIMITS, limitArgs, NO_POLICY, parseProfilePolicies, policyFor, type IdentityLimits, type TenantProfilePolicy } from '../../src/profiles/policy.ts';
import { profileIdFor, profileKeys } from '../../src/profiles/keys.ts';
import {
  applyProfileArgs, applyProfileScript, readApplyProfile, RedisProfileStoreV2, type ApplyProfileInput, type ApplyProfileResult,
} from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';

/* apply-profile.lua on its own (src/profiles/per-profile-layout.md §2.3-2.4): prelude, de-dup, birth, attach, and the same profile as apply-event.lua. */

const ns = uniqueNamespace('applyp');
let redis: RedisClient;
let script: Script;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'apply-profile-test');
  script = applyProfileScript(redis);
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const i = (key: string): Identifier => parseIdentifierKey(key);

let seq = 0;
function ev(ids: string[], over: Partial<PulseEvent> = {}): PulseEvent {
  seq++;
  return {
    type: 'track', messageId: `m${seq}`, timestamp: 1_700_000_000_000 + seq * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits: {}, context: {}, identifiers: ids.map(i), extra: {}, ...over,
  };
}

interface Call extends Partial<Omit<ApplyProfileInput, 'event' | 'via' | 'attach'>> {
  readonly via?: string;
  readonly attach?: readonly string[];
  readonly ttl?: number;
  readonly limits?: IdentityLimits;
  readonly policy?: TenantProfilePolicy;
}

/** Runs apply-profile.lua for `e` on profile `pid` of tenant `tenant`. */
async function apply(tenant: string, pid: string, e: PulseEvent, c: Call = {}): Promise<ApplyProfileResult> {
  const args = applyProfileArgs(c.policy ?? NO_POLICY, limitArgs(c.limits ?? DEFAULT_IDENTITY_LIMITS), c.ttl ?? 3600, {
    event: e, birth: c.birth ?? false, via: c.via === undefined ? undefined : i(c.via), attach: (c.attach ?? []).map(i),
    refused: c.refused ?? [], merges: c.merges ?? [],
  });
  return readApplyProfile(await script.run([profileKeys(ns, tenant, pid).prefix], args));
}

/** A profile born from one event holding `ids`. */
async function born(tenant: string, ids: string[]): Promise<string> {
  const e = ev(ids);
  const pid = profileIdFor(tenant, e.messageId);
  const r = await apply(tenant, pid, e, { birth: true, attach: ids });
  if (r.status !== 'new') throw new Error(`birth answered ${r.status}`);
  return pid;
}

void t.test('birth: created, identifiers and the event; a redelivery returns what it changed and the claims again', async (t) => {
  const tenant = 'birth';
  const e = ev(['user_id:u1', 'anonymous_id:a1'], { traits: { plan: 'pro' } });
  const pid = profileIdFor(tenant, e.messageId);
  t.equal(profileIdFor(tenant, e.messageId), pid, 'the pid is derived from the message');
  const pk = profileKeys(ns, tenant, pid);
  const first = await apply(tenant, pid, e, { birth: true, attach: ['user_id:u1', 'anonymous_id:a1'], ttl: 7 * 86400 });
  t.same(first, {
    status: 'new', claim: [i('user_id:u1'), i('anonymous_id:a1')],
    applied: { profileId: pid, version: 1, duplicate: false, traitChanges: [{ trait: 'plan', value: 'pro' }], merges: [], refused: [] },
  });
  t.equal(await redis.hget(pk.hash, 'created'), String(e.timestamp));
  t.same((await redis.smembers(pk.ids)).sort(), ['anonymous_id:a1', 'user_id:u1']);

  const again = await apply(tenant, pid, e, { birth: true, attach: ['user_id:u1', 'anonymous_id:a1', 'anonymous_id:never'], ttl: 7 * 86400 });
  t.same(again, {
    status: 'dup', claim: [i('user_id:u1'), i('anonymous_id:a1')],
    applied: { profileId: pid, version: 1, duplicate: true, traitChanges: [{ trait: 'plan', value: 'pro' }], merges: [], refused: [] },
  }, 'the stored result, and the claims of identifiers the profile holds');
  t.same(await redis.hgetall(pk.counts), { Viewed: '1' }, 'counted once');

  const now = Date.now();
  const seenTtl = await redis.pttl(pk.seen);
  t.ok(seenTtl > 7 * 86_400_000 - 60_000 && seenTtl <= 7 * 86_400_000, `seen lapses with the de-dup TTL (${seenTtl} ms)`);
  t.ok(await redis.pttl(pk.applied) > 0, 'applied lapses too');
  const mScore = Number(await redis.zscore(pk.seen, e.messageId));
  const aScore = Number(await redis.zscore(pk.seen, `a|${e.messageId}`));
  t.ok(Math.abs(mScore - (now + 7 * 86_400_000)) < 60_000, 'the messageId expires after the TTL');
  t.ok(Math.abs(aScore - (now + 86_400_000)) < 60_000, 'what it changed is kept a day at most');

  const quiet = ev(['user_id:u1']);
  await apply(tenant, pid, quiet, { via: 'user_id:u1' });
  t.equal(await redis.hexists(pk.applied, quiet.messageId), 0, 'an event that changed nothing stores no result');
  t.same(await apply(tenant, pid, quiet, { via: 'user_id:u1' }), {
    status: 'dup', claim: [], applied: { profileId: pid, version: 2, duplicate: true, traitChanges: [], merges: [], refused: [] },
  });
});

void t.test('expired de-dup members are trimmed with their stored results', async (t) => {
  const tenant = 'trim';
  const pid = await born(tenant, ['anonymous_id:t1']);
  const pk = profileKeys(ns, tenant, pid);
  await redis.zadd(pk.seen, 1, 'old', 2, 'a|old', 3, 'f|old');
  await redis.hset(pk.applied, 'old', '[[],[],[]]');
  const old = { ...ev(['anonymous_id:t1']), messageId: 'old' };
  const r = await apply(tenant, pid, old, { via: 'anonymous_id:t1' });
  t.equal(r.status, 'new', 'an expired messageId counts again, as an expired dedup key does');
  t.same(await redis.zrangebyscore(pk.seen, '-inf', Date.now()), [], 'expired members are gone');
  t.equal(await redis.hexists(pk.applied, 'old'), 0, 'so is the result they kept');
});

void t.test('prelude: merged and frozen profiles, moved-out and stale identifiers', async (t) => {
  const tenant = 'prelude';
  const pid = await born(tenant, ['anonymous_id:p1', 'anonymous_id:p2']);
  const into = profileIdFor(tenant, 'survivor');
  const pk = profileKeys(ns, tenant, pid);

  t.same(await apply(tenant, pid, ev(['anonymous_id:p1']), { via: 'anonymous_id:zz' }), { status: 'stale' }, 'via not among the identifiers');
  await redis.hset(pk.movedout, 'anonymous_id:p2', into);
  t.same(await apply(tenant, pid, ev(['anonymous_id:p2']), { via: 'anonymous_id:p2' }), { status: 'moved', into }, 'via moved out by an unmerge');
  await redis.hdel(pk.movedout, 'anonymous_id:p2');

  const seenBefore = ev(['anonymous_id:p1'], { traits: { a: 1 } });
  await apply(tenant, pid, seenBefore, { via: 'anonymous_id:p1' });
  await redis.hset(pk.hash, 'state', 'frozen', 'into', into);
  t.same(await apply(tenant, pid, ev(['anonymous_id:p1']), { via: 'anonymous_id:p1' }), { status: 'moved', into }, 'frozen: a new event goes to the survivor');
  const dup = await apply(tenant, pid, seenBefore, { via: 'anonymous_id:p1' });
  t.same(dup, {
    status: 'dup', claim: [], applied: { profileId: into, version: 2, duplicate: true, traitChanges: [{ trait: 'a', value: 1 }], merges: [], refused: [] },
  }, 'frozen: an event it counted is a duplicate, named after the survivor');

  await redis.hset(pk.hash, 'state', 'merged');
  t.same(await apply(tenant, pid, seenBefore, { via: 'anonymous_id:p1' }), { status: 'moved', into }, 'a tombstone sends even a duplicate on');
  t.same(await apply(tenant, pid, ev(['anonymous_id:p1']), { birth: true }), { status: 'moved', into });
  t.same(await redis.hget(pk.hash, 'version'), '2', 'nothing applied');
});

void t.test('attach within and over the profile limits; the processor refusals are kept in order before the script own', async (t) => {
  const tenant = 'attach';
  const limits: IdentityLimits = { perType: { user_id: 1 }, maxIdentifiers: 4 };
  const pid = await born(tenant, ['user_id:u1', 'anonymous_id:a1']);
  const pk = profileKeys(ns, tenant, pid);
  const planned = [{ reason: 'limit user_id 1', identifier: i('user_id:elsewhere'), other: profileIdFor(tenant, 'other') }];
  const e = ev(['user_id:u1', 'user_id:u2', 'anonymous_id:a2', 'anonymous_id:a3', 'anonymous_id:a4']);
  const r = await apply(tenant, pid, e, {
    via: 'user_id:u1', limits, refused: planned, attach: ['user_id:u2', 'anonymous_id:a1', 'anonymous_id:a2', 'anonymous_id:a3', 'anonymous_id:a4'],
  });
  if (r.status !== 'new') {
    t.fail(r.status);
    return;
  }
  t.same(r.claim, [i('anonymous_id:a1'), i('anonymous_id:a2'), i('anonymous_id:a3')], 'the accepted and already held identifiers are claimed');
  t.same(r.applied.refused, [
    ...planned,
    { reason: 'limit user_id 1', identifier: i('user_id:u2'), other: '' },
    { reason: 'max_identifiers 4', identifier: i('anonymous_id:a4'), other: '' },
  ]);
  t.same((await redis.smembers(pk.ids)).sort(), ['anonymous_id:a1', 'anonymous_id:a2', 'anonymous_id:a3', 'user_id:u1']);
  const dup = await apply(tenant, pid, e, { via: 'user_id:u1', limits, attach: ['user_id:u2', 'anonymous_id:a2'] });
  t.same(dup.status === 'dup' && dup.applied.refused, r.applied.refused, 'a redelivery returns the refusals');

  const fresh = await born(tenant, ['anonymous_id:f1']);
  const race = await Promise.all(['x', 'y'].map((x) => apply(tenant, fresh, ev([`user_id:${x}`, 'anonymous_id:f1']), { via: 'anonymous_id:f1', limits, attach: [`user_id:${x}`] })));
  t.same(race.map((c) => c.status === 'new' && c.applied.refused.length), [0, 1], 'of two concurrent attaches of a user_id only the first passes');
  t.same((await redis.smembers(profileKeys(ns, tenant, fresh).ids)).sort(), ['anonymous_id:f1', 'user_id:x']);
});

const POLICY = JSON.stringify({
  '*': {
    signup_source: { policy: 'first' },
    name: { policy: 'priority', priority: ['crm', 'web'] },
    max_score: { policy: 'max' },
    min_price: { policy: 'min' },
    interests: { policy: 'add_to_set' },
    logins: { policy: 'increment' },
    computed: {
      ltv: { sum: 'revenue', event: 'Order Completed' },
      top_category: { mostFrequent: 'category' },
    },
  },
});

void t.test('every trait policy and computed trait: the same profile and answers as apply-event.lua', async (t) => {
  const parsed = parseProfilePolicies(POLICY);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const v1 = new RedisProfileStore(redis, ns, 3600, { policies: parsed.policies });
  const policy = policyFor(parsed.policies, 'v2');
  const id = 'anonymous_id:same';
  const events = [
    ev([id], { traits: { plan: 'free', signup_source: 'ads', name: 'Web Name', max_score: 3, min_price: 9.5, interests: ['a', 'b'], logins: 1 }, context: { source: 'web' } }),
    ev([id], { traits: { plan: 'pro', signup_source: 'mail', name: 'CRM Name', max_score: 2, min_price: 12, interests: 'c', logins: 2.5 }, context: { source: 'crm' } }),
    ev([id], { timestamp: 1_600_000_000_000, traits: { plan: 'old', signup_source: 'first!', name: 'Later web', max_score: 'x', min_price: 1, interests: ['a'], logins: -1 }, context: { source: 'web' } }),
    ev([id], { event: 'Order Completed', properties: { revenue: 19.99, category: 'shoes' } }),
    ev([id], { event: 'Order Completed', properties: { revenue: 5.01, category: 'hats' }, traits: { max_score: 10, interests: ['d', 'a'] } }),
    ev([id], { event: 'Product Viewed', properties: { category: 'hats' } }),
    ev([id], { type: 'identify', event: '', traits: { plan: 'enterprise', logins: 'not a number' } }),
  ];
  const p2 = profileIdFor('v2', events[0]?.messageId ?? '');
  for (const [n, e] of events.entries()) {
    const [want] = await v1.applyEvents('v1', [e]);
    const got = await apply('v2', p2, e, n === 0 ? { birth: true, attach: [id], policy } : { via: id, policy });
    t.same(got.status === 'new' && { ...got.applied, profileId: want?.profileId }, want, `event ${n}: the same answer`);
  }
  const v1Id = await v1.resolve('v1', [i(id)]);
  const v2 = new RedisProfileStoreV2(redis, ns, 3600, { policies: parsed.policies });
  const [a, b] = [await v1.get('v1', v1Id ?? ''), await v2.get('v2', p2)];
  t.same({ ...b, id: '' }, { ...a, id: '' }, 'the same profile');
  t.same(b?.traits['ltv'], 25, 'computed sum');
  t.same(b?.traits['top_category'], 'hats', 'most frequent value');
  t.equal(await redis.hget(profileKeys(ns, 'v2', p2).hash, 'created'), String(events[0]?.timestamp), 'created is the birth event time');
});
