// One tenant across a 3-master Redis Cluster (issue 4 item 7): `pulse start` with
// PULSE_REDIS_LAYOUT=profile, where every profile has its own hash tag, identifiers theirs and the
// cross-profile indexes are split into buckets (src/profiles/per-profile-layout.md). The tenant's
// profiles, identifiers and buckets land on all three masters; a person whose two profiles live on
// different masters is merged across them; real-time segments, lookups, backfill and Estimate work.
import t from 'tap';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { bucketKeys, profileIdFor, profileKeys } from '../../src/profiles/keys.ts';
import { cleanupNamespace, eventually, NATS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { bearer, grpcClients, startPulseProcess, type PulseProcess } from '../support/pulse-process.ts';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.ts';

const ns = uniqueNamespace('e2ep');
const dir = tempDir();
const TENANT = 'acme';
const KEY = 'acme-admin-key-cluster-profile-0001';
const PEOPLE = 30;
const BUCKETS = 16;
let cluster: LocalRedisCluster;
let pulse: PulseProcess;
let nc: NatsConnection;
let c: ReturnType<typeof grpcClients>;
const md = bearer(KEY);

t.before(async () => {
  cluster = await startRedisCluster(3);
  pulse = await startPulseProcess({
    PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path, PULSE_SEGMENT_CLOCK_MS: '1000',
    PULSE_REDIS_CLUSTER: 'true', PULSE_REDIS_URL: `redis://127.0.0.1:${cluster.ports[0]}`,
    PULSE_REDIS_LAYOUT: 'profile', PULSE_REDIS_BUCKETS: String(BUCKETS),
    PULSE_API_KEYS: JSON.stringify([{ key: KEY, tenant: TENANT, scopes: ['*'] }]),
  });
  nc = await connect({ servers: NATS_URL });
  c = grpcClients(pulse.grpcPort);
});

t.teardown(async () => {
  c?.close();
  await nc?.close();
  await pulse?.stop('SIGKILL');
  await cluster?.stop();
  await cleanupNamespace(ns);
  dir.remove();
});

async function publish(events: readonly Record<string, unknown>[]): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(`${ns}.events.${TENANT}`, JSON.stringify({ batch: events }), { headers: h });
}

