import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { lastValueFrom, toArray } from 'rxjs';
import { KeyRing } from '../../src/auth/keys.ts';
import { natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { natsEventPublisher } from '../../src/collection/publisher.nats.ts';
import type { Profile__Output } from '../../src/gen/pulse/v1/Profile.ts';
import type { UpdateProfileResponse__Output } from '../../src/gen/pulse/v1/UpdateProfileResponse.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { startGrpcServer, type GrpcServer } from '../../src/infra/grpc-server.ts';
import { jetStreamSource } from '../../src/infra/jetstream-source.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { connectNats, ensureStreams, streamNames } from '../../src/infra/nats.ts';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { natsProfileChanges } from '../../src/profiles/changes.nats.ts';
import { ProfileHistoryWriter } from '../../src/profiles/history.clickhouse.ts';
import { parseProfilePolicies, type ProfilePolicies } from '../../src/profiles/policy.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { profileHandlers } from '../../src/profiles/service.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { ingest, type BatchReport } from '../../processors/ingest.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('ppipe');
const names = streamNames(ns);
const dir = tempDir();
const WRITER = 'profile-pipeline-writer-key-01';
const READER = 'profile-pipeline-reader-key-01';
const CRM = 'profile-pipeline-crm-key-0001';
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;
let server: GrpcServer;
let client: grpc.Client;
let policies: ProfilePolicies;

t.before(async () => {
  nc = await connectNats(NATS_URL, 'profile-pipeline-test');
  await ensureStreams(nc, ns, 5_000);
  redis = await connectRedis(REDIS_URL, 'profile-pipeline-test');
  warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(ns)) await warehouse.exec(ddl);
  const parsed = parseProfilePolicies(JSON.stringify({ acme: { name: { policy: 'priority', priority: ['crm', 'web'] } } }));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  policies = parsed.policies;
  const ctx = {
    keys: new KeyRing([
      { key: WRITER, tenant: 'acme', scopes: ['profiles:write', 'profiles:read'] },
      { key: READER, tenant: 'acme', scopes: ['profiles:read'] },
      { key: CRM, tenant: 'acme', scopes: ['profiles:write'], source: 'crm' },
    ]),
    metrics: createMetrics(), log: createLogger('silent'),
  };
  const pkg = loadPulseGrpc();
  const store = new RedisProfileStore(redis, ns, 3600, { policies });
  server = await startGrpcServer('127.0.0.1', 0, [
    { name: 'pulse.v1.ProfileService', definition: pkg.pulse.v1.ProfileService.service, handlers: profileHandlers(ctx, store, natsEventPublisher(nc, ns, { ackTimeoutMs: 5_000 })) },
  ]);
  client = new pkg.pulse.v1.ProfileService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

t.teardown(async () => {
  client.close();
  await server.stop(1000);
  await warehouse.close();
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
  dir.remove();
});

function call<Res>(method: string, req: unknown, key: string): Promise<Res> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method];
  return new Promise((resolve, reject) => fn?.call(client, req, md, (e, r) => (e ? reject(e) : resolve(r))));
}

async function publish(body: object, msgId: string): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(names.eventsSubject('acme'), JSON.stringify(body), { headers: h, msgID: msgId });
}

/** Runs `pipelines` ingest pipelines on the one durable consumer until every message is acked. */
async function runPipelines(pipelines: number, expected: number): Promise<BatchReport[]> {
  const runs = await Promise.all(Array.from({ length: pipelines }, async () => {
    const conn = await connectRedis(REDIS_URL, 'profile-pipeline');
    const profiles = new RedisProfileStore(conn, ns, 3600, { policies });
    const history = new ProfileHistoryWriter(warehouse, ns);
    const publishMerges = natsProfileChanges(nc, ns);
    const source = await jetStreamSource(nc, names.events, names.processorDurable, 20);
    const done = lastValueFrom(ingest(source.iterator, {
      profiles, segments: new RedisSegmentStore(conn, ns), events: new EventWriter(warehouse, ns),
      deadLetter: natsDeadLetter(nc, ns), publishChanges: natsSegmentChanges(nc, ns),
      recordProfileChanges: async (tenant, events, results) => {
        await Promise.all([publishMerges(tenant, events, results), history.write(tenant, events, results)]);
      },
    }, { namespace: ns, batchSize: 10, batchWaitMs: 5, concurrency: 1, log: createLogger('silent'), metrics: createMetrics() }).pipe(toArray()));
    return { conn, source, done };
  }));
  await eventually(async () => {
    const info = await (await jetstreamManager(nc)).consumers.info(names.events, names.processorDurable);
    return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq >= expected ? true : undefined;
  }, 40_000, `${expected} messages acked`);
  const reports: BatchReport[] = [];
  for (const r of runs) {
    await r.source.stop();
    reports.push(...(await r.done));
    await r.conn.quit();
  }
  return reports;
}

