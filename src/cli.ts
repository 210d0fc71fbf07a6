import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { generateKey, parseApiKeys, TENANT_PATTERN, type ApiKey } from './auth/keys.ts';
import { ConfigError, loadConfig, type Config } from './config/config.ts';
import { createLogger } from './infra/log.ts';
import { connectNats, streamNames } from './infra/nats.ts';
import { ensureLocalServer, StackError } from './infra/local-stack.ts';
import { loadPulseGrpc } from './infra/proto.ts';
import type { BackfillStatus__Output } from './gen/pulse/v1/BackfillStatus.ts';
import { readOnlyProblem } from './warehouse/schema.ts';
import { openWarehouse, ROLES, startPulse, type Role } from './main.ts';
import { jetstream } from '@nats-io/jetstream';
import { Presets, SingleBar } from 'cli-progress';
import { listDeadLetters, replayDeadLetters } from './collection/dlq-admin.ts';
import { describeSummary, importFile } from './collection/import.ts';
import { parseMapping } from './collection/mapping.ts';
import { natsEventPublisher } from './collection/publisher.nats.ts';
import { PulseError } from './errors.ts';
import { parseApiSource, type ConnectorDefinition } from './collection/connectors/model.ts';
import { ConnectorRunner } from './collection/connectors/runner.ts';
import { RedisConnectorStore } from './collection/connectors/state.redis.ts';
import type { StoredConnector } from './collection/connectors/store.ts';
import { parseTimestamp } from './collection/event.ts';
import { readRecords } from './collection/records.ts';
import { parseTaxonomyMap, type TaxonomyMap } from './collection/taxonomy.ts';
import { apiRecords, importThirdParty, type ThirdPartyReport } from './collection/third-party.ts';
import { parseIdentifierKey } from './identity/identifier.ts';
import { createMetrics } from './infra/metrics.ts';
import { connectRedis } from './infra/redis.ts';
import { migrateRedisLayout, type MigrationReport } from './profiles/migrate-layout.ts';

const USAGE = `pulse <command>

  start [--role all|processor|api]   run Pulse (default: every role in one process)
  stack up                           make sure NATS and Redis answer on 127.0.0.1 (start local ones if not)
  sql "<SELECT ...>"                 run a read-only query on the warehouse and print a table
  send --tenant T '<event JSON>'     publish one Segment-spec event (or {"batch": [...]}) to NATS
  lookup --type T --id ID            GetAudience for one identifier through gRPC
  segments list | create [--id ID] --name N --rule '<JSON>' | delete --id ID
  segments update --id ID [--name N] [--rule R] | versions --id ID
  segments validate --rule R          problems with their place, and the rule's JSON and text forms
  segments estimate (--rule R | --id ID)   size from a random sample, with a 95% interval
  segments explain --id ID (--profile PID | --identifier TYPE:ID)   which conditions held, with values
  segments backfill --id ID           follows the segment's backfill until it ends
  profiles unmerge --identifier TYPE:ID --split TYPE:ID[,TYPE:ID...] [--allow-partial-history]
                                     split identifiers off a wrongly merged profile; both sides are rebuilt from their events
  sharing set --partner P (--segments a,b | --all)   which segments a partner may receive (recorded in sharing_audit)
  sharing list | taxonomy --segment S --taxonomy NODE  agreements; map a segment to an IAB Audience Taxonomy node ('' removes)
  import <file> --tenant T --mapping M.json [--rejects PATH]
                                     import a CSV or NDJSON file (gzip too), each row mapped to an event; resumes where it stopped
  dlq list [--tenant T] [--limit N]  show dead letters: sequence, tenant, time, reason, field, short body preview
  dlq replay [--tenant T] (--seq N | --all)
                                     republish dead letters to the events stream (still-invalid ones come back to the DLQ)
  connectors status [--id ID]        partner connectors (PULSE_CONNECTORS): last run, rows, errors, next run, cursor
  connectors run <id>                run one connector now (waits for it; one run at a time across processes)
  thirdparty import (<file> | --api SOURCE.json) --tenant T --provider P --taxonomy MAP.json [--id-type TYPE] [--as-of DATE]
                                     map a third-party audience data set (CSV/NDJSON, gzip too, or a paginated API) onto a taxonomy
  report ssp --from DATE --to DATE   SSP performance by SSP, placement and UTC day over [from, to): requests, bids, wins, fill rate, eCPM, win rate
  migrate redis-layout --tenant T [--dry-run] [--cleanup]
                                     move a tenant's Redis data to the per-profile layout, offline (its ingest pauses meanwhile);
                                     run again if interrupted; --cleanup then removes the old keys

Configuration comes from PULSE_* variables (see README).`;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Keys from PULSE_API_KEYS, else the data dir's generated key file (created when `create`). */
function resolveKeys(config: Config, create: boolean): ApiKey[] | undefined {
  if (config.apiKeys !== undefined) return [...config.apiKeys];
  const file = join(config.dataDir, 'api-keys.json');
  if (existsSync(file)) {
    const parsed = parseApiKeys(readFileSync(file, 'utf8'));
    if (!parsed.ok) throw new ConfigError(parsed.problems.map((p) => `${file}: ${p}`));
    return parsed.keys;
  }
  if (!create) return undefined;
  const keys: ApiKey[] = [{ key: generateKey(), tenant: 'default', scopes: ['*'] }];
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  print(`created an admin key for tenant "default" in ${file}:\n  ${keys[0]?.key}`);
  return keys;
}

