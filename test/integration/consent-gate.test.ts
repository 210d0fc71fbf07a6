import { createHash } from 'node:crypto';
import t from 'tap';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { RedisClient } from '../../src/infra/redis.ts';
import { lastValueFrom, toArray } from 'rxjs';
import { acceptEvents } from '../../src/collection/publisher.ts';
import { natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { jetStreamSource } from '../../src/infra/jetstream-source.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics, type Metrics } from '../../src/infra/metrics.ts';
import { streamNames } from '../../src/infra/nats.ts';
import { toStruct } from '../../src/infra/struct.ts';
import { DEFAULT_CONSENT_POLICY, type ConsentSettings } from '../../src/privacy/consent.ts';
import { RedisConsentStore } from '../../src/privacy/consent.redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { ingest, type BatchReport } from '../../processors/ingest.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { openTestStack, type TestStack } from '../support/stack.ts';
import { PULSE_VENDOR, tcString } from '../support/tcf.ts';

const ns = uniqueNamespace('consent');
const names = streamNames(ns);
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;

// `acme` keeps the default policy (GDPR when signalled); `eu` always applies GDPR and keeps
// anonymous rows of denied events; `lenient` always applies it but lets missing and malformed
// strings through.
const settings: ConsentSettings = {
  vendorId: PULSE_VENDOR,
  defaultPolicy: DEFAULT_CONSENT_POLICY,
  tenants: {
    eu: { ...DEFAULT_CONSENT_POLICY, gdprApplies: 'always', denied: 'anonymous' },
    lenient: { ...DEFAULT_CONSENT_POLICY, gdprApplies: 'always', missing: 'allow', malformed: 'allow' },
  },
};
const CONSENTED = tcString({ purposes: [1, 3, 4], vendors: [PULSE_VENDOR] });
const CONSENTED_LATER = tcString({ purposes: [1, 3, 4, 7], vendors: [PULSE_VENDOR], cmpId: 42 });
const NO_PURPOSE_3 = tcString({ purposes: [1, 4], vendors: [PULSE_VENDOR] });
const MALFORMED = 'CO-not-a-consent-string';

// Raw PII the senders put in events; none of it may be stored.
const RAW = ['Jane.Doe+ads@GoogleMail.com', 'janedoe@gmail.com', 'jane.doe', '(415) 555-2671', '+14155552671', '4155552671', 'Max.Mustermann@Example.DE', 'max.mustermann@example.de', '+49 30 901820', '4930901820'];
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let stack: TestStack;

t.before(async () => {
  stack = await openTestStack(ns, 'consent-test');
  ({ nc, redis, warehouse } = stack);
});

t.teardown(() => stack.close());

async function publish(tenant: string, body: object, msgId: string): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(names.eventsSubject(tenant), JSON.stringify(body), { headers: h, msgID: msgId });
}

/** Runs the real pipeline over the stream until `expected` messages in all have been acked. */
async function runPipeline(expected: number, metrics: Metrics): Promise<BatchReport[]> {
  const source = await jetStreamSource(nc, names.events, names.processorDurable, 100);
  const done = lastValueFrom(ingest(source.iterator, {
    profiles: new RedisProfileStore(redis, ns, 3600), segments: new RedisSegmentStore(redis, ns), events: new EventWriter(warehouse, ns),
    deadLetter: natsDeadLetter(nc, ns), publishChanges: natsSegmentChanges(nc, ns), consent: new RedisConsentStore(redis, ns),
  }, { namespace: ns, batchSize: 50, batchWaitMs: 20, concurrency: 1, log: createLogger('silent'), metrics, consent: settings }).pipe(toArray()));
  await eventually(async () => {
    const info = await (await jetstreamManager(nc)).consumers.info(names.events, names.processorDurable);
    return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq >= expected ? true : undefined;
  }, 20_000, `${expected} messages acked`);
  await source.stop();
  return done;
}

async function deniedCounts(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.eventsConsentDenied.get()).values) out[String(v.labels['reason'])] = v.value;
  return out;
}