/** The tenant's keys on the master `port` alone (SCAN sees only the node it runs on), by kind. */
async function keysOn(port: number): Promise<{ profile: string[]; identifier: string[]; bucket: string[]; tenant: string[] }> {
  const node = new Redis({ host: '127.0.0.1', port });
  const out = { profile: [] as string[], identifier: [] as string[], bucket: [] as string[], tenant: [] as string[] };
  try {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${ns}:{${TENANT}*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const tag = k.slice(k.indexOf('{') + 1, k.indexOf('}'));
        if (tag === TENANT) out.tenant.push(k);
        else if (tag.startsWith(`${TENANT}:i:`)) out.identifier.push(k);
        else if (/^acme:s\d+$/.test(tag)) out.bucket.push(k);
        else out.profile.push(k);
      }
    } while (cursor !== '0');
    return out;
  } finally {
    node.disconnect();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
/** Person i: known by user id from an identify (m1), buys anonymously on a device (m2), then an identify links both (m3). */
const mid = (i: number, n: 1 | 2 | 3): string => `p${i}-m${n}`;

void t.test('one tenant spread over three masters: merges across masters, real-time segments, lookups', async (t) => {
  await c.createSegment({ id: 'pro_buyers', name: 'Pro buyers', rule: 'plan = "pro" and count(Purchase) in last 7 days >= 1' }, md);
  const now = Date.now();
  for (let i = 0; i < PEOPLE; i++) {
    await publish([
      { type: 'identify', messageId: mid(i, 1), userId: `u-${i}`, traits: { plan: 'pro' }, timestamp: iso(now - 60_000) },
      { type: 'track', messageId: mid(i, 2), anonymousId: `dev-${i}`, event: 'Purchase', properties: { revenue: 10 + i }, timestamp: iso(now - 30_000) },
      { type: 'identify', messageId: mid(i, 3), userId: `u-${i}`, anonymousId: `dev-${i}`, traits: {}, timestamp: iso(now - 10_000) },
    ]);
  }
  // A new profile's id comes from the event that created it: where each person's two profiles live.
  const homes = await Promise.all(Array.from({ length: PEOPLE }, async (_, i) => {
    const user = profileIdFor(TENANT, mid(i, 1));
    const device = profileIdFor(TENANT, mid(i, 2));
    return { i, user, device, userPort: await cluster.masterOf(profileKeys(ns, TENANT, user).hash), devicePort: await cluster.masterOf(profileKeys(ns, TENANT, device).hash) };
  }));
  const across = homes.filter((h) => h.userPort !== h.devicePort);
  t.ok(across.length > 0, `${across.length} of ${PEOPLE} people have their two profiles on different masters`);

  for (const h of homes) {
    const profile = await eventually(async () => {
      const p = await c.getProfile({ identifiers: [{ type: 'anonymous_id', id: `dev-${h.i}` }] }, md).catch(() => undefined);
      return p !== undefined && p.identifiers.length === 2 ? p : undefined;
    }, 60_000, `the merged profile of person ${h.i}`);
    if (h !== across[0]) continue;
    t.same(profile.identifiers.map((x) => `${x.type}:${x.id}`).sort(), [`anonymous_id:dev-${h.i}`, `user_id:u-${h.i}`], 'both identifiers on one profile');
    t.equal(profile.id, h.user, 'the older profile (the user\'s) survived');
    t.equal(profile.traits?.fields?.['plan']?.stringValue, 'pro');
    t.equal(profile.eventCounts['Purchase'], '1', 'the purchase moved over from the other master');
    const node = new Redis({ host: '127.0.0.1', port: h.devicePort });
    try {
      t.same(await node.hmget(profileKeys(ns, TENANT, h.device).hash, 'state', 'into'), ['merged', h.user], `the device's profile is a tombstone on its own master (${h.devicePort}, the survivor is on ${h.userPort})`);
    } finally {
      node.disconnect();
    }
    const viaUser = await c.getProfile({ identifiers: [{ type: 'user_id', id: `u-${h.i}` }] }, md);
    t.equal(viaUser.id, h.user, 'the user id reads the same profile');
  }

  for (const h of homes) {
    const audience = await eventually(async () => {
      const a = await c.getAudience({ identifiers: [{ type: 'user_id', id: `u-${h.i}` }] }, md);
      return a.segments.length > 0 ? a : undefined;
    }, 30_000, `u-${h.i} in pro_buyers`);
    t.equal(audience.profileId, h.user);
    if (h === across[0]) t.same(audience.segments.map((s) => s.id), ['pro_buyers'], 'the merged profile entered the segment in real time');
  }

  for (const port of cluster.ports) {
    const own = await keysOn(port);
    t.ok(own.profile.length > 0 && own.identifier.length > 0 && own.bucket.length > 0,
      `master ${port} holds ${own.profile.length} profile, ${own.identifier.length} identifier and ${own.bucket.length} bucket keys of the one tenant`);
  }
});

void t.test('backfill, Estimate and reach over the buckets of all three masters', async (t) => {
  await c.createSegment({ id: 'pro', name: 'Pro plan', rule: 'plan = "pro"' }, md);
  const status = await eventually(async () => {
    const s = await c.getBackfillStatus({ id: 'pro' }, md);
    if (s.state === 'failed') throw new Error(`backfill failed: ${s.error}`);
    return s.state === 'done' ? s : undefined;
  }, 60_000, 'backfill of pro');
  t.equal(status.profilesDone, String(PEOPLE), 'every live profile evaluated once (merged-away ones are not)');
  const estimate = await c.estimateSegment({ rule: 'plan = "pro"', sampleSize: 20_000 }, md);
  t.equal(Number(estimate.estimate), PEOPLE, 'Estimate over the whole bucketed index finds every pro profile');
  t.ok(estimate.exact, 'a sample of the whole index is exact');
  const client = cluster.client();
  try {
    let reach = 0;
    const ports = new Set<number>();
    for (let b = 0; b < BUCKETS; b++) {
      const key = bucketKeys(ns, TENANT, b).segMembers('pro');
      const n = await client.scard(key);
      reach += n;
      if (n > 0) ports.add(await cluster.masterOf(key));
    }
    t.equal(reach, PEOPLE, 'reach = Σ over the buckets of the segment\'s member sets');
    t.equal(ports.size, 3, 'the member sets are on all three masters');
  } finally {
    client.disconnect();
  }
  const audience = await c.getAudience({ identifiers: [{ type: 'anonymous_id', id: 'dev-0' }] }, md);
  t.same(audience.segments.map((s) => s.id).sort(), ['pro', 'pro_buyers'], 'the backfill put the people in the new segment');
});
