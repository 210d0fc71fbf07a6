import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { importFile, type Checkpoint, type RejectedRow } from '../../src/collection/import.ts';
import { parseMapping, type Mapping } from '../../src/collection/mapping.ts';
import { natsEventPublisher } from '../../src/collection/publisher.nats.ts';
import { connectNats } from '../../src/infra/nats.ts';
import { cleanupNamespace, eventually, NATS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { bearer, grpcClients, runCli, startPulseProcess, type PulseProcess } from '../support/pulse-process.ts';

const BIN = fileURLToPath(new URL('../../bin/pulse.mjs', import.meta.url));
const ns = uniqueNamespace('imp');
const dir = tempDir('pulse-import-');
const ADMIN = 'import-test-admin-key-0001';
const TENANTS = ['crm', 'csv', 'killed', 'ndjson'];
const USERS = 200;
const ROWS = 20_000;
let pulse: PulseProcess;
let nc: NatsConnection;

t.before(async () => {
  const keys = TENANTS.map((tenant, i) => ({ key: `${ADMIN}-${i}`, tenant, scopes: ['*'] }));
  pulse = await startPulseProcess({ PULSE_NAMESPACE: ns, PULSE_DATA_DIR: join(dir.path, 'data'), PULSE_API_KEYS: JSON.stringify(keys) });
  nc = await connectNats(NATS_URL, 'import-test');
});

t.teardown(async () => {
  await nc.close();
  await pulse.stop('SIGKILL');
  await cleanupNamespace(ns);
  dir.remove();
});

const PURCHASES: Mapping = mapping({
  type: 'track',
  event: { value: 'Store Purchase' },
  userId: 'customer_id',
  timestamp: { column: 'ts', as: 'date' },
  properties: { amount: { column: 'amount', as: 'number' }, store: 'store' },
  context: { channel: 'offline' },
});

function mapping(data: unknown): Mapping {
  const r = parseMapping(JSON.stringify(data));
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.mapping;
}

/** A row of the generated purchase files, and whether (and why) Pulse must refuse it. */
function purchase(i: number): { row: Record<string, string>; refused: string | undefined } {
  const row = { customer_id: `c-${i % USERS}`, amount: (i % 50 + 0.5).toFixed(2), ts: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(), store: `s${i % 7}` };
  if (i % 997 === 0) return { row: { ...row, amount: 'n/a' }, refused: 'properties.amount' };
  if (i % 1499 === 0) return { row: { ...row, ts: 'soon' }, refused: 'timestamp' };
  if (i % 1999 === 0) return { row: { ...row, customer_id: '' }, refused: 'userId' };
  return { row, refused: undefined };
}

function purchasesCsv(rows: number): string {
  const lines = ['customer_id,amount,ts,store'];
  for (let i = 1; i <= rows; i++) {
    const { row } = purchase(i);
    lines.push([row['customer_id'], row['amount'], row['ts'], row['store']].join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** What every user's purchase count must be once the file is in, and which rows are refused. */
function expected(rows: number, unreadable: (i: number) => boolean = () => false): { perUser: number[]; accepted: number; refused: Map<number, string> } {
  const perUser = Array.from({ length: USERS }, () => 0);
  const refused = new Map<number, string>();
  for (let i = 1; i <= rows; i++) {
    const p = purchase(i);
    const why = unreadable(i) ? 'row' : p.refused;
    if (why === undefined) perUser[i % USERS] = (perUser[i % USERS] ?? 0) + 1;
    else refused.set(i, why);
  }
  return { perUser, accepted: rows - refused.size, refused };
}

async function settled(): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await eventually(async () => {
    const s = await jsm.streams.info(`${ns.toUpperCase()}_EVENTS`);
    const c = await jsm.consumers.info(`${ns.toUpperCase()}_EVENTS`, `${ns}-processor`);
    return c.ack_floor.stream_seq >= s.state.last_seq && c.num_pending === 0 && c.num_ack_pending === 0 ? true : undefined;
  }, 45_000, 'the processor to catch up');
}

async function sql(query: string): Promise<string> {
  const r = await runCli(['sql', query], pulse.env);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** count() and uniqExact(message_id) of a tenant's rows in ClickHouse. */
async function warehouseCounts(tenant: string): Promise<{ rows: number; unique: number }> {
  const out = await sql(`SELECT count() AS n, uniqExact(message_id) AS u FROM ${ns}.events WHERE tenant = '${tenant}'`);
  const m = /\n-[-+]+\s*\n(\d+)\s+\|\s+(\d+)/.exec(out);
  if (m === null) throw new Error(`unexpected sql output: ${out}`);
  return { rows: Number(m[1]), unique: Number(m[2]) };
}

async function purchaseCounts(tenant: string): Promise<number[]> {
  const c = grpcClients(pulse.grpcPort);
  try {
    const key = bearer(`${ADMIN}-${TENANTS.indexOf(tenant)}`);
    const counts: number[] = [];
    for (let u = 0; u < USERS; u++) {
      const p = await c.getProfile({ identifiers: [{ type: 'user_id', id: `c-${u}` }] }, key).catch(() => undefined);
      counts.push(Number(p?.eventCounts['Store Purchase'] ?? 0));
    }
    return counts;
  } finally {
    c.close();
  }
}

function rejects(path: string): RejectedRow[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as RejectedRow);
}

void t.test('a CRM export becomes profiles with typed, hashed traits (CLI, CSV)', async (t) => {
  const file = join(dir.path, 'crm.csv');
  writeFileSync(file, [
    'customer_id,Email,plan,lifetime_value,newsletter,updated_at',
    'C-1,  Ann@Example.com ,pro,1234.50,yes,2024-03-01 10:00:00',
    'C-2,bob@example.com,free,oops,no,2024-03-02 11:00:00',
    'C-3,carl@example.com,Free,0,no,2024-03-03 12:00:00',
  ].join('\n'));
  const map = join(dir.path, 'crm-mapping.json');
  writeFileSync(map, JSON.stringify({
    type: 'identify', userId: 'customer_id', timestamp: 'updated_at',
    traits: { email: 'Email', plan: { column: 'plan', as: 'lowercase' }, ltv: { column: 'lifetime_value', as: 'number' }, newsletter: { column: 'newsletter', as: 'boolean' } },
    context: { channel: 'offline' },
  }));
  const run = await runCli(['import', file, '--tenant', 'crm', '--mapping', map], pulse.env);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /imported 3 rows in [\d.]+ s \(\d+ rows\/s\), 2 accepted, 1 rejected \(see .*crm\.csv\.rejects\.ndjson\)/);
  t.same(rejects(`${file}.rejects.ndjson`), [{
    row: 2, field: 'traits.ltv', reason: 'traits.ltv: column "lifetime_value": "oops" is not a number',
    record: { customer_id: 'C-2', Email: 'bob@example.com', plan: 'free', lifetime_value: 'oops', newsletter: 'no', updated_at: '2024-03-02 11:00:00' },
  }], 'the refused row is in the rejects file with its number, reason and content');

  await settled();
  const c = grpcClients(pulse.grpcPort);
  t.teardown(() => c.close());
  const profile = await c.getProfile({ identifiers: [{ type: 'user_id', id: 'C-1' }] }, bearer(`${ADMIN}-0`));
  const traits = Object.fromEntries(Object.entries(profile.traits?.fields ?? {}).map(([k, v]) => [k, v.stringValue ?? v.numberValue ?? v.boolValue]));
  t.same(traits, { plan: 'pro', ltv: 1234.5, newsletter: true }, 'typed traits; the raw email is not stored');
  t.ok(profile.identifiers.some((i) => i.type === 'email_sha256'), 'the email became a hashed identifier');
  t.equal(profile.lastSeen?.seconds, String(Date.UTC(2024, 2, 1, 10) / 1000), 'updated_at is the event time (UTC)');
  t.equal((await warehouseCounts('crm')).rows, 2);

  const bad = join(dir.path, 'bad-mapping.json');
  writeFileSync(bad, JSON.stringify({ type: 'identify', traits: { ltv: { column: 'lifetime_value', as: 'numbr' }, plan: 7 } }));
  const refused = await runCli(['import', file, '--tenant', 'crm', '--mapping', bad], pulse.env);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /is not a valid mapping:\n {2}- traits\.ltv\.as\.0: unknown transform "numbr".*\n {2}- traits\.plan: must be a column name.*\n {2}- userId: map at least one identifier/, 'every mapping problem at once');
  const copy = join(dir.path, 'crm-copy.csv');
  writeFileSync(copy, readFileSync(file));
  await t.rejects(importFile({ file: copy, tenant: 'crm', mapping: mapping({ type: 'identify', userId: 'customer_id', traits: { tier: 'Tier', city: 'City' } }), publisher: natsEventPublisher(nc, ns, { ackTimeoutMs: 10_000 }) }), {
    code: 'INVALID_ARGUMENT', message: /^mapping: the CSV has no column "Tier", "City" \(its columns: "customer_id", "Email"/,
  }, 'columns missing from the CSV header stop the import before anything is sent');
  t.equal((await warehouseCounts('crm')).rows, 2, 'nothing more was imported');
});

void t.test('10,000 CSV purchases (gzip): each row once, refused rows in the rejects file, a re-run imports nothing twice', async (t) => {
  const file = join(dir.path, 'purchases.csv.gz');
  writeFileSync(file, gzipSync(purchasesCsv(ROWS / 2)));
  const map = join(dir.path, 'purchases.json');
  writeFileSync(map, JSON.stringify({ type: 'track', event: { value: 'Store Purchase' }, userId: 'customer_id', timestamp: { column: 'ts', as: 'date' }, properties: { amount: { column: 'amount', as: 'number' }, store: 'store' }, context: { channel: 'offline' } }));
  const want = expected(ROWS / 2);

  const run = await runCli(['import', file, '--tenant', 'csv', '--mapping', map, '--rejects', join(dir.path, 'csv-rejects.ndjson')], pulse.env);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, new RegExp(`imported ${ROWS / 2} rows in [\\d.]+ s \\(\\d+ rows/s\\), ${want.accepted} accepted, ${want.refused.size} rejected`));
  const lines = rejects(join(dir.path, 'csv-rejects.ndjson'));
  t.same(lines.map((l) => [l.row, l.field]), [...want.refused].map(([row, field]) => [row, field]), 'every refused row once, in order, with the field');
  t.match(lines.find((l) => l.field === 'userId'), { reason: /userId: an event needs userId/, record: { customer_id: '' } }, 'validation (not only mapping) problems are there too');

  const again = await runCli(['import', file, '--tenant', 'csv', '--mapping', map], pulse.env);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, /was imported completely by an earlier run/);

  await settled();
  t.same(await warehouseCounts('csv'), { rows: want.accepted, unique: want.accepted }, 'ClickHouse has one row per accepted row');
  t.same(await purchaseCounts('csv'), want.perUser, 'every profile counted each of its purchases once');
});