const ts = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

void t.test('the consent gate: who builds a profile and segments, per tenant policy', async (t) => {
  const segments = new RedisSegmentStore(redis, ns);
  for (const tenant of ['acme', 'eu']) {
    await segments.create(tenant, newSegment({ id: 'buyers', name: 'Buyers', rule: '{"event":"Purchase","op":"gte","count":1}' }, Date.now()));
  }
  // Through the HTTP collector's step: normalized (hashed) at the door, in wire form on the stream.
  const atDoor = acceptEvents([{
    type: 'identify', messageId: 'yes-1', userId: 'u-yes', timestamp: ts(0),
    traits: { email: RAW[0], phone: RAW[3], plan: 'pro' }, context: { consent: { tcf: CONSENTED } },
  }], Date.now());
  t.same(atDoor.rejected, []);
  t.notOk(RAW.some((r) => JSON.stringify(atDoor.accepted).includes(r)), 'no raw PII leaves the collector');
  await publish('acme', { batch: atDoor.accepted }, 'yes-1');
  // Straight to NATS, raw: the processor normalizes.
  await publish('acme', { type: 'track', messageId: 'yes-2', userId: 'u-yes', event: 'Purchase', timestamp: ts(1), context: { consent: { tcf: CONSENTED, gdprApplies: true } } }, 'yes-2');
  await publish('acme', { type: 'identify', messageId: 'no-1', userId: 'u-no', timestamp: ts(2), traits: { email: RAW[6], phone: RAW[8] }, context: { consent: { tcf: NO_PURPOSE_3 } } }, 'no-1');
  await publish('acme', { type: 'track', messageId: 'no-2', userId: 'u-no', event: 'Purchase', timestamp: ts(3), context: { consent: { tcf: NO_PURPOSE_3 } } }, 'no-2');
  await publish('acme', { type: 'track', messageId: 'plain-1', userId: 'u-plain', event: 'Purchase', timestamp: ts(4) }, 'plain-1');
  await publish('eu', { batch: [
    { type: 'track', messageId: 'eu-missing', userId: 'u-missing', event: 'Purchase', timestamp: ts(5), properties: { value: 5, email: RAW[6] }, context: { ip: '203.0.113.7', page: { path: '/buy', url: 'https://shop.example/buy?u=u-missing' } } },
    { type: 'track', messageId: 'eu-bad', userId: 'u-bad', event: 'Purchase', timestamp: ts(6), context: { consent: { tcf: MALFORMED } } },
    { type: 'track', messageId: 'eu-yes', userId: 'u-eu-yes', event: 'Purchase', timestamp: ts(7), context: { consent: { tcf: CONSENTED } } },
  ] }, 'eu-batch');
  await publish('lenient', { batch: [
    { type: 'track', messageId: 'l-missing', userId: 'u-l-missing', event: 'Purchase', timestamp: ts(8) },
    { type: 'track', messageId: 'l-bad', userId: 'u-l-bad', event: 'Purchase', timestamp: ts(9), context: { consent: { tcf: MALFORMED } } },
  ] }, 'lenient-batch');

  const metrics = createMetrics();
  const reports = await runPipeline(7, metrics);
  t.equal(reports.filter((r) => r.failed).length, 0, 'no batch failed');
  t.equal(reports.reduce((n, r) => n + r.applied, 0), 6, 'applied: yes-1, yes-2, plain-1, eu-yes, l-missing, l-bad');
  t.equal(reports.reduce((n, r) => n + r.rejected, 0), 0, 'nothing dead-lettered: consent is not a validation error');
  t.same(await deniedCounts(metrics), { 'no-consent': 2, missing: 1, malformed: 1 }, 'denied events are counted by reason');

  const profiles = new RedisProfileStore(redis, ns, 3600);
  const audience = new RedisAudienceReader(redis, ns);
  const pid = (tenant: string, userId: string) => profiles.resolve(tenant, [{ type: 'user_id', id: userId }]);

  const yes = await pid('acme', 'u-yes');
  t.ok(yes, 'consented: a profile');
  const profile = await profiles.get('acme', yes ?? '');
  t.same(profile?.eventCounts, { $identify: 1, Purchase: 1 });
  t.match(profile?.traits, { plan: 'pro', $consent: { tcString: CONSENTED, gdprApplies: true, purposes: [1, 3, 4], vendorId: PULSE_VENDOR, vendorConsent: true } }, 'the consent record is stored with the profile');
  t.match(toStruct(profile?.traits ?? {}).fields?.['$consent'], { structValue: { fields: { tcString: { stringValue: CONSENTED } } } }, 'GetProfile shows it in the traits Struct');
  t.same(profile?.identifiers.filter((i) => i.type.endsWith('_sha256')).sort((a, b) => a.type.localeCompare(b.type)),
    [{ type: 'email_sha256', id: sha('janedoe@gmail.com') }, { type: 'phone_sha256', id: sha('+14155552671') }], 'the hashed email and phone identify the profile');
  t.equal(await profiles.resolve('acme', [{ type: 'email_sha256', id: sha('janedoe@gmail.com') }]), yes);
  t.same((await audience.audience('acme', [{ type: 'user_id', id: 'u-yes' }]))?.segments, [{ id: 'buyers', name: 'Buyers' }], 'and the segment');

  t.equal(await pid('acme', 'u-no'), undefined, 'no Purpose 3: no profile');
  t.equal(await profiles.resolve('acme', [{ type: 'email_sha256', id: sha('max.mustermann@example.de') }]), undefined, 'not even by its hashed email');
  t.equal(await audience.audience('acme', [{ type: 'user_id', id: 'u-no' }]), undefined, 'no segments');

  const plain = await profiles.get('acme', (await pid('acme', 'u-plain')) ?? '');
  t.ok(plain, 'acme without a consent signal: GDPR does not apply, a profile');
  t.notOk(plain !== undefined && '$consent' in plain.traits, 'and no consent record');

  t.equal(await pid('eu', 'u-missing'), undefined, 'eu: a missing string is denied');
  t.equal(await pid('eu', 'u-bad'), undefined, 'eu: a malformed string is denied');
  t.ok(await pid('eu', 'u-eu-yes'), 'eu: consented');
  t.ok(await pid('lenient', 'u-l-missing'), 'lenient: missing allowed');
  t.ok(await pid('lenient', 'u-l-bad'), 'lenient: malformed allowed');

  const rows = await warehouse.query<{ tenant: string; message_id: string; profile_id: string; user_id: string; properties: string; context: string }>(
    `SELECT tenant, message_id, profile_id, user_id, properties, context FROM ${ns}.events FINAL ORDER BY tenant, message_id`,
  );
  t.same(rows.map((r) => `${r.tenant}/${r.message_id}`), ['acme/plain-1', 'acme/yes-1', 'acme/yes-2', 'eu/eu-bad', 'eu/eu-missing', 'eu/eu-yes', 'lenient/l-bad', 'lenient/l-missing'],
    'acme drops denied events; eu keeps anonymous rows of them');
  const anonymous = rows.find((r) => r.message_id === 'eu-missing');
  t.match(anonymous, { profile_id: '', user_id: '' }, 'the anonymous row has no profile or user');
  t.same(JSON.parse(anonymous?.properties ?? '{}'), { value: 5 }, 'nor hashed PII');
  t.same(JSON.parse(anonymous?.context ?? '{}'), { channel: 'web', page: { path: '/buy' } }, 'nor IP or URL');
});