async function profileMessages(): Promise<Record<string, unknown>[]> {
  const consumer = await jetstream(nc).consumers.get(names.changes, { filter_subjects: `${ns}.changes.acme.profile` });
  const info = await (await jetstreamManager(nc)).streams.info(names.changes, { subjects_filter: `${ns}.changes.acme.profile` });
  const n = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  const out: Record<string, unknown>[] = [];
  if (n === 0) return out;
  for await (const m of await consumer.fetch({ max_messages: n, expires: 3_000 })) {
    out.push(m.json<Record<string, unknown>>());
    if (out.length === n) break;
  }
  return out;
}

const PEOPLE = 15;
const DEVICES = 3;

void t.test('two pipelines on one consumer, two publishers: one profile per person, every merge recorded', async (t) => {
  const messages: { body: object; id: string }[] = [];
  let n = 0;
  const at = (k: number) => new Date(Date.UTC(2026, 0, 1) + k * 1000).toISOString();
  for (let p = 0; p < PEOPLE; p++) {
    for (let d = 0; d < DEVICES; d++) {
      for (let k = 0; k < 3; k++) {
        n++;
        messages.push({ id: `s${n}`, body: { type: 'track', messageId: `s${n}`, anonymousId: `dev-${p}-${d}`, event: 'Seen', timestamp: at(n) } });
      }
      n++;
      messages.push({ id: `l${n}`, body: { type: 'identify', messageId: `l${n}`, userId: `user-${p}`, anonymousId: `dev-${p}-${d}`, traits: { name: `web-${n}` }, context: { channel: 'web' }, timestamp: at(n) } });
    }
  }
  // Bob logs in on Alice's device: the default guardrail keeps them apart.
  messages.push({ id: 'alice', body: { type: 'identify', messageId: 'alice', userId: 'alice', anonymousId: 'shared', timestamp: at(10_000) } });
  messages.push({ id: 'bob', body: { type: 'identify', messageId: 'bob', userId: 'bob', anonymousId: 'shared', timestamp: at(10_001) } });
  const order = messages.map((m, i) => ({ m, k: (i * 7919) % 101 })).sort((a, b) => a.k - b.k).map((x) => x.m);
  const halves = [order.filter((_, i) => i % 2 === 0), order.filter((_, i) => i % 2 === 1)];
  await Promise.all(halves.map(async (half) => { for (const m of half) await publish(m.body, m.id); }));

  const reports = await runPipelines(2, messages.length);
  t.equal(reports.filter((r) => r.failed).length, 0, 'no batch failed');
  t.equal(reports.reduce((s, r) => s + r.applied, 0), messages.length, 'every event applied once');

  const store = new RedisProfileStore(redis, ns, 3600, { policies });
  const survivors = new Set<string>();
  for (let p = 0; p < PEOPLE; p++) {
    const pid = await store.resolve('acme', [{ type: 'user_id', id: `user-${p}` }]);
    const devices = await Promise.all(Array.from({ length: DEVICES }, (_, d) => store.resolve('acme', [{ type: 'anonymous_id', id: `dev-${p}-${d}` }])));
    if (!devices.every((x) => x === pid)) t.fail(`person ${p} is split`);
    const profile = await store.get('acme', pid ?? '');
    t.same(profile?.eventCounts, { Seen: 3 * DEVICES, $identify: DEVICES }, `person ${p}: exact counts`);
    survivors.add(pid ?? '');
  }

  const published = await profileMessages();
  const rows = await warehouse.query<{ survivor: string; merged: string; identifiers: string[]; message_id: string; outcome: string; reason: string }>(
    `SELECT survivor, merged, identifiers, message_id, outcome, reason FROM ${ns}.profile_merges FINAL WHERE tenant = {t:String} ORDER BY message_id, merged`, { t: 'acme' },
  );
  const merged = rows.filter((r) => r.outcome === 'merged');
  t.ok(merged.length > 0, 'profiles were merged');
  t.equal(published.length, merged.length, 'one change message per merge row');
  for (const m of published) {
    t.match(m, { kind: 'merge', survivor: String, merged: String, identifiers: Array, at: String, reason: String });
    // A survivor can itself be merged later; reading the merged id leads to a live profile of the same person.
    const live = await store.get('acme', String(m['merged']));
    if (live === undefined || !survivors.has(live.id)) t.fail(`merged ${String(m['merged'])} does not read as a survivor`);
  }
  t.same(rows.filter((r) => r.outcome === 'refused').map((r) => ({ message_id: r.message_id, identifiers: r.identifiers, reason: r.reason })),
    [{ message_id: 'bob', identifiers: ['anonymous_id:shared'], reason: 'limit user_id 1' }], 'the refused merge is recorded with its reason');
});

