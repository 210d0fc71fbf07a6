// A backfill outlives the process that started it (issue 4 item 6): a job runs under a lease in
// Redis; one left pending or running by a process that died is taken over by another process's
// Backfills.resumeUnfinished once the lease has lapsed, and finishes with the right membership.
import t from 'tap';
import { pino } from 'pino';
import { createMetrics } from '../../src/infra/metrics.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { Backfills, RuleFactsLoader } from '../../src/segments/backfill.ts';
import { RedisSegmentDefinitions } from '../../src/segments/definitions.redis.ts';
import { ClickHouseEventHistory } from '../../src/segments/event-history.clickhouse.ts';
import { newSegment } from '../../src/segments/model.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { segSize } from '../support/keys.ts';
import { startRealtime, type RealtimeHarness } from '../support/realtime.ts';
import { openTestStack, type TestStack } from '../support/stack.ts';

const ns = uniqueNamespace('bfr');
const USERS = 40;
let stack: TestStack;
let rt: RealtimeHarness;
let definitions: RedisSegmentDefinitions;
const jobs: Backfills[] = [];
/** The profile index of the layout the suite runs under (the tenant layout's is the definitions store's). */
const index = () => rt.index ?? definitions;

t.before(async () => {
  stack = await openTestStack(ns, 'backfill-resume-test');
  definitions = new RedisSegmentDefinitions(stack.redis, ns);
  // The profile index the backfill walks, kept as src/main.ts keeps it.
  rt = await startRealtime(stack.nc, stack.redis, stack.warehouse, ns, createMetrics(), Date.now, {
    recordProfileChanges: (tenant, _events, results) => index().indexProfiles(tenant, results.map((r) => r.profileId)),
  });
  for (let i = 0; i < USERS; i++) {
    await rt.publish('acme', { type: 'identify', messageId: `i${i}`, userId: `u${i}`, traits: { tier: i % 4 }, timestamp: new Date().toISOString() });
  }
  await rt.settle();
});

t.teardown(async () => {
  for (const b of jobs) await b.stop();
  await rt.stop();
  await stack.close();
});

/** What the processes' backfills logged, as parsed lines. */
const logged: { msg: string; segment?: string }[] = [];

/** A process's Backfills, wired as src/main.ts wires them. */
function processBackfills(leaseMs: number, now?: () => number): Backfills {
  const loader = new RuleFactsLoader({ profiles: rt.profiles, index: index(), history: new ClickHouseEventHistory(stack.warehouse, ns) });
  const b = new Backfills({
    definitions, index: index(), segments: rt.segments, loader, publishChanges: async () => undefined, history: rt.history,
    log: pino({ level: 'info' }, { write: (line: string) => { logged.push(JSON.parse(line) as { msg: string }); } }), batchSize: 500, leaseMs,
    ...(now === undefined ? {} : { now }),
  });
  jobs.push(b);
  return b;
}

/** Stores a segment whose backfill a process started and then died in the middle of. */
async function orphan(id: string, rule: string): Promise<void> {
  const def = newSegment({ id, name: id, rule }, Date.now());
  await rt.segments.create('acme', def);
  await definitions.recordCreated('acme', def);
  await definitions.setProgress('acme', id, { state: 'running', version: 1, done: 14, total: USERS, entered: 3, exited: 0, startedAt: Date.now() - 60_000, error: '' });
}

const members = async (id: string) => segSize(stack.redis, ns, 'acme', id);

void t.test('an unfinished backfill without a live owner is taken over and finished', async (t) => {
  await orphan('tier3', 'tier = 3');
  t.equal(await members('tier3'), 0, 'the dead process wrote no membership yet');
  const survivor = processBackfills(30_000);
  t.same(await survivor.resumeUnfinished(['acme']), ['acme/tier3'], 'the orphaned job is found');
  const done = await eventually(async () => {
    const p = await definitions.progress('acme', 'tier3')
    return p?.state === 'done' ? p : undefined;
  }, 15_000, 'the resumed backfill to finish');
  t.equal(done.done, USERS, 'every profile evaluated, from the first one');
  t.equal(done.entered, USERS / 4, 'entered counts start over with the job');
  t.equal(await members('tier3'), USERS / 4, 'every tier-3 profile is a member');
  t.same(await survivor.resumeUnfinished(['acme']), [], 'a finished backfill is not resumed again');
});

