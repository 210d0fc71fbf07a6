// Pulse on a 3-master Redis Cluster (issue 4 item 7): the same process, the same scripts and
// pipelines, with PULSE_REDIS_CLUSTER=true and one seed node. Tenants whose hash tags fall on
// three different masters are each served from their own master: identity merges, traits,
// event features, real-time segments, backfill and targeting lookups.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import type { BackfillStatus__Output } from '../../src/gen/pulse/v1/BackfillStatus.ts';
import type { GetAudienceResponse__Output } from '../../src/gen/pulse/v1/GetAudienceResponse.ts';
import type { Profile__Output } from '../../src/gen/pulse/v1/Profile.ts';
import { cleanupNamespace, eventually, NATS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { segMembers } from '../support/keys.ts';
import { bearer, startPulseProcess, type PulseProcess } from '../support/pulse-process.ts';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.ts';

const ns = uniqueNamespace('e2ec');
const dir = tempDir();
const CANDIDATES = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'wonka', 'stark', 'wayne', 'tyrell', 'cyberdyne', 'soylent', 'oscorp'];
let cluster: LocalRedisCluster;
let pulse: PulseProcess;
let nc: NatsConnection;
/** Three tenants, each on another master, and the master's port. */
const tenants: { name: string; port: number; key: string }[] = [];
type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const clients: Record<string, Client> = {};

t.before(async () => {
  cluster = await startRedisCluster(3);
  for (const name of CANDIDATES) {
    const port = await cluster.masterOf(tenantKeys(ns, name).profile('x').hash);
    if (!tenants.some((x) => x.port === port)) tenants.push({ name, port, key: `${name}-admin-key-cluster-0001` });
    if (tenants.length === 3) break;
  }
  if (tenants.length < 3) throw new Error(`the candidate tenants fall on fewer than 3 masters: ${JSON.stringify(tenants)}`);
  pulse = await startPulseProcess({
    PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path,
    PULSE_REDIS_CLUSTER: 'true', PULSE_REDIS_URL: `redis://127.0.0.1:${cluster.ports[0]}`,
    PULSE_API_KEYS: JSON.stringify(tenants.map((x) => ({ key: x.key, tenant: x.name, scopes: ['*'] }))),
  });
  nc = await connect({ servers: NATS_URL });
  const pkg = loadPulseGrpc();
  const address = `127.0.0.1:${pulse.grpcPort}`;
  clients['segments'] = new pkg.pulse.v1.SegmentService(address, grpc.credentials.createInsecure()) as unknown as Client;
  clients['profiles'] = new pkg.pulse.v1.ProfileService(address, grpc.credentials.createInsecure()) as unknown as Client;
  clients['targeting'] = new pkg.pulse.v1.TargetingService(address, grpc.credentials.createInsecure()) as unknown as Client;
});

t.teardown(async () => {
  for (const c of Object.values(clients)) c.close();
  await nc?.close();
  await pulse?.stop('SIGKILL');
  await cluster?.stop();
  await cleanupNamespace(ns);
  dir.remove();
});