void t.test('UpdateProfile applies traits with provenance through the processor; trait history in ClickHouse', async (t) => {
  const denied = await call('UpdateProfile', { identifiers: [{ type: 'user_id', id: 'user-0' }], traits: { fields: { name: { stringValue: 'x' } } } }, READER).catch((e: grpc.ServiceError) => e);
  t.equal((denied as grpc.ServiceError).code, grpc.status.PERMISSION_DENIED, 'profiles:write is required');
  const bad = await call('UpdateProfile', { identifiers: [{ type: 'user_id', id: 'user-0' }], traits: { fields: {} } }, WRITER).catch((e: grpc.ServiceError) => e);
  t.equal((bad as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT, 'an update without traits is refused');

  const r = await call<UpdateProfileResponse__Output>('UpdateProfile', {
    identifiers: [{ type: 'user_id', id: 'user-0' }], traits: { fields: { name: { stringValue: 'Ann from CRM' }, tier: { numberValue: 2 } } }, source: 'crm',
  }, WRITER);
  t.match(r.messageId, /^update-/);
  // A later web identify cannot override the CRM value of a priority trait.
  await publish({ type: 'identify', messageId: 'web-late', userId: 'user-0', traits: { name: 'web later' }, context: { channel: 'web' }, timestamp: new Date(Date.now() + 60_000).toISOString() }, 'web-late');
  const before = (await (await jetstreamManager(nc)).streams.info(names.events)).state.last_seq;
  await runPipelines(1, before);

  const profile = await call<Profile__Output>('GetProfile', { identifiers: [{ type: 'anonymous_id', id: 'dev-0-1' }] }, READER);
  t.equal(profile.traits?.fields['name']?.stringValue, 'Ann from CRM', 'crm wins over web');
  t.equal(profile.traits?.fields['tier']?.numberValue, 2);
  const history = await warehouse.query<{ trait: string; value: string; source: string; key_id: string; message_id: string }>(
    `SELECT trait, value, source, key_id, message_id FROM ${ns}.trait_history FINAL WHERE tenant = {t:String} AND profile_id = {p:String} AND message_id = {m:String} ORDER BY trait`,
    { t: 'acme', p: profile.id, m: r.messageId },
  );
  t.same(history.map((h) => ({ ...h, key_id: h.key_id.length })), [
    { trait: 'name', value: '"Ann from CRM"', source: 'crm', key_id: 12, message_id: r.messageId },
    { trait: 'tier', value: '2', source: 'crm', key_id: 12, message_id: r.messageId },
  ], 'each change with its source and key id');
  const web = await warehouse.query<{ n: string }>(`SELECT count() AS n FROM ${ns}.trait_history WHERE tenant = 'acme' AND message_id = 'web-late'`);
  t.equal(Number(web[0]?.n), 0, 'the refused web write changed nothing, so it has no history row');
});

void t.test('a key that declares its source writes as that source only', async (t) => {
  const update = (source: string) => call<UpdateProfileResponse__Output>('UpdateProfile', {
    identifiers: [{ type: 'user_id', id: 'user-1' }], traits: { fields: { name: { stringValue: `Bo via ${source || 'default'}` } } }, source,
  }, CRM);
  const claimed = await update('web').catch((e: grpc.ServiceError) => e);
  t.match(claimed, { code: grpc.status.PERMISSION_DENIED, details: /source: this key writes as "crm", not "web"/ }, 'another source is refused');
  const r = await update('');
  const before = (await (await jetstreamManager(nc)).streams.info(names.events)).state.last_seq;
  await runPipelines(1, before);
  const rows = await warehouse.query<{ source: string }>(
    `SELECT source FROM ${ns}.trait_history FINAL WHERE tenant = {t:String} AND message_id = {m:String}`, { t: 'acme', m: r.messageId },
  );
  t.same(rows, [{ source: 'crm' }], 'no source given: the key\'s');
});