void t.test('a job whose owner is alive (its lease held) is left alone until the lease lapses', async (t) => {
  await orphan('tier0', 'tier = 0');
  t.ok(await definitions.claimBackfill('acme', 'tier0', 'a-live-process', 400), 'another process holds the lease');
  const other = processBackfills(30_000);
  t.same(await other.resumeUnfinished(['acme']), [], 'not taken while the owner renews its lease');
  t.equal(await members('tier0'), 0);
  await new Promise((r) => setTimeout(r, 500));
  t.same(await other.resumeUnfinished(['acme']), ['acme/tier0'], 'taken once the lease lapsed');
  await eventually(async () => ((await definitions.progress('acme', 'tier0'))?.state === 'done' ? true : undefined), 15_000, 'tier0 done');
  t.equal(await members('tier0'), USERS / 4);
  t.equal(await stack.redis.exists(tenantKeys(ns, 'acme').backfillLease('tier0')), 0, 'the lease is given up when the job ends');
});

void t.test('two processes: the lease lets one run the job; watch() finds orphans by itself', async (t) => {
  await orphan('tier1', 'tier = 1');
  const a = processBackfills(2_000);
  const b = processBackfills(2_000);
  const stopA = a.watch(async () => ['acme'], 100);
  const stopB = b.watch(async () => ['acme'], 100);
  t.teardown(() => { stopA(); stopB(); });
  const done = await eventually(async () => {
    const p = await definitions.progress('acme', 'tier1');
    return p?.state === 'done' ? p : undefined;
  }, 15_000, 'tier1 done through watch()');
  t.equal(done.done, USERS);
  t.equal(done.entered, USERS / 4);
  t.equal(await members('tier1'), USERS / 4);
  await new Promise((r) => setTimeout(r, 300));
  const about = (msg: string) => logged.filter((l) => l.segment === 'tier1' && l.msg === msg).length;
  t.equal(about('resuming a backfill its process left unfinished'), 1, 'one process took the job over');
  t.equal(about('segment backfill done'), 1, 'and only one ran it, while both kept looking');
});

void t.test('a backfill write fenced off by a later evaluation of another segment is evaluated again, not lost', async (t) => {
  // Another writer (a second backfill, the clock) evaluated segment `other` of every profile a
  // minute after this backfill reads its facts, at the same profile version: the membership fence
  // (same version, earlier evaluation time) ignores the backfill's first write of each profile.
  const base = Date.now();
  const pids: string[] = [];
  for await (const batch of index().scanProfiles('acme', 500)) pids.push(...batch);
  t.equal(pids.length, USERS);
  const facts = await rt.profiles.facts('acme', pids);
  for (const [pid, { version }] of facts) {
    await rt.segments.writeMembership('acme', pid, version, [['other', false]], { at: base + 60_000, schedule: 'lower', nextChange: undefined, definitions: undefined });
  }
  await orphan('tier2', 'tier = 2');
  // The job's first reads happen at `base`, every later one two minutes on.
  let calls = 0;
  const b = processBackfills(30_000, () => (++calls <= 2 ? base : base + 120_000));
  t.same(await b.resumeUnfinished(['acme']), ['acme/tier2']);
  const done = await eventually(async () => {
    const p = await definitions.progress('acme', 'tier2');
    return p?.state === 'done' ? p : undefined;
  }, 15_000, 'tier2 done');
  t.equal(done.entered, USERS / 4, 'every tier-2 profile entered, on its second evaluation');
  t.equal(await members('tier2'), USERS / 4, 'and is a member');
});