void t.test('the consent record is last-write-wins by event time; a later refusal replaces a grant', async (t) => {
  await publish('acme', { type: 'track', messageId: 'yes-3', userId: 'u-yes', event: 'View', timestamp: ts(30), context: { consent: { tcf: CONSENTED_LATER } } }, 'yes-3');
  await publish('acme', { type: 'track', messageId: 'yes-0', userId: 'u-yes', event: 'View', timestamp: ts(-30), context: { consent: { tcf: CONSENTED } } }, 'yes-0');
  await publish('acme', { type: 'track', messageId: 'yes-4', userId: 'u-yes', event: 'View', timestamp: ts(40) }, 'yes-4');
  await runPipeline(10, createMetrics());
  const profiles = new RedisProfileStore(redis, ns, 3600);
  const profile = await profiles.get('acme', (await profiles.resolve('acme', [{ type: 'user_id', id: 'u-yes' }])) ?? '');
  t.equal(profile?.eventCounts['View'], 3);
  t.match(profile?.traits['$consent'], { tcString: CONSENTED_LATER, cmpId: 42, purposes: [1, 3, 4, 7] }, 'the newest string wins; an older one or none changes nothing');

  await publish('acme', { type: 'track', messageId: 'yes-5', userId: 'u-yes', event: 'View', timestamp: ts(50), context: { consent: { tcf: NO_PURPOSE_3 } } }, 'yes-5');
  await publish('eu', { type: 'track', messageId: 'eu-old-refusal', userId: 'u-eu-yes', event: 'View', timestamp: ts(-40), context: { consent: { tcf: NO_PURPOSE_3 } } }, 'eu-old');
  await publish('acme', { type: 'identify', messageId: 'stranger', userId: 'u-stranger', timestamp: ts(50), context: { consent: { tcf: NO_PURPOSE_3 } } }, 'stranger');
  const metrics = createMetrics();
  await runPipeline(13, metrics);
  t.same(await deniedCounts(metrics), { 'no-consent': 3 });
  const withdrawn = await profiles.get('acme', profile?.id ?? '');
  t.match(withdrawn?.traits['$consent'], { tcString: NO_PURPOSE_3, purposes: [1, 4], gdprApplies: true }, 'the withdrawal is on the profile for activation to see');
  t.equal(withdrawn?.eventCounts['View'], 3, 'the denied event itself built nothing');
  t.equal(withdrawn?.version, profile?.version, 'nor changed the profile version');
  const eu = await profiles.get('eu', (await profiles.resolve('eu', [{ type: 'user_id', id: 'u-eu-yes' }])) ?? '');
  t.match(eu?.traits['$consent'], { tcString: CONSENTED }, 'an older refusal does not replace a newer grant');
  t.equal(await redis.exists(tenantKeys(ns, 'acme').identifier({ type: 'user_id', id: 'u-stranger' })), 0, 'a refusal from someone without a profile creates nothing');
});

