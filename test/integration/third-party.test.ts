import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseApiSource } from '../../src/collection/connectors/model.ts';
import { natsEventPublisher } from '../../src/collection/publisher.nats.ts';
import type { EventPublisher } from '../../src/collection/publisher.ts';
import { readRecords } from '../../src/collection/records.ts';
import { parseTaxonomyMap, type TaxonomyMap } from '../../src/collection/taxonomy.ts';
import { apiRecords, importThirdParty } from '../../src/collection/third-party.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/infra/log.ts';
import { connectNats, ensureStreams, streamNames } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { startPulse } from '../../src/main.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { FakePartner } from '../support/fake-partner.ts';
import { cleanEnv, runCli } from '../support/pulse-process.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('tp');
const names = streamNames(ns);
const log = createLogger('silent');
const dir = tempDir();
const MAP_FILE = new URL('../../examples/taxonomy-map.example.json', import.meta.url);
const GAID = '38400000-8cf0-11bd-b23e-10b96e40000d';
const HASH = 'AB'.repeat(32);
const ASOF = Date.UTC(2026, 2, 1);
let nc: NatsConnection;
let redis: RedisClient;
let publisher: EventPublisher;
let taxonomy: TaxonomyMap;

t.before(async () => {
  nc = await connectNats(NATS_URL, 'third-party-test');
  await ensureStreams(nc, ns, 5_000);
  redis = await connectRedis(REDIS_URL, 'third-party-test');
  publisher = natsEventPublisher(nc, ns, { ackTimeoutMs: 5_000 });
  const parsed = parseTaxonomyMap(readFileSync(MAP_FILE, 'utf8'));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  taxonomy = parsed.taxonomy;
});

t.teardown(async () => {
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
  dir.remove();
});

async function storedEvents(tenant: string): Promise<JsonObject[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(names.events);
  const events: JsonObject[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(names.events, { seq });
    if (m === null || m.subject !== names.eventsSubject(tenant)) continue;
    events.push(...m.json<{ batch: JsonObject[] }>().batch);
  }
  return events;
}

const trait = (e: JsonObject | undefined) => (e?.['traits'] as Record<string, unknown> | undefined)?.['audiences_3p_example_data'];
const person = (e: JsonObject | undefined) => (e?.['context'] as { externalIds: { type: string; id: string }[] } | undefined)?.externalIds[0];

void t.test('a gzip NDJSON data set: mapped onto IAB ids, unmapped ids counted, bad records refused', async (t) => {
  const file = join(dir.path, 'audiences.ndjson.gz');
  writeFileSync(file, gzipSync([
    JSON.stringify({ uid: GAID, id_type: 'gaid', segments: ['ed-female', 'ed-europe-trips', 'zz-unknown'] }),
    JSON.stringify({ uid: 'p-2', segments: 'ed-male|ed-in-market-laptop' }),
    JSON.stringify({ uid: HASH, id_type: 'email_sha256', segments: ['ed-age-25-29'] }),
    JSON.stringify({ uid: 'p-4', segments: ['zz-unknown', 'zz-other'] }),
    JSON.stringify({ segments: ['ed-male'] }),
    '{not json',
    JSON.stringify({ uid: 'x', id_type: 'fax', segments: ['ed-male'] }),
  ].join('\n')));
  const report = await importThirdParty(readRecords(file), { tenant: 'acme', provider: 'example-data', taxonomy, publisher, log, asOf: ASOF });
  t.same(report, {
    records: 7, published: 3, skipped: 1, invalid: 3, completed: true,
    categories: { 49: 1, 720: 1, 727: 1, 50: 1, 954: 1, 5: 1 },
    unmapped: { occurrences: 3, distinct: 2, top: [{ id: 'zz-unknown', count: 2 }, { id: 'zz-other', count: 1 }] },
  });
  const events = await storedEvents('acme');
  t.same(events.map((e) => [person(e), trait(e)]), [
    [{ type: 'gaid', id: GAID }, ['49', '720', '727']],
    [{ type: 'partner:example-data', id: 'p-2' }, ['50', '954']],
    [{ type: 'email_sha256', id: HASH.toLowerCase() }, ['5']],
  ], 'one identify event per person, the list of IAB ids as the per-provider trait');
  t.match(events[0], { type: 'identify', timestamp: new Date(ASOF).toISOString(), context: { channel: 'partner', thirdParty: { provider: 'example-data', taxonomy: 'iab_audience_1.1' } } });

  const again = await importThirdParty(readRecords(file), { tenant: 'acme', provider: 'example-data', taxonomy, publisher, log, asOf: ASOF });
  t.equal(again.published, 3);
  t.equal((await storedEvents('acme')).length, 3, 'the same data set again is stored once (same messageIds, same JetStream message ids)');
  await t.rejects(importThirdParty(readRecords(file), { tenant: 'acme', provider: 'other', taxonomy, publisher, log, asOf: ASOF }), { code: 'INVALID_ARGUMENT', message: /is for provider "example-data"/ });
});