function adminKey(keys: readonly ApiKey[] | undefined, scope: string): ApiKey | undefined {
  return keys?.find((k) => k.scopes.includes('*') || k.scopes.includes(scope as never));
}

async function ensureStack(config: Config, keepRunning: boolean): Promise<void> {
  const log = (line: string) => print(line);
  for (const [kind, url, defaulted] of [['nats', config.natsUrl, config.natsDefaulted], ['redis', config.redisUrl, config.redisDefaulted]] as const) {
    // A cluster is never started here: its nodes are operated elsewhere.
    if (kind === 'redis' && config.redisCluster) continue;
    const u = new URL(url);
    const local = ['127.0.0.1', 'localhost'].includes(u.hostname);
    if (!defaulted && !local) continue;
    const child = await ensureLocalServer(kind, Number(u.port || (kind === 'nats' ? 4222 : 6379)), config.dataDir, { keepRunning, log });
    if (child && !keepRunning) {
      const stop = () => child.kill('SIGTERM');
      process.once('exit', stop);
    }
  }
}

async function start(config: Config, role: Role): Promise<void> {
  await ensureStack(config, false);
  const keys = resolveKeys(config, true) ?? [];
  const log = createLogger(config.logLevel);
  const pulse = await startPulse(config, keys, role, log);
  print([
    `Pulse is running (role ${role}, namespace ${config.namespace})`,
    `  NATS        ${config.natsUrl}  stream ${streamNames(config.namespace).events}, publish to ${config.namespace}.events.<tenant>`,
    `  Redis       ${config.redisUrl}`,
    `  ClickHouse  ${config.clickhouseUrl ?? `embedded (chdb) in ${join(config.dataDir, 'warehouse')}`}, database ${config.namespace}`,
    pulse.grpcPort === undefined ? '  gRPC        (not in this role)' : `  gRPC        ${config.host}:${pulse.grpcPort}  (health + reflection on)`,
    `  HTTP        ${config.tls === undefined ? 'http' : 'https'}://${config.host}:${pulse.httpPort}  (${role === 'processor' ? '' : 'Segment-compatible POST /v1/{track,identify,page,screen,group,alias,batch}, '}/healthz, /metrics, POST /v1/sql)`,
    `  API keys    ${config.apiKeys === undefined ? join(config.dataDir, 'api-keys.json') : 'from PULSE_API_KEYS'}`,
  ].join('\n'));
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining');
    const hard = setTimeout(() => { log.error('drain took longer than 9 s; exiting'); process.exit(1); }, 9_000);
    pulse.stop().then(() => { clearTimeout(hard); print('Pulse stopped'); process.exit(0); }, (err: unknown) => {
      log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(0 rows)';
  const columns = Object.keys(rows[0] ?? {});
  const cell = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (values: string[]) => values.map((v, i) => (v.length > (widths[i] ?? 0) ? `${v.slice(0, (widths[i] ?? 1) - 1)}…` : v.padEnd(widths[i] ?? 0))).join(' | ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(columns.map((c) => cell(r[c])))), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}

async function sql(config: Config, query: string): Promise<number> {
  const problem = readOnlyProblem(query);
  if (problem !== undefined) {
    process.stderr.write(`pulse sql: ${problem}\n`);
    return 2;
  }
  // The embedded warehouse belongs to the running process: ask it over HTTP when it answers.
  const key = adminKey(resolveKeys(config, false), 'warehouse:read');
  let rows: Record<string, unknown>[] | undefined;
  try {
    const res = await fetch(`http://${config.host}:${config.httpPort}/v1/sql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key?.key ?? ''}` }, body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as { rows?: Record<string, unknown>[]; error?: { message: string } };
    if (!res.ok) {
      process.stderr.write(`pulse sql: ${body.error?.message ?? res.statusText}\n`);
      return 1;
    }
    rows = body.rows ?? [];
  } catch {
    const warehouse = await openWarehouse(config);
    try {
      rows = await warehouse.query(query);
    } catch (err) {
      process.stderr.write(`pulse sql: ${(err as Error).message}\n`);
      return 1;
    } finally {
      await warehouse.close();
    }
  }
  print(formatTable(rows));
  return 0;
}

async function send(config: Config, tenant: string, json: string): Promise<number> {
  let event: { messageId?: unknown };
  try {
    event = JSON.parse(json) as { messageId?: unknown };
  } catch (err) {
    process.stderr.write(`pulse send: not valid JSON: ${(err as Error).message}\n`);
    return 2;
  }
  if (typeof event !== 'object' || event === null) {
    process.stderr.write('pulse send: the event must be a JSON object\n');
    return 2;
  }
  if (!TENANT_PATTERN.test(tenant)) {
    process.stderr.write(`pulse send: --tenant must match ${TENANT_PATTERN.source}\n`);
    return 2;
  }
  if (!('batch' in event) && event.messageId === undefined) event.messageId = randomUUID();
  const nc = await connectNats(config.natsUrl, 'pulse-cli');
  try {
    const ack = await jetstream(nc).publish(streamNames(config.namespace).eventsSubject(tenant), JSON.stringify(event), {
      ...(typeof event.messageId === 'string' ? { msgID: event.messageId } : {}),
    });
    print(`published to ${ack.stream} seq ${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}`);
  } finally {
    await nc.close();
  }
  return 0;
}

/**
 * How the CLI reaches the running instance: plaintext, or TLS when the instance serves gRPC over
 * TLS (PULSE_GRPC_TLS_*, read from the same environment). It trusts the instance's certificate and
 * PULSE_GRPC_TLS_CA; with mutual TLS it presents the instance's own certificate, which that CA
 * signed in the usual one-internal-CA set-up (a certificate of another CA is refused by the server,
 * and the command says so).
 */
function cliCredentials(config: Config): grpc.ChannelCredentials {
  const tls = config.grpcTls;
  if (tls === undefined) return grpc.credentials.createInsecure();
  const roots = Buffer.concat([tls.cert, Buffer.from('\n'), ...(tls.ca === undefined ? [] : [tls.ca])]);
  return tls.ca === undefined ? grpc.credentials.createSsl(roots) : grpc.credentials.createSsl(roots, tls.key, tls.cert);
}

type ServiceName = 'TargetingService' | 'SegmentService' | 'DataSharingService' | 'InventoryService' | 'ProfileService';

/** Follows a segment's backfill, one progress line at a time, until it is done or failed. */
async function backfillProgress(config: Config, id: string): Promise<number> {
  const key = adminKey(resolveKeys(config, false), 'segments:read');
  const Client = loadPulseGrpc().pulse.v1.SegmentService as unknown as grpc.ServiceClientConstructor;
  const client = new Client(`${config.host}:${config.grpcPort}`, cliCredentials(config));
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key?.key ?? ''}`);
  const status = (): Promise<BackfillStatus__Output> => new Promise((resolve, reject) => {
    (client as unknown as { GetBackfillStatus: (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: BackfillStatus__Output) => void) => void })
      .GetBackfillStatus({ id }, md, (err, res) => (err ? reject(err) : resolve(res)));
  });
  try {
    let last = '';
    for (;;) {
      const s = await status();
      const line = `${s.state} v${s.version}: ${s.profilesDone}/${s.profilesTotal} profiles, ${s.entered} entered, ${s.exited} exited${s.error === '' ? '' : ` (${s.error})`}`;
      if (line !== last) print(line);
      last = line;
      if (s.state === 'done') return 0;
      if (s.state === 'failed') return 1;
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    process.stderr.write(`pulse segments backfill: ${(err as grpc.ServiceError).details || (err as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}

/** One unary call to the running instance with the first local key that has `scope`; prints the JSON answer. */
async function grpcCall(config: Config, command: string, service: ServiceName, method: string, request: object, scope: string): Promise<number> {
  const key = adminKey(resolveKeys(config, false), scope);
  const Client = loadPulseGrpc().pulse.v1[service] as unknown as grpc.ServiceClientConstructor;
  const client = new Client(`${config.host}:${config.grpcPort}`, cliCredentials(config));
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key?.key ?? ''}`);
  const fn = (client as unknown as Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void>)[method];
  return new Promise((resolve) => {
    fn?.call(client, request, md, (err, res) => {
      client.close();
      if (err) {
        process.stderr.write(`pulse ${command}: ${err.details || err.message}\n`);
        resolve(1);
        return;
      }
      print(JSON.stringify(res, null, 2));
      resolve(0);
    });
  });
}

async function importCommand(config: Config, file: string, tenant: string, mappingPath: string, rejectsPath: string | undefined): Promise<number> {
  let text: string;
  try {
    text = readFileSync(mappingPath, 'utf8');
  } catch (err) {
    process.stderr.write(`pulse import: cannot read the mapping: ${(err as Error).message}\n`);
    return 2;
  }
  const parsed = parseMapping(text);
  if (!parsed.ok) {
    process.stderr.write(`pulse import: ${mappingPath} is not a valid mapping:\n  - ${parsed.problems.join('\n  - ')}\n`);
    return 2;
  }
  const nc = await connectNats(config.natsUrl, 'pulse-import');
  const bar = new SingleBar({ stream: process.stderr, hideCursor: true, format: '{bar} {percentage}% | {value}/{total} rows | {speed} rows/s | {accepted} accepted, {rejected} rejected' }, Presets.shades_classic);
  const started = Date.now();
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  try {
    const summary = await importFile({
      file, tenant, mapping: parsed.mapping, publisher: natsEventPublisher(nc, config.namespace, { ackTimeoutMs: 10_000 }), signal: abort.signal, normalize: config.normalize,
      ...(rejectsPath === undefined ? {} : { rejectsPath }),
      onStart: (s) => {
        if (s.checkpointIgnored !== undefined) print(`starting from the first row: ${s.checkpointIgnored}`);
        if (s.alreadyCompleted) print(`${file} was imported completely by an earlier run (delete ${file}.pulse-import.json to import it again)`);
        else if (s.resumeFrom > 0) print(`resuming from row ${s.resumeFrom + 1}: rows 1-${s.resumeFrom} were imported by an earlier run`);
        bar.start(s.estimatedRows, 0, { speed: 0, accepted: 0, rejected: 0 });
      },
      onProgress: (p) => {
        if (p.rows > bar.getTotal()) bar.setTotal(p.rows);
        bar.update(p.rows, { speed: Math.round(((p.rows - p.skipped) * 1000) / Math.max(1, Date.now() - started)), accepted: p.accepted, rejected: p.rejected });
      },
    });
    bar.stop();
    print(describeSummary(summary));
    return summary.completed ? 0 : 130;
  } catch (err) {
    bar.stop();
    if (!(err instanceof PulseError)) throw err;
    process.stderr.write(`pulse import: ${err.message}\n`);
    return err.code === 'UNAVAILABLE' ? 1 : 2;
  } finally {
    process.off('SIGINT', stop);
    await nc.close();
  }
}

async function dlqCommand(config: Config, sub: string | undefined, values: { tenant?: string | undefined; limit?: string | undefined; seq?: string | undefined; all?: boolean | undefined }): Promise<number | undefined> {
  const count = (raw: string | undefined, name: string) => {
    const n = raw === undefined ? undefined : Number(raw);
    if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new PulseError('INVALID_ARGUMENT', `--${name} must be a positive integer`, { field: name });
    return n;
  };
  if (sub !== 'list' && sub !== 'replay') return undefined;
  const tenant = values.tenant === undefined ? {} : { tenant: values.tenant };
  const nc = await connectNats(config.natsUrl, 'pulse-dlq');
  try {
    if (sub === 'list') {
      const { letters, total } = await listDeadLetters(nc, config.namespace, { ...tenant, limit: count(values.limit, 'limit') ?? 50 });
      print(formatTable(letters.map((l) => ({ seq: l.seq, tenant: l.tenant, time: l.time.toISOString(), reason: l.reason, field: l.field, body: l.preview }))));
      if (total > letters.length) print(`${total} dead letters in all; --limit shows more`);
      return 0;
    }
    const seq = count(values.seq, 'seq');
    const r = await replayDeadLetters(nc, config.namespace, { ...tenant, ...(seq === undefined ? {} : { seq }), all: values.all === true });
    print(`replayed ${r.replayed} dead letter${r.replayed === 1 ? '' : 's'} to ${config.namespace}.events.<tenant>; events still invalid come back to the DLQ with their reason (pulse dlq list)`);
    for (const s of r.skipped) print(`  left ${s.seq} in the DLQ: ${s.reason}`);
    return 0;
  } catch (err) {
    if (!(err instanceof PulseError)) throw err;
    process.stderr.write(`pulse dlq ${sub}: ${err.message}\n`);
    return err.code === 'UNAVAILABLE' ? 1 : 2;
  } finally {
    await nc.close();
  }
}

function connectorRow(def: ConnectorDefinition, stored: StoredConnector): Record<string, unknown> {
  const { state, status, nextRunAt } = stored;
  const time = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());
  const cursor = state.run !== undefined ? `resumes at ${JSON.stringify(state.run.position ?? 'first page')} (${state.run.pages} pages done)` : state.watermark === undefined ? '' : `since ${String(state.watermark)}`;
  return {
    connector: def.id, tenant: def.tenant, schedule: 'cron' in def.schedule ? def.schedule.cron : `every ${def.schedule.everySeconds} s`,
    state: status.running ? 'running' : 'idle', last_run: time(status.lastRunStartedAt), outcome: status.lastOutcome ?? 'never ran',
    accepted: status.accepted, rejected: status.rejected, pages: status.pages, retries: status.retries,
    next_run: time(nextRunAt), cursor, error: status.error ?? '',
  };
}

async function connectorsCommand(config: Config, sub: string | undefined, runId: string | undefined, showId: string | undefined): Promise<number | undefined> {
  if (sub !== 'status' && !(sub === 'run' && runId !== undefined)) return undefined;
  const wanted = sub === 'run' ? runId : showId;
  const defs = wanted === undefined ? config.connectors : config.connectors.filter((c) => c.id === wanted);
  if (defs.length === 0) {
    process.stderr.write(wanted === undefined ? 'no connectors are configured (PULSE_CONNECTORS)\n' : `no connector ${JSON.stringify(wanted)} in PULSE_CONNECTORS (known: ${config.connectors.map((c) => c.id).join(', ') || 'none'})\n`);
    return wanted === undefined ? 0 : 2;
  }
  const redis = await connectRedis({ url: config.redisUrl, cluster: config.redisCluster }, 'pulse-connectors');
  const store = new RedisConnectorStore(redis, config.namespace);
  try {
    if (sub === 'status') {
      const all = await Promise.all(defs.map(async (def) => ({ def, stored: await store.read(def.tenant, def.id) })));
      // One connector asked for by id: everything kept about it, recent rejections included.
      if (showId !== undefined) print(JSON.stringify(all.map(({ def, stored }) => ({ id: def.id, tenant: def.tenant, ...stored })), null, 2));
      else print(formatTable(all.map(({ def, stored }) => connectorRow(def, stored))));
      return 0;
    }
    const nc = await connectNats(config.natsUrl, 'pulse-connectors');
    const runner = new ConnectorRunner(defs, { publisher: natsEventPublisher(nc, config.namespace, { ackTimeoutMs: 10_000 }), normalize: config.normalize, store, log: createLogger('error'), metrics: createMetrics() });
    const stop = () => void runner.stop();
    process.once('SIGINT', stop);
    try {
      const r = await runner.runNow(defs[0]?.id ?? '');
      if (r.outcome === 'busy') {
        process.stderr.write(`pulse connectors run: ${r.connector} is running elsewhere; try again when it is done (pulse connectors status)\n`);
        return 1;
      }
      print(`${r.connector}: ${r.outcome}: ${r.accepted} accepted, ${r.rejected} rejected, ${r.pages} page${r.pages === 1 ? '' : 's'}, ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}${r.error === undefined ? '' : ` - ${r.error}`}`);
      return r.outcome === 'success' || r.outcome === 'partial' ? 0 : 1;
    } finally {
      process.off('SIGINT', stop);
      await nc.close();
    }
  } finally {
    await redis.quit();
  }
}

function describeThirdParty(r: ThirdPartyReport, taxonomy: TaxonomyMap): string {
  const lines = [
    `${r.completed ? 'imported' : 'interrupted after'} ${r.records} records: ${r.published} people updated, ${r.skipped} with no mapped segment, ${r.invalid} invalid`,
    `unmapped segment ids: ${r.unmapped.occurrences} occurrences of ${r.unmapped.distinct} distinct ids${r.unmapped.top.length > 0 ? ` (most frequent: ${r.unmapped.top.slice(0, 10).map((u) => `${u.id} x${u.count}`).join(', ')})` : ''}`,
  ];
  const categories = Object.entries(r.categories).sort((a, b) => b[1] - a[1]);
  if (categories.length > 0) lines.push(`${taxonomy.taxonomy} categories set:`, ...categories.slice(0, 20).map(([id, n]) => `  ${id.padEnd(8)} ${String(n).padStart(8)}  ${taxonomy.categories[id] ?? ''}`));
  return lines.join('\n');
}

async function thirdPartyCommand(config: Config, sub: string | undefined, file: string | undefined, values: { tenant?: string | undefined; provider?: string | undefined; taxonomy?: string | undefined; api?: string | undefined; 'id-type'?: string | undefined; 'as-of'?: string | undefined }): Promise<number | undefined> {
  if (sub !== 'import' || values.tenant === undefined || values.provider === undefined || values.taxonomy === undefined || (file === undefined) === (values.api === undefined)) return undefined;
  const fail = (message: string) => {
    process.stderr.write(`pulse thirdparty import: ${message}\n`);
    return 2;
  };
  if (!TENANT_PATTERN.test(values.tenant)) return fail(`--tenant must match ${TENANT_PATTERN.source}`);
  const readText = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  const mapText = readText(values.taxonomy);
  if (mapText === undefined) return fail(`cannot read the taxonomy map ${values.taxonomy}`);
  const taxonomy = parseTaxonomyMap(mapText);
  if (!taxonomy.ok) return fail(`${values.taxonomy} is not a valid taxonomy map:\n  - ${taxonomy.problems.join('\n  - ')}`);
  let source: ReturnType<typeof parseApiSource> | undefined;
  if (values.api !== undefined) {
    const text = readText(values.api);
    if (text === undefined) return fail(`cannot read the API source ${values.api}`);
    source = parseApiSource(text, process.env);
    if (!source.ok) return fail(`${values.api} is not a valid API source:\n  - ${source.problems.join('\n  - ')}`);
  } else if (file !== undefined && !existsSync(file)) {
    return fail(`no such file: ${file}`);
  }
  // The data set's date orders its writes against other imports: a file's own time by default.
  const asOf = values['as-of'] !== undefined ? parseTimestamp(values['as-of']) : file !== undefined ? statSync(file).mtimeMs : Date.now();
  if (asOf === undefined) return fail('--as-of must be an ISO-8601 date or epoch number');
  const log = createLogger('error');
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  const nc = await connectNats(config.natsUrl, 'pulse-thirdparty');
  let lastProgress = Date.now();
  try {
    const records = source?.ok === true ? apiRecords(source.source, { log }, abort.signal) : readRecords(file ?? '');
    const report = await importThirdParty(records, {
      tenant: values.tenant, provider: values.provider, taxonomy: taxonomy.taxonomy, asOf: Math.round(asOf), log, signal: abort.signal,
      publisher: natsEventPublisher(nc, config.namespace, { ackTimeoutMs: 10_000 }),
      ...(values['id-type'] === undefined ? {} : { idType: values['id-type'] }),
      onProgress: (p) => {
        if (Date.now() - lastProgress < 2_000) return;
        lastProgress = Date.now();
        process.stderr.write(`${p.records} records read, ${p.published} people updated, ${p.invalid} invalid\n`);
      },
    });
    print(describeThirdParty(report, taxonomy.taxonomy));
    return report.completed ? 0 : 130;
  } catch (err) {
    if (!(err instanceof PulseError)) throw err;
    process.stderr.write(`pulse thirdparty import: ${err.message}\n`);
    return err.code === 'UNAVAILABLE' ? 1 : 2;
  } finally {
    process.off('SIGINT', stop);
    await nc.close();
  }
}

/** `pulse migrate redis-layout`: one tenant to the per-profile layout, with a progress bar per phase. */
async function migrateCommand(config: Config, tenant: string, dryRun: boolean, cleanup: boolean): Promise<number> {
  if (!TENANT_PATTERN.test(tenant)) throw new ConfigError([`--tenant must match ${TENANT_PATTERN.source}`]);
  const redis = await connectRedis({ url: config.redisUrl, cluster: config.redisCluster }, 'pulse-migrate');
  let bar: { phase: string; bar: SingleBar } | undefined;
  const stopBar = (): void => { bar?.bar.stop(); bar = undefined; };
  try {
    const r: MigrationReport = await migrateRedisLayout(redis, config.namespace, tenant, {
      dryRun, cleanup, buckets: config.redisBuckets,
      progress: (phase, done, total) => {
        if (bar?.phase !== phase) {
          stopBar();
          bar = { phase, bar: new SingleBar({ format: `${phase.padEnd(11)} [{bar}] {value}/{total}` }, Presets.shades_classic) };
          bar.bar.start(total, 0);
        }
        bar.bar.setTotal(total);
        bar.bar.update(done);
      },
    });
    stopBar();
    print(`${tenant}: ${r.outcome}: ${r.profiles} profiles, ${r.tombstones} merged away, ${r.identifiers} identifiers, ${r.syncs} id syncs, ${r.identifierImpressions} identifier impression sets, `
      + `${r.dedup.moved} de-dup entries (${r.dedup.dropped} lapsed), ${r.buckets} buckets, ${r.sampled} profiles compared${r.removed > 0 ? `, ${r.removed} old keys removed` : ''}`);
    for (const [id, c] of Object.entries(r.segments)) print(`  segment ${id}: ${c.v1} members before, ${c.v2} after`);
    for (const p of r.problems) process.stderr.write(`  ${p}\n`);
    if (r.outcome === 'failed') process.stderr.write(`pulse migrate: the verification failed; ${tenant} stays paused (state migrating) until a run passes\n`);
    return r.outcome === 'failed' ? 1 : 0;
  } finally {
    stopBar();
    await redis.quit();
  }
}

/** Entry point of the `pulse` command. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: {
      partner: { type: 'string' }, segments: { type: 'string' }, segment: { type: 'string' },
      role: { type: 'string' }, tenant: { type: 'string' }, type: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, rule: { type: 'string' }, profile: { type: 'string' }, identifier: { type: 'string' },
      mapping: { type: 'string' }, rejects: { type: 'string' }, limit: { type: 'string' }, seq: { type: 'string' }, all: { type: 'boolean' },
      provider: { type: 'string' }, taxonomy: { type: 'string' }, api: { type: 'string' }, 'id-type': { type: 'string' }, 'as-of': { type: 'string' },
      from: { type: 'string' }, to: { type: 'string' }, split: { type: 'string' }, 'allow-partial-history': { type: 'boolean' },
      'dry-run': { type: 'boolean' }, cleanup: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined) {
    print(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  try {
    switch (command) {
      case 'start': {
        const role = (values.role ?? 'all') as Role;
        if (!ROLES.includes(role)) throw new ConfigError([`--role must be one of ${ROLES.join(', ')}`]);
        await start(config, role);
        return -1;
      }
      case 'stack':
        if (rest[0] !== 'up') break;
        await ensureStack(config, true);
        return 0;
      case 'sql':
        if (rest.length !== 1 || rest[0] === undefined) break;
        return await sql(config, rest[0]);
      case 'send':
        if (values.tenant === undefined || rest[0] === undefined) break;
        return await send(config, values.tenant, rest[0]);
      case 'lookup':
        if (values.type === undefined || values.id === undefined) break;
        return await grpcCall(config, 'lookup', 'TargetingService', 'GetAudience', { identifiers: [{ type: values.type, id: values.id }] }, 'targeting:read');
      case 'sharing':
        if (rest[0] === 'list') return await grpcCall(config, 'sharing list', 'DataSharingService', 'ListSharing', {}, 'admin');
        if (rest[0] === 'set' && values.partner !== undefined && (values.all === true) !== (values.segments !== undefined)) {
          const segmentIds = values.segments?.split(',').map((x) => x.trim()).filter((x) => x !== '') ?? [];
          return await grpcCall(config, 'sharing set', 'DataSharingService', 'SetSharing', { partner: values.partner, all: values.all === true, segmentIds }, 'admin');
        }
        if (rest[0] === 'taxonomy' && values.segment !== undefined && values.taxonomy !== undefined) {
          return await grpcCall(config, 'sharing taxonomy', 'DataSharingService', 'SetSegmentTaxonomy', { segmentId: values.segment, taxonomyId: values.taxonomy }, 'admin');
        }
        break;
      case 'segments':
        if (rest[0] === 'list') return await grpcCall(config, 'segments list', 'SegmentService', 'ListSegments', {}, 'segments:read');
        if (rest[0] === 'create' && values.name !== undefined && values.rule !== undefined) {
          return await grpcCall(config, 'segments create', 'SegmentService', 'CreateSegment', { id: values.id ?? '', name: values.name, rule: values.rule }, 'segments:write');
        }
        if (rest[0] === 'delete' && values.id !== undefined) return await grpcCall(config, 'segments delete', 'SegmentService', 'DeleteSegment', { id: values.id }, 'segments:write');
        if (rest[0] === 'update' && values.id !== undefined) {
          return await grpcCall(config, 'segments update', 'SegmentService', 'UpdateSegment', { id: values.id, name: values.name ?? '', rule: values.rule ?? '' }, 'segments:write');
        }
        if (rest[0] === 'versions' && values.id !== undefined) return await grpcCall(config, 'segments versions', 'SegmentService', 'ListSegmentVersions', { id: values.id }, 'segments:read');
        if (rest[0] === 'validate' && values.rule !== undefined) return await grpcCall(config, 'segments validate', 'SegmentService', 'ValidateRule', { rule: values.rule, id: values.id ?? '' }, 'segments:read');
        if (rest[0] === 'estimate' && (values.rule !== undefined || values.id !== undefined)) {
          return await grpcCall(config, 'segments estimate', 'SegmentService', 'EstimateSegment', { rule: values.rule ?? '', id: values.id ?? '' }, 'segments:read');
        }
        if (rest[0] === 'explain' && values.id !== undefined && (values.profile !== undefined || values.identifier !== undefined)) {
          const [type = '', ...idParts] = (values.identifier ?? '').split(':');
          const identifiers = values.identifier === undefined ? [] : [{ type, id: idParts.join(':') }];
          return await grpcCall(config, 'segments explain', 'SegmentService', 'ExplainSegment', { id: values.id, profileId: values.profile ?? '', identifiers }, 'segments:read');
        }
        if (rest[0] === 'backfill' && values.id !== undefined) return await backfillProgress(config, values.id);
        break;
      case 'profiles':
        if (rest[0] === 'unmerge' && values.identifier !== undefined && values.split !== undefined) {
          return await grpcCall(config, 'profiles unmerge', 'ProfileService', 'UnmergeProfile', {
            identifiers: [parseIdentifierKey(values.identifier)], split: values.split.split(',').map((s) => parseIdentifierKey(s.trim())),
            allowPartialHistory: values['allow-partial-history'] === true,
          }, 'profiles:write');
        }
        break;
      case 'import':
        if (rest.length !== 1 || rest[0] === undefined || values.tenant === undefined || values.mapping === undefined) break;
        return await importCommand(config, rest[0], values.tenant, values.mapping, values.rejects);
      case 'connectors': {
        const code = await connectorsCommand(config, rest[0], rest[1], values.id);
        if (code === undefined) break;
        return code;
      }
      case 'thirdparty': {
        const code = await thirdPartyCommand(config, rest[0], rest[1], values);
        if (code === undefined) break;
        return code;
      }
      case 'report': {
        if (rest[0] !== 'ssp' || values.from === undefined || values.to === undefined) break;
        // ISO-8601 dates; a date without a time is midnight UTC.
        const [from, to] = [Date.parse(values.from), Date.parse(values.to)];
        if (Number.isNaN(from) || Number.isNaN(to)) {
          process.stderr.write('pulse report ssp: --from and --to must be ISO-8601 dates, e.g. 2026-11-01\n');
          return 2;
        }
        const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
        return await grpcCall(config, 'report ssp', 'InventoryService', 'SspReport', { from: ts(from), to: ts(to) }, 'inventory:write');
      }
      case 'migrate':
        if (rest[0] !== 'redis-layout' || values.tenant === undefined) break;
        return await migrateCommand(config, values.tenant, values['dry-run'] === true, values.cleanup === true);
      case 'dlq': {
        const code = await dlqCommand(config, rest[0], values);
        if (code === undefined) break;
        return code;
      }
    }
  } catch (err) {
    if (err instanceof StackError || err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