void t.test('no raw email or phone anywhere in Redis or ClickHouse', async (t) => {
  const found: string[] = [];
  let keys = 0;
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${ns}:*`, 'COUNT', 500);
    cursor = next;
    for (const key of batch) {
      keys++;
      const type = await redis.type(key);
      const values = type === 'string' ? [await redis.get(key) ?? '']
        : type === 'hash' ? Object.entries(await redis.hgetall(key)).flat()
          : type === 'set' ? await redis.smembers(key)
            : type === 'zset' ? await redis.zrange(key, 0, -1)
              : type === 'list' ? await redis.lrange(key, 0, -1) : [`unexpected type ${type}`];
      const text = [key, ...values].join('\n').toLowerCase();
      for (const raw of RAW) if (text.includes(raw.toLowerCase())) found.push(`${raw} in ${key}`);
    }
  } while (cursor !== '0');
  t.ok(keys > 20, `${keys} keys scanned`);
  t.same(found, [], 'Redis holds no raw PII');

  const rows = await warehouse.query<Record<string, unknown>>(`SELECT * FROM ${ns}.events`);
  t.ok(rows.length >= 12, `${rows.length} ClickHouse rows scanned`);
  const text = JSON.stringify(rows).toLowerCase();
  t.same(RAW.filter((raw) => text.includes(raw.toLowerCase())), [], 'ClickHouse holds no raw PII');
  t.ok(text.includes(sha('janedoe@gmail.com')), 'the hash is there instead');
});