void t.test('a large CSV is published in batches with bounded in-flight publishes', async (t) => {
  const file = join(dir.path, 'big.csv');
  const rows = Array.from({ length: 200 }, (_, i) => `u-${i},${i % 2 === 0 ? 'ed-female' : 'ed-male'};ed-football-fans`);
  writeFileSync(file, `uid,segments\n${rows.join('\n')}\n`);
  let read = 0;
  let acked = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let maxUnacked = 0;
  // The real publisher, slowed down like a busy JetStream, and watched.
  const watched: EventPublisher = {
    async publish(tenant, events) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      maxUnacked = Math.max(maxUnacked, read - acked);
      try {
        await new Promise((r) => setTimeout(r, 15));
        await publisher.publish(tenant, events);
        acked += events.length;
      } finally {
        inFlight--;
      }
    },
  };
  async function* counted() {
    for await (const r of readRecords(file)) {
      read++;
      yield r;
    }
  }
  const report = await importThirdParty(counted(), { tenant: 'globex', provider: 'example-data', taxonomy, publisher: watched, log, asOf: ASOF, batchSize: 10, maxInFlight: 2 });
  t.match(report, { records: 200, published: 200, invalid: 0, skipped: 0, categories: { 49: 100, 50: 100, 663: 200 } });
  t.equal(maxInFlight, 2, 'publishes overlap, but never more than maxInFlight');
  t.ok(maxUnacked <= 30, `records read ahead of the acknowledgements stay bounded (at most ${maxUnacked}, limit 3 batches)`);
  const events = await storedEvents('globex');
  t.equal(events.length, 200);
  t.same(trait(events[1]), ['50', '663']);
});

void t.test('a paginated API source with OAuth2 and retries, through the connectors\' client', async (t) => {
  const partner = await FakePartner.start(2);
  t.teardown(() => partner.close());
  partner.records = [
    { id: 'a-1', segments: ['ed-in-market-phone'], updated_at: '2026-01-01T00:00:01Z' },
    { id: 'a-2', segments: ['ed-adventure-travellers', 'nope'], updated_at: '2026-01-01T00:00:02Z' },
    { id: 'a-3', segments: [], updated_at: '2026-01-01T00:00:03Z' },
  ];
  partner.faults.push({ path: '/cursor/users', status: 500, times: 1 });
  const source = parseApiSource(JSON.stringify({
    id: 'feed', request: { url: partner.url('/cursor/users') },
    auth: { type: 'oauth2_client_credentials', tokenUrl: partner.url('/oauth/token'), clientId: FakePartner.CLIENT_ID, clientSecret: { env: 'FEED_SECRET' } },
    pagination: { type: 'cursor', cursorPath: 'meta.next_cursor', param: 'cursor' }, recordsPath: 'data', retry: { baseDelayMs: 10 },
  }), { FEED_SECRET: FakePartner.CLIENT_SECRET });
  if (!source.ok) throw new Error(source.problems.join('; '));
  const parsed = parseTaxonomyMap(JSON.stringify({ ...JSON.parse(readFileSync(MAP_FILE, 'utf8')) as object, fields: { id: 'id', segments: 'segments' } }));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const report = await importThirdParty(apiRecords(source.source, { log }, new AbortController().signal), {
    tenant: 'initech', provider: 'example-data', taxonomy: parsed.taxonomy, publisher, log, asOf: ASOF,
  });
  t.match(report, { records: 3, published: 2, skipped: 1, invalid: 0, unmapped: { occurrences: 1, distinct: 1 } });
  t.same(partner.seen('/cursor/users').map((c) => `${c.status}:${c.query.get('cursor') ?? '-'}`), ['500:-', '200:-', '200:c2'], 'retried, then paged');
  t.equal(partner.tokenCalls, 1);
  const events = await storedEvents('initech');
  t.same(events.map((e) => [person(e), trait(e)]), [[{ type: 'partner:example-data', id: 'a-1' }, ['961']], [{ type: 'partner:example-data', id: 'a-2' }, ['720']]]);
});

