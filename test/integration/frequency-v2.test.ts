import { randomUUID } from 'node:crypto';
import t from 'tap';
import { FrequencyStoreV2 } from '../../src/activation/frequency-v2.redis.ts';
import { RedisFrequencyStore } from '../../src/activation/frequency.redis.ts';
import { evaluateCaps, lookupSubjects, MAX_WINDOW_MS, targetKey, type FrequencyCap } from '../../src/activation/frequency.ts';
import type { ImpressionRecord } from '../../src/activation/store.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import { parseIdentifierKey } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { isOlder } from '../../src/profiles/identity-plan.ts';
import { fnv1a32, identifierTag, profileKeys } from '../../src/profiles/keys.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { random } from '../support/openrtb-mutations.ts';

/*
 * Frequency capping on the per-profile layout (src/profiles/per-profile-layout.md §6, step 7):
 * FrequencyStoreV2 must count and read what today's RedisFrequencyStore counts and reads for the
 * same impression reports (caps per campaign and creative, per channel and across channels, each
 * impression id once), with one script call per subject slot, and follow `moved` from a profile
 * that is being or was merged away.
 */

const ns1 = uniqueNamespace('fq1');
const ns2 = uniqueNamespace('fq2');
const T0 = Date.parse('2026-11-20T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'frequency-v2-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns1);
  await cleanupNamespace(ns2);
});

const cap = (id: string, scope: 'campaign' | 'creative', target: string, limit: number, windowMs: number, channel?: string): FrequencyCap =>
  ({ id, scope, target, limit, windowMs, channel });

const CAPS: FrequencyCap[] = [
  cap('k1-3-hour', 'campaign', 'k1', 3, HOUR),
  cap('k1-5-day', 'campaign', 'k1', 5, DAY),
  cap('k1-ctv-1-day', 'campaign', 'k1', 1, DAY, 'ctv'),
  cap('k2-web-2-week', 'campaign', 'k2', 2, 7 * DAY, 'web'),
  cap('c1-2-30d', 'creative', 'c1', 2, MAX_WINDOW_MS),
  cap('c2-4-min', 'creative', 'c2', 4, 10 * MIN),
];
const TARGETS = [...new Set(CAPS.map((c) => targetKey(c.scope, c.target)))];

/** Two identifiers whose `type:id` hash alike: their slots are one (fnv1a32 collision, found by birthday search). */
function collidingCookies(): [string, string] {
  const seen = new Map<number, string>();
  for (let n = 0; ; n++) {
    const id = `c-${n}`;
    const h = fnv1a32(`cookie:${id}`);
    const other = seen.get(h);
    if (other !== undefined) return [other, id];
    seen.set(h, id);
  }
}