function call<Res>(service: string, method: string, req: object, key: string): Promise<Res> {
  const client = clients[service];
  if (client === undefined) throw new Error(`no client ${service}`);
  return new Promise((resolve, reject) => {
    const fn = client[method] as (r: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Res) => void) => void;
    fn.call(client, req, bearer(key), (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function publish(tenant: string, events: readonly Record<string, unknown>[]): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(`${ns}.events.${tenant}`, JSON.stringify({ batch: events }), { headers: h });
}

/** Keys of the tenant on the master `port` alone (SCAN sees only the node it runs on). */
async function keysOn(port: number, tenant: string): Promise<string[]> {
  const node = new Redis({ host: '127.0.0.1', port });
  try {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${tenantKeys(ns, tenant).prefix}*`, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
    return out;
  } finally {
    node.disconnect();
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

void t.test('three tenants on three masters: merges, traits, real-time segments and lookups', async (t) => {
  t.equal(new Set(tenants.map((x) => x.port)).size, 3, 'the tenants live on three different masters');
  const now = Date.now();
  for (const { name, key } of tenants) {
    await call('segments', 'CreateSegment', { id: 'pro_buyers', name: 'Pro buyers', rule: 'plan = "pro" and count(Purchase) in last 7 days >= 1' }, key);
    // u-1 is known by user id; a device buys anonymously; then an identify links both: a merge.
    await publish(name, [
      { type: 'identify', messageId: `${name}-m1`, userId: 'u-1', traits: { plan: 'pro', tenant_mark: name }, timestamp: iso(now - 60_000) },
      { type: 'track', messageId: `${name}-m2`, anonymousId: 'dev-1', event: 'Purchase', properties: { revenue: 12 }, timestamp: iso(now - 30_000) },
      { type: 'identify', messageId: `${name}-m3`, userId: 'u-1', anonymousId: 'dev-1', traits: {}, timestamp: iso(now - 10_000) },
    ]);
  }
  for (const { name, key, port } of tenants) {
    const profile = await eventually(async () => {
      const p = await call<Profile__Output>('profiles', 'GetProfile', { identifiers: [{ type: 'anonymous_id', id: 'dev-1' }] }, key).catch(() => undefined);
      return p !== undefined && p.identifiers.length === 2 ? p : undefined;
    }, 30_000, `the merged profile of ${name}`);
    t.same(profile.identifiers.map((i) => `${i.type}:${i.id}`).sort(), ['anonymous_id:dev-1', 'user_id:u-1'], `${name}: both identifiers on one profile`);
    t.equal(profile.traits?.fields?.['tenant_mark']?.stringValue, name, `${name}: traits of its own events only`);
    t.equal(profile.eventCounts['Purchase'], '1', `${name}: the anonymous purchase moved over in the merge`);
    const audience = await eventually(async () => {
      const a = await call<GetAudienceResponse__Output>('targeting', 'GetAudience', { identifiers: [{ type: 'user_id', id: 'u-1' }] }, key);
      return a.segments.length > 0 ? a : undefined;
    }, 30_000, `${name}: u-1 in pro_buyers`);
    t.same(audience.segments.map((s) => s.id), ['pro_buyers'], `${name}: the merged profile entered the segment in real time`);
    t.equal(audience.profileId, profile.id);
    const own = await keysOn(port, name);
    t.ok(own.some((k) => k.endsWith(`p:${profile.id}`)), `${name}: its profile lives on its master (port ${port})`);
    for (const other of cluster.ports.filter((p) => p !== port)) {
      t.same(await keysOn(other, name), [], `${name}: no key on master ${other}`);
    }
  }
});

void t.test('a segment created later is backfilled over the tenant\'s profiles', async (t) => {
  for (const { name, key } of tenants) {
    await call('segments', 'CreateSegment', { id: 'pro', name: 'Pro plan', rule: 'plan = "pro"' }, key);
    const status = await eventually(async () => {
      const s = await call<BackfillStatus__Output>('segments', 'GetBackfillStatus', { id: 'pro' }, key);
      if (s.state === 'failed') throw new Error(`backfill failed: ${s.error}`);
      return s.state === 'done' ? s : undefined;
    }, 30_000, `${name}: backfill of pro`);
    t.equal(status.profilesDone, '1', `${name}: its one live profile evaluated (the merged-away one is not)`);
    const audience = await call<GetAudienceResponse__Output>('targeting', 'GetAudience', { identifiers: [{ type: 'user_id', id: 'u-1' }] }, key);
    t.same(audience.segments.map((s) => s.id).sort(), ['pro', 'pro_buyers'], `${name}: the backfill put u-1 in the new segment`);
  }
});

void t.test('a client of the cluster sees what Pulse wrote, one slot per tenant', async (t) => {
  const client = cluster.client();
  try {
    for (const { name } of tenants) {
      const members = await segMembers(client, ns, name, 'pro');
      t.equal(members.length, 1, `${name}: one member of pro, read through the cluster client`);
    }
  } finally {
    client.disconnect();
  }
});