void t.test('an import of 20,000 rows killed mid-file (SIGKILL) resumes from its checkpoint and lands every row exactly once', async (t) => {
  const file = join(dir.path, 'killed.csv');
  writeFileSync(file, purchasesCsv(ROWS));
  const map = join(dir.path, 'killed.json');
  writeFileSync(map, JSON.stringify({ type: 'track', event: { value: 'Store Purchase' }, userId: 'customer_id', timestamp: { column: 'ts', as: 'date' }, properties: { amount: { column: 'amount', as: 'number' }, store: 'store' }, context: { channel: 'offline' } }));
  const checkpointPath = `${file}.pulse-import.json`;
  const want = expected(ROWS);

  const child = spawn(process.execPath, [BIN, 'import', file, '--tenant', 'killed', '--mapping', map], { env: pulse.env, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  // Killed the moment the first checkpoint appears: some batches acked, most of the file to go.
  const watcher = watch(dir.path, (_event, name) => {
    if (name === 'killed.csv.pulse-import.json') child.kill('SIGKILL');
  });
  t.equal(await exited, 'SIGKILL', 'the import was killed');
  watcher.close();
  const atKill = JSON.parse(readFileSync(checkpointPath, 'utf8')) as Checkpoint;
  t.ok(atKill.rowsDone > 0 && atKill.rowsDone < ROWS && !atKill.completed, `killed mid-file: rows 1-${atKill.rowsDone} acknowledged`);

  const resumed = await runCli(['import', file, '--tenant', 'killed', '--mapping', map], pulse.env);
  t.equal(resumed.code, 0, resumed.stderr);
  t.match(resumed.stdout, new RegExp(`resuming from row ${atKill.rowsDone + 1}: rows 1-${atKill.rowsDone} were imported by an earlier run`));
  t.match(resumed.stdout, new RegExp(`imported ${ROWS - atKill.rowsDone} rows .* ${atKill.rowsDone} skipped \\(already imported\\)`));
  const done = JSON.parse(readFileSync(checkpointPath, 'utf8')) as Checkpoint;
  t.match(done, { rowsDone: ROWS, accepted: want.accepted, rejected: want.refused.size, completed: true }, 'the checkpoint adds up over both runs');
  t.same(rejects(`${file}.rejects.ndjson`).map((l) => l.row), [...want.refused.keys()], 'no refused row written twice');

  await settled();
  t.same(await warehouseCounts('killed'), { rows: want.accepted, unique: want.accepted }, 'ClickHouse has every accepted row exactly once');
  t.same(await purchaseCounts('killed'), want.perUser, 'profiles counted every purchase exactly once');
});

void t.test('10,000 NDJSON rows (gzip) through the library: bad lines refused, an aborted run resumed, a changed mapping refused', async (t) => {
  const file = join(dir.path, 'purchases.ndjson.gz');
  const unreadable = (i: number) => i % 2500 === 0;
  const lines: string[] = [];
  for (let i = 1; i <= ROWS / 2; i++) {
    const { row } = purchase(i);
    lines.push(unreadable(i) ? `{"customer_id": "c-${i % USERS}", "amount": ` : JSON.stringify({ ...row, amount: Number(row['amount']) || row['amount'] }));
  }
  writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  const want = expected(ROWS / 2, unreadable);
  const publisher = natsEventPublisher(nc, ns, { ackTimeoutMs: 10_000 });
  const abort = new AbortController();
  let batches = 0;

  const first = await importFile({
    file, tenant: 'ndjson', mapping: PURCHASES, publisher, signal: abort.signal, batchSize: 250, concurrency: 2,
    onProgress: () => { if (++batches === 6) abort.abort(); },
  });
  t.match(first, { completed: false, skipped: 0 }, 'the abort stopped the import');
  t.ok(first.rows < ROWS / 2, `stopped after ${first.rows} rows`);

  await t.rejects(importFile({ file, tenant: 'ndjson', mapping: mapping({ type: 'track', event: { value: 'Store Purchase' }, userId: 'customer_id' }), publisher }),
    { code: 'FAILED_PRECONDITION', message: /written by an import of this file with another mapping/ }, 'a resume with another mapping is refused');

  let start: { resumeFrom: number } | undefined;
  const second = await importFile({ file, tenant: 'ndjson', mapping: PURCHASES, publisher, onStart: (s) => { start = s; } });
  t.equal(start?.resumeFrom, first.rows, 'the second run starts after the rows the first one had acknowledged');
  t.match(second, { completed: true, skipped: first.rows, rows: ROWS / 2 });
  t.equal(first.accepted + second.accepted, want.accepted);
  const refused = rejects(`${file}.rejects.ndjson`);
  t.same(refused.map((l) => l.row), [...want.refused.keys()]);
  t.match(refused.find((l) => l.field === 'row'), { row: 2500, record: null, reason: /not valid JSON/ }, 'an unparseable line is refused with its number');

  await settled();
  t.same(await warehouseCounts('ndjson'), { rows: want.accepted, unique: want.accepted });
  t.same(await purchaseCounts('ndjson'), want.perUser);
});