void t.test('v1 and v2 count and read the same impressions for the same reports, caps per target and channel included', async (t) => {
  const v1 = new RedisFrequencyStore(redis, ns1);
  const v2 = new FrequencyStoreV2(redis, ns2);
  const [twinA, twinB] = collidingCookies();
  t.equal(identifierTag(ns2, 'x', 'cookie', twinA), identifierTag(ns2, 'x', 'cookie', twinB), 'the twins share a slot');
  for (const seed of [7, 8, 9]) {
    const rnd = random(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
    const tenant = `eq${seed}`;
    const pids = [randomUUID(), randomUUID()];
    const people: { pid: string | undefined; ids: { type: string; id: string }[] }[] = [
      { pid: pids[0], ids: [{ type: 'cookie', id: 'b-1' }, { type: 'gaid', id: 'g-1' }] },
      { pid: pids[1], ids: [{ type: 'partner:acme', id: 'x{1}' }] },
      { pid: undefined, ids: [{ type: 'idfa', id: 'unknown-1' }, { type: 'cookie', id: 'c{2}' }] },
      { pid: undefined, ids: [{ type: 'cookie', id: twinA }, { type: 'cookie', id: twinB }] },
    ];
    let now = T0;
    const sent: ImpressionRecord[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const records: ImpressionRecord[] = [];
      for (let k = 0; k < 5; k++) {
        const who = pick(people);
        records.push({
          impressionId: `s${seed}-b${batch}-${k}`,
          subjects: who.pid !== undefined ? [`p:${who.pid}`] : who.ids.map((i) => `i:${i.type}:${i.id}`),
          targets: [`campaign:${pick(['k1', 'k2'])}`, `creative:${pick(['c1', 'c2'])}`],
          channel: pick(['web', 'mobile', 'ctv']),
          at: now - pick([MIN, 5 * MIN, 50 * MIN, 3 * HOUR, 2 * DAY, 6 * DAY, 29 * DAY, 31 * DAY]),
        });
      }
      // Retries: earlier impressions again (counted before), and the batch itself twice now and then.
      const batchOf = [...records, ...sent.filter(() => rnd() < 0.15), ...(rnd() < 0.3 ? records : [])];
      t.same(await v2.recordImpressions(tenant, batchOf, now), await v1.recordImpressions(tenant, batchOf, now), `seed ${seed} batch ${batch}: the same impressions counted now`);
      sent.push(...records);
      for (const at of [now, now + 30 * MIN, now + 2 * DAY]) {
        for (const who of people) {
          const subjects = lookupSubjects(who.pid, who.ids);
          const since = at - MAX_WINDOW_MS;
          const want = await v1.impressions(tenant, subjects, TARGETS, since);
          const got = await v2.impressions(tenant, subjects, TARGETS, since);
          t.same(got, want, `seed ${seed} batch ${batch}: the same impressions read`);
          t.same(evaluateCaps(CAPS, got, at), evaluateCaps(CAPS, want, at), `seed ${seed} batch ${batch}: the same cap states`);
        }
      }
      now += 3 * HOUR;
    }
    const states = await Promise.all(people.map((who) => v1.impressions(tenant, lookupSubjects(who.pid, who.ids), TARGETS, now - MAX_WINDOW_MS)));
    t.ok(states.every((s) => [...s.values()].some((l) => l.length > 0)), `seed ${seed}: every person has impressions, so the reads compared are not empty`);
    t.ok(states.some((s) => evaluateCaps(CAPS, s, now).some((c) => c.capped)), `seed ${seed}: some cap is reached`);
  }
  t.ok(await redis.exists(`${identifierTag(ns2, 'eq7', 'cookie', twinA)}fc:i:cookie:${twinB}:campaign:k1`) + await redis.exists(`${identifierTag(ns2, 'eq7', 'cookie', twinA)}fc:i:cookie:${twinB}:campaign:k2`) > 0, 'the second twin\'s impressions are counted in the shared slot');
});

void t.test('v2 keeps a profile\'s zsets in its slot and lists them in :fckeys; an identifier\'s go to the identifier\'s slot', async (t) => {
  const v2 = new FrequencyStoreV2(redis, ns2);
  const pid = randomUUID();
  const pk = profileKeys(ns2, 'ks', pid);
  t.same(await v2.recordImpressions('ks', [
    { impressionId: 'i-1', subjects: [`p:${pid}`], targets: ['campaign:k1', 'creative:c1'], channel: 'web', at: T0 - MIN },
    { impressionId: 'i-2', subjects: ['i:gaid:g-9', 'i:cookie:b-9'], targets: ['campaign:k1'], channel: 'web', at: T0 - MIN },
    { impressionId: 'i-1', subjects: [`p:${pid}`], targets: ['campaign:k1', 'creative:c1'], channel: 'web', at: T0 - MIN },
  ], T0), [true, true, false]);
  t.same((await redis.smembers(pk.fckeys)).sort(), ['campaign:k1', 'creative:c1']);
  t.same(await redis.zrange(`${pk.prefix}fc:campaign:k1`, 0, -1), ['web|i-1']);
  t.ok(await redis.pttl(`${pk.prefix}fc:campaign:k1`) > 29 * DAY && await redis.pttl(pk.fckeys) > 29 * DAY, 'zsets and the list lapse after the longest window');
  t.equal(await redis.exists(`${pk.prefix}fcimp:i-1`), 1, 'the impression marker is in the profile\'s slot');
  for (const [type, id] of [['gaid', 'g-9'], ['cookie', 'b-9']] as const) {
    const tag = identifierTag(ns2, 'ks', type, id);
    t.same(await redis.zrange(`${tag}fc:i:${type}:${id}:campaign:k1`, 0, -1), ['web|i-2'], `${type} has its own zset`);
    t.equal(await redis.exists(`${tag}fcimp:i-2`), 1, `${type}'s slot has its own marker`);
  }
  t.same(await v2.recordImpressions('ks', [{ impressionId: 'i-2', subjects: ['i:gaid:g-9', 'i:cookie:b-9'], targets: ['campaign:k1'], channel: 'web', at: T0 - MIN }], T0), [false], 'a retry counts nowhere');
  await redis.del(`${identifierTag(ns2, 'ks', 'cookie', 'b-9')}fcimp:i-2`);
  t.same(await v2.recordImpressions('ks', [{ impressionId: 'i-2', subjects: ['i:gaid:g-9', 'i:cookie:b-9'], targets: ['campaign:k1'], channel: 'web', at: T0 - MIN }], T0), [true], 'counted when any subject counted it (a retry after a partial write)');
  t.same((await v2.impressions('ks', ['i:gaid:g-9', 'i:cookie:b-9'], ['campaign:k1'], 0)).get('campaign:k1')?.length, 2, 'one impression per subject, still one zset member each');
  await t.rejects(v2.recordImpressions('ks', [{ impressionId: 'i-3', subjects: ['x:y'], targets: ['campaign:k1'], channel: 'web', at: T0 }], T0), /invalid frequency subject/);
});

const BASE = 1_760_000_000_000;

function ev(mid: string, ts: number, ids: string[]): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: BASE + ts * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits: {}, context: {}, identifiers: ids.map(parseIdentifierKey), extra: {},
  };
}

