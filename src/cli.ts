import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { readOnlyProblem } from './warehouse/schema.ts';
import { openWarehouse, ROLES, startPulse, type Role } from './main.ts';
import { jetstream } from '@nats-io/jetstream';

const USAGE = `pulse <command>

  start [--role all|processor|api]   run Pulse (default: every role in one process)
  stack up                           make sure NATS and Redis answer on 127.0.0.1 (start local ones if not)
  sql "<SELECT ...>"                 run a read-only query on the warehouse and print a table
  send --tenant T '<event JSON>'     publish one Segment-spec event (or {"batch": [...]}) to NATS
  lookup --type T --id ID            GetAudience for one identifier through gRPC
  segments list | create [--id ID] --name N --rule '<JSON>' | delete --id ID

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
    `  HTTP        http://${config.host}:${pulse.httpPort}  (/healthz, /metrics, POST /v1/sql)`,
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
    const warehouse = openWarehouse(config);
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

type ServiceName = 'TargetingService' | 'SegmentService';

/** One unary call to the running instance with the first local key that has `scope`; prints the JSON answer. */
async function grpcCall(config: Config, command: string, service: ServiceName, method: string, request: object, scope: string): Promise<number> {
  const key = adminKey(resolveKeys(config, false), scope);
  const Client = loadPulseGrpc().pulse.v1[service] as unknown as grpc.ServiceClientConstructor;
  const client = new Client(`${config.host}:${config.grpcPort}`, grpc.credentials.createInsecure());
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

/** Entry point of the `pulse` command. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true, strict: true,
    options: {
      role: { type: 'string' }, tenant: { type: 'string' }, type: { type: 'string' }, id: { type: 'string' }, name: { type: 'string' }, rule: { type: 'string' },
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
      case 'segments':
        if (rest[0] === 'list') return await grpcCall(config, 'segments list', 'SegmentService', 'ListSegments', {}, 'segments:read');
        if (rest[0] === 'create' && values.name !== undefined && values.rule !== undefined) {
          return await grpcCall(config, 'segments create', 'SegmentService', 'CreateSegment', { id: values.id ?? '', name: values.name, rule: values.rule }, 'segments:write');
        }
        if (rest[0] === 'delete' && values.id !== undefined) return await grpcCall(config, 'segments delete', 'SegmentService', 'DeleteSegment', { id: values.id }, 'segments:write');
        break;
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