void t.test('the CLI imports a file; the processor turns it into profiles; a newer data set replaces the list', async (t) => {
  const file = join(dir.path, 'wayne.ndjson.gz');
  writeFileSync(file, gzipSync(`${JSON.stringify({ uid: GAID, id_type: 'gaid', segments: ['ed-female', 'ed-adventure-travellers'] })}\n`));
  const env = cleanEnv({ PULSE_NAMESPACE: ns, PULSE_NATS_URL: NATS_URL, PULSE_REDIS_URL: REDIS_URL, PULSE_DATA_DIR: dir.path });
  const first = await runCli(['thirdparty', 'import', file, '--tenant', 'wayne', '--provider', 'example-data', '--taxonomy', MAP_FILE.pathname, '--as-of', '2026-03-01T00:00:00Z'], env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /imported 1 records: 1 people updated, 0 with no mapped segment, 0 invalid/);
  t.match(first.stdout, /49\s+1\s+Demographic \| Gender \| Female/);
  const bad = await runCli(['thirdparty', 'import', file, '--tenant', 'wayne', '--provider', 'example-data', '--taxonomy', file], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /is not a valid taxonomy map/);

  const config = loadConfig({ PULSE_NAMESPACE: ns, PULSE_DATA_DIR: join(dir.path, 'pulse'), PULSE_HTTP_PORT: '0' });
  const pulse = await startPulse(config, [], 'processor', log);
  try {
    const profiles = new RedisProfileStore(redis, ns, 3600);
    const audiences = async () => {
      const pid = await profiles.resolve('wayne', [{ type: 'gaid', id: GAID }]);
      return pid === undefined ? undefined : (await profiles.get('wayne', pid))?.traits['audiences_3p_example_data'];
    };
    t.same(await eventually(audiences, 20_000, 'the first data set in the profile'), ['49', '720']);

    writeFileSync(file, gzipSync(`${JSON.stringify({ uid: GAID, id_type: 'gaid', segments: ['ed-male'] })}\n`));
    const newer = await runCli(['thirdparty', 'import', file, '--tenant', 'wayne', '--provider', 'example-data', '--taxonomy', MAP_FILE.pathname, '--as-of', '2026-04-01T00:00:00Z'], env);
    t.equal(newer.code, 0, newer.stderr);
    t.same(await eventually(async () => {
      const v = await audiences();
      return Array.isArray(v) && v[0] === '50' ? v : undefined;
    }, 20_000, 'the newer data set in the profile'), ['50'], 'the whole list is replaced (last write wins per provider)');

    writeFileSync(file, gzipSync(`${JSON.stringify({ uid: GAID, id_type: 'gaid', segments: ['ed-age-30-34'] })}\n`));
    const older = await runCli(['thirdparty', 'import', file, '--tenant', 'wayne', '--provider', 'example-data', '--taxonomy', MAP_FILE.pathname, '--as-of', '2026-02-01T00:00:00Z'], env);
    t.equal(older.code, 0, older.stderr);
    t.match(older.stdout, /1 people updated/);
    const jsm = await jetstreamManager(nc);
    await eventually(async () => {
      const info = await jsm.consumers.info(names.events, names.processorDurable);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 20_000, 'the processor to take every event');
    t.same(await audiences(), ['50'], 'an older data set imported late does not overwrite a newer one');
  } finally {
    await pulse.stop();
  }
});