void t.test('impressions of a profile being merged away, or merged away, count on the survivor, each once', async (t) => {
  const v1 = new RedisFrequencyStore(redis, ns1);
  const v2 = new FrequencyStoreV2(redis, ns2);
  const store = new RedisProfileStoreV2(redis, ns2, 3600);
  const [u] = await store.applyEvents('mv', [ev('mv-u', 10, ['user_id:u-1'])]);
  const [a] = await store.applyEvents('mv', [ev('mv-a', 20, ['anonymous_id:a-1'])]);
  if (u === undefined || a === undefined) throw new Error('profiles missing');
  const [s, l] = [u.profileId, a.profileId];
  const created = async (pid: string) => Number(await redis.hget(profileKeys(ns2, 'mv', pid).hash, 'created'));
  t.ok(isOlder({ pid: s, created: await created(s) }, { pid: l, created: await created(l) }), 'the user profile is the survivor');
  const runner = (crashAfter?: string) => new MergeRunner(redis, ns2, { buckets: 8, afterStep: (step) => { if (step === crashAfter) throw new Error(`crash after ${step}`); } });
  const imp = (pid: string, id: string, channel: string, ago: number): ImpressionRecord =>
    ({ impressionId: id, subjects: [`p:${pid}`], targets: ['campaign:k1', 'creative:c1'], channel, at: T0 - ago });
  const one = randomUUID();
  const answers: { v2: boolean[]; v1: boolean[] }[] = [];
  const send = async (records: ImpressionRecord[]) => {
    answers.push({ v2: await v2.recordImpressions('mv', records, T0), v1: await v1.recordImpressions('mv', records.map((r) => ({ ...r, subjects: [`p:${one}`] })), T0) });
  };
  await send([imp(s, 's-1', 'web', 50 * MIN), imp(l, 'l-1', 'ctv', 40 * MIN)]);

  await t.rejects(runner('M2').merge('mv', { survivor: s, loser: l, messageId: 'link' }));
  const lk = profileKeys(ns2, 'mv', l);
  t.equal(await redis.hget(lk.hash, 'state'), 'frozen');
  await send([imp(l, 'l-1', 'ctv', 40 * MIN), imp(l, 'l-2', 'web', 30 * MIN)]);
  t.same(await redis.zrange(`${lk.prefix}fc:campaign:k1`, 0, -1), ['ctv|l-1'], 'nothing is written on the frozen profile');
  t.same(await redis.zrange(`${profileKeys(ns2, 'mv', s).prefix}fc:campaign:k1`, 0, -1), ['web|s-1', 'web|l-2'], 'the impression new to L went to S; the one counted on L waits for the absorb');

  t.equal((await runner().completeMerge('mv', l)).status, 'finished');
  await send([imp(l, 'l-1', 'ctv', 40 * MIN), imp(l, 'l-2', 'web', 30 * MIN), imp(l, 'l-3', 'mobile', 20 * MIN), imp(s, 's-1', 'web', 50 * MIN)]);
  t.same(await redis.keys(`${lk.prefix}fc:*`), [], 'nothing is written under the tombstone');

  t.same(answers.map((x) => x.v2), answers.map((x) => x.v1), 'counted now / before as today\'s store answers with every impression on one profile');
  const got = await v2.impressions('mv', [`p:${s}`], TARGETS, T0 - MAX_WINDOW_MS);
  const want = await v1.impressions('mv', [`p:${one}`], TARGETS, T0 - MAX_WINDOW_MS);
  t.same(got, want, 'the survivor\'s impressions are today\'s');
  t.same(evaluateCaps(CAPS, got, T0).filter((c) => c.capped).map((c) => c.cap.id), ['k1-3-hour', 'k1-ctv-1-day', 'c1-2-30d'], 'four impressions, each once: the caps they reach');
});
