import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import { z } from 'zod';
import { TENANT_PATTERN } from '../../auth/keys.ts';
import type { Json, JsonObject } from '../../json.ts';
import type { EventProblem } from '../event.ts';
import { parseTimestamp } from '../event.ts';
import { compileMapping, mapRecord, type Mapping } from '../mapping.ts';

/** Connector ids become parts of Redis keys and metric labels. */
export const CONNECTOR_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A secret given inline or, better, as the name of an environment variable holding it. */
const secretSchema = z.union([z.string().min(1), z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not a variable name') })]);
type SecretSpec = z.output<typeof secretSchema>;

const httpUrl = z.string().refine((s) => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s) URL');

const paramName = z.string().min(1).max(128);

const scheduleSchema = z.union([
  z.strictObject({ cron: z.string().min(1), timezone: z.string().min(1).optional() }),
  z.strictObject({ everySeconds: z.number().int().min(1).max(31 * 24 * 3600) }),
]);

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: secretSchema }),
  z.strictObject({ type: z.literal('basic'), username: z.string().min(1), password: secretSchema }),
  z.strictObject({
    type: z.literal('oauth2_client_credentials'),
    tokenUrl: httpUrl,
    clientId: z.string().min(1),
    clientSecret: secretSchema,
    scope: z.string().min(1).optional(),
    /** RFC 6749 2.3.1: HTTP Basic (recommended) or the client id and secret in the form body. */
    clientAuth: z.enum(['basic', 'body']).default('basic'),
  }),
]);

const paginationSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('cursor'), cursorPath: z.string().min(1), param: paramName }),
  z.strictObject({ type: z.literal('page'), param: paramName, start: z.number().int().min(0).default(1), sizeParam: paramName.optional(), size: z.number().int().min(1).max(100_000).optional() }),
  z.strictObject({ type: z.literal('offset'), offsetParam: paramName.default('offset'), limitParam: paramName.default('limit'), limit: z.number().int().min(1).max(100_000) }),
]);

const retrySchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(20).default(5),
  baseDelayMs: z.number().int().min(0).max(60_000).default(500),
  maxDelayMs: z.number().int().min(0).max(600_000).default(30_000),
  /** A Retry-After longer than this fails the run instead of stalling it. */
  maxRetryAfterMs: z.number().int().min(0).max(3_600_000).default(300_000),
});

/** Where records come from: an HTTP JSON API, its auth, pagination and retry policy. */
const apiSourceShape = {
  request: z.strictObject({
    url: httpUrl,
    method: z.enum(['GET', 'POST']).default('GET'),
    query: z.record(paramName, z.string()).default({}),
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'not a header name'), secretSchema).default({}),
    /** A JSON body for POST APIs; pagination parameters always travel in the query. */
    body: z.record(z.string(), z.json()).optional(),
    timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  }),
  auth: authSchema.default({ type: 'none' }),
  pagination: paginationSchema.default({ type: 'none' }),
  /** Where the array of records is in a response body ("" when the body is the array). */
  recordsPath: z.string().default(''),
  retry: retrySchema.default({ maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 }),
  /** Pages one run fetches at most; the next run continues where this one stopped. */
  maxPagesPerRun: z.number().int().min(1).max(1_000_000).default(10_000),
};

const connectorSchema = z.strictObject({
  id: z.string().regex(CONNECTOR_ID_PATTERN, `must match ${CONNECTOR_ID_PATTERN.source}`),
  tenant: z.string().regex(TENANT_PATTERN, `must match ${TENANT_PATTERN.source}`),
  schedule: scheduleSchema,
  ...apiSourceShape,
  /** Incremental sync: the request parameter that asks for records changed since the watermark. */
  incremental: z.strictObject({
    param: paramName,
    /** The record field whose largest value becomes the next watermark (e.g. updated_at). */
    field: z.string().min(1),
    initial: z.union([z.string(), z.number()]).optional(),
  }).optional(),
  /** Where the record's id is (a path such as `id` or `user.id`): part of the messageId. */
  recordId: z.string().min(1),
  /** What changes when the record does (default: the incremental field): part of the messageId. */
  version: z.string().min(1).optional(),
  /** The shared file-import mapping; nested fields are addressed as dotted column names. */
  mapping: z.unknown(),
});

const apiSourceSchema = z.strictObject({ id: z.string().regex(CONNECTOR_ID_PATTERN, `must match ${CONNECTOR_ID_PATTERN.source}`), ...apiSourceShape });

type ConnectorSpec = z.output<typeof connectorSchema>;
type ApiSourceSpec = z.output<typeof apiSourceSchema>;
export type Schedule = z.output<typeof scheduleSchema>;
export type Pagination = z.output<typeof paginationSchema>;
export type RetryPolicy = z.output<typeof retrySchema>;

/** Authentication with its secrets resolved. */
export type ConnectorAuth =
  | { readonly type: 'none' }
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string }
  | {
    readonly type: 'oauth2_client_credentials'; readonly tokenUrl: string; readonly clientId: string; readonly clientSecret: string;
    readonly scope: string | undefined; readonly clientAuth: 'basic' | 'body';
  };

/** A paginated HTTP JSON API with its secrets resolved: what connectors and bulk imports read. */
export interface ApiSource {
  readonly id: string;
  readonly request: {
    readonly url: string;
    readonly method: 'GET' | 'POST';
    readonly query: Readonly<Record<string, string>>;
    readonly headers: Readonly<Record<string, string>>;
    readonly body: Readonly<Record<string, Json>> | undefined;
    readonly timeoutMs: number;
  };
  readonly auth: ConnectorAuth;
  readonly pagination: Pagination;
  readonly recordsPath: string;
  readonly retry: RetryPolicy;
  readonly maxPagesPerRun: number;
}

/** A validated connector with its secrets resolved: what the runner executes. */
export interface ConnectorDefinition extends ApiSource {
  readonly tenant: string;
  readonly schedule: Schedule;
  readonly incremental: { readonly param: string; readonly field: string; readonly initial: string | number | undefined } | undefined;
  readonly recordId: string;
  readonly version: string | undefined;
  readonly mapping: Mapping;
}

function place(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('') || '(root)';
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

function parseJson(json: string): Parsed<unknown> {
  try {
    return { ok: true, value: JSON.parse(json) as unknown };
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
}

/** Resolves `{"env": NAME}` secrets, collecting a problem for each variable that is not set. */
function secretResolver(env: Readonly<Record<string, string | undefined>>, problems: string[], at: (p: string) => string) {
  return (s: SecretSpec, p: string): string => {
    if (typeof s === 'string') return s;
    const v = env[s.env];
    if (v === undefined || v === '') {
      problems.push(`${at(p)}: environment variable ${s.env} is not set`);
      return '';
    }
    return v;
  };
}

/**
 * Parses connector definitions (a JSON array) and resolves `{"env": NAME}` secrets from `env`.
 * Every problem is reported at once, each with its place (`[1].auth.tokenUrl: ...`).
 */
export function parseConnectors(json: string, env: Readonly<Record<string, string | undefined>>): { ok: true; connectors: ConnectorDefinition[] } | { ok: false; problems: string[] } {
  const data = parseJson(json);
  if (!data.ok) return data;
  const parsed = z.array(connectorSchema).safeParse(data.value);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${place(i.path)}: ${i.message}`) };
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const connectors: ConnectorDefinition[] = [];
  for (const [i, c] of parsed.data.entries()) {
    const at = (p: string) => `[${i}].${p}`;
    const prior = seen.get(c.id);
    if (prior !== undefined) problems.push(`${at('id')}: duplicate id ${JSON.stringify(c.id)} (also [${prior}])`);
    seen.set(c.id, i);
    if ('cron' in c.schedule) {
      const problem = cronProblem(c.schedule.cron, c.schedule.timezone);
      if (problem !== undefined) problems.push(`${at('schedule.cron')}: ${problem}`);
    }
    const source = resolveSource(c, secretResolver(env, problems, at));
    const mapping = compileMapping(c.mapping);
    if (!mapping.ok) {
      problems.push(...mapping.problems.map((p) => `${at('mapping')}${p.startsWith('mapping') ? p.slice('mapping'.length) : `.${p}`}`));
      continue;
    }
    connectors.push(withSync(c, source, mapping.mapping));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, connectors };
}

/** Parses one API source (a JSON object: id, request, auth, pagination, recordsPath, retry). */
export function parseApiSource(json: string, env: Readonly<Record<string, string | undefined>>): { ok: true; source: ApiSource } | { ok: false; problems: string[] } {
  const data = parseJson(json);
  if (!data.ok) return data;
  const parsed = apiSourceSchema.safeParse(data.value);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${place(i.path)}: ${i.message}`) };
  const problems: string[] = [];
  const source = resolveSource(parsed.data, secretResolver(env, problems, (p) => p));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, source };
}

function resolveSource(c: ApiSourceSpec, secret: (s: SecretSpec, place: string) => string): ApiSource {
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(c.request.headers)) headers[name] = secret(v, `request.headers.${name}`);
  let auth: ConnectorAuth;
  switch (c.auth.type) {
    case 'none': auth = { type: 'none' }; break;
    case 'bearer': auth = { type: 'bearer', token: secret(c.auth.token, 'auth.token') }; break;
    case 'basic': auth = { type: 'basic', username: c.auth.username, password: secret(c.auth.password, 'auth.password') }; break;
    case 'oauth2_client_credentials': auth = {
      type: 'oauth2_client_credentials', tokenUrl: c.auth.tokenUrl, clientId: c.auth.clientId,
      clientSecret: secret(c.auth.clientSecret, 'auth.clientSecret'), scope: c.auth.scope, clientAuth: c.auth.clientAuth,
    }; break;
  }
  return {
    id: c.id,
    request: { url: c.request.url, method: c.request.method, query: c.request.query, headers, body: c.request.body, timeoutMs: c.request.timeoutMs },
    auth, pagination: c.pagination, recordsPath: c.recordsPath, retry: c.retry, maxPagesPerRun: c.maxPagesPerRun,
  };
}

function withSync(c: ConnectorSpec, source: ApiSource, mapping: Mapping): ConnectorDefinition {
  return {
    ...source, tenant: c.tenant, schedule: c.schedule,
    incremental: c.incremental === undefined ? undefined : { param: c.incremental.param, field: c.incremental.field, initial: c.incremental.initial },
    recordId: c.recordId, version: c.version ?? c.incremental?.field, mapping,
  };
}

function cronProblem(pattern: string, timezone: string | undefined): string | undefined {
  try {
    const cron = new Cron(pattern, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
    return cron.nextRun() === null ? 'never fires' : undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * When a connector runs next: the cron's next time after `now`, or `everySeconds` after the last
 * run started (at once when it never ran or is overdue, so a restart does not skip a beat).
 */
export function nextRunAt(schedule: Schedule, now: number, lastStartedAt: number | undefined): number {
  if ('everySeconds' in schedule) {
    return lastStartedAt === undefined ? now : Math.max(now, lastStartedAt + schedule.everySeconds * 1000);
  }
  const cron = new Cron(schedule.cron, { paused: true, ...(schedule.timezone === undefined ? {} : { timezone: schedule.timezone }) });
  return cron.nextRun(new Date(now))?.getTime() ?? Number.POSITIVE_INFINITY;
}

/** Where a paginated listing stands: the cursor to send, or the page number or offset. */
export type PagePosition = string | number | undefined;

/** The position of a listing's first page. */
export function firstPosition(p: Pagination): PagePosition {
  switch (p.type) {
    case 'none':
    case 'cursor': return undefined;
    case 'page': return p.start;
    case 'offset': return 0;
  }
}

/** The query parameters that ask for the page at `position`. */
export function pageParams(p: Pagination, position: PagePosition): Record<string, string> {
  switch (p.type) {
    case 'none': return {};
    case 'cursor': return position === undefined ? {} : { [p.param]: String(position) };
    case 'page': return { [p.param]: String(position ?? p.start), ...(p.sizeParam !== undefined && p.size !== undefined ? { [p.sizeParam]: String(p.size) } : {}) };
    case 'offset': return { [p.offsetParam]: String(position ?? 0), [p.limitParam]: String(p.limit) };
  }
}

/**
 * The position after a page, or undefined when the listing is done: no next cursor (or the same
 * one again), an empty page, or an offset page shorter than its limit.
 */
export function nextPosition(p: Pagination, position: PagePosition, body: unknown, records: number): PagePosition {
  switch (p.type) {
    case 'none': return undefined;
    case 'cursor': {
      const next = getPath(body, p.cursorPath);
      if ((typeof next !== 'string' && typeof next !== 'number') || next === '' || String(next) === String(position)) return undefined;
      return String(next);
    }
    case 'page': return records === 0 ? undefined : Number(position ?? p.start) + 1;
    case 'offset': return records < p.limit ? undefined : Number(position ?? 0) + records;
  }
}

/** HTTP statuses worth retrying: throttling and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status <= 599);
}

/**
 * Exponential backoff with full jitter (a random delay between 0 and min(max, base * 2^n)), so
 * many clients retrying at once spread out instead of hitting the partner together again.
 */
export function backoffMs(retry: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** A Retry-After header (delay in seconds or an HTTP-date) in milliseconds from `now`. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const s = header.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Orders watermarks: numbers as numbers, dates by time, anything else as text. */
export function compareWatermarks(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const ta = dateOf(a);
  const tb = dateOf(b);
  if (ta !== undefined && tb !== undefined) return ta - tb;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function dateOf(v: string | number): number | undefined {
  if (typeof v === 'number') return v;
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return undefined;
  return parseTimestamp(v);
}

/** The larger of a watermark and a record's value of the incremental field. */
export function maxWatermark(current: string | number | undefined, value: unknown): string | number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return current;
  if (value === '') return current;
  return current === undefined || compareWatermarks(value, current) > 0 ? value : current;
}

const watermarkSchema = z.union([z.string(), z.number()]);

/**
 * What a connector remembers between runs. `watermark` is where the last complete run got to;
 * `run` is a run in progress (its `since` and the next page to fetch), so a restart resumes at
 * the page after the last acknowledged one. The watermark only advances when a run completes,
 * because partners do not always list records in watermark order.
 */
export const syncStateSchema = z.object({
  watermark: watermarkSchema.optional(),
  run: z.object({
    since: watermarkSchema.optional(),
    position: z.union([z.string(), z.number()]).optional(),
    max: watermarkSchema.optional(),
    pages: z.number().int().min(0),
  }).optional(),
});
export type SyncState = z.output<typeof syncStateSchema>;

/** How a run ended. */
export type RunOutcome = 'success' | 'partial' | 'failed' | 'aborted';

/** The status of a connector as kept in Redis and shown by `pulse connectors status`. */
export const connectorStatusSchema = z.object({
  running: z.boolean(),
  lastRunStartedAt: z.number().optional(),
  lastRunEndedAt: z.number().optional(),
  lastOutcome: z.enum(['success', 'partial', 'failed', 'aborted']).optional(),
  lastSuccessAt: z.number().optional(),
  /** Rows and pages of the last run. */
  accepted: z.number().int().min(0),
  rejected: z.number().int().min(0),
  pages: z.number().int().min(0),
  retries: z.number().int().min(0),
  /** The last run's error (safe to show: no secrets, no record content). */
  error: z.string().optional(),
  /** The last few rejected records: their ids and why. */
  recentRejections: z.array(z.object({ recordId: z.string().optional(), reason: z.string() })).max(20),
  totalAccepted: z.number().int().min(0),
  totalRejected: z.number().int().min(0),
  runs: z.number().int().min(0),
});
export type ConnectorStatus = z.output<typeof connectorStatusSchema>;

/** The status of a connector that never ran. */
export function emptyStatus(): ConnectorStatus {
  return { running: false, accepted: 0, rejected: 0, pages: 0, retries: 0, recentRejections: [], totalAccepted: 0, totalRejected: 0, runs: 0 };
}

/**
 * The value at a dotted path (`data.items`, `meta.next_cursor`, `tags.0`); the empty path is the
 * value itself. Undefined when a step is missing.
 */
export function getPath(value: unknown, path: string): unknown {
  if (path === '') return value;
  let cur: unknown = value;
  for (const step of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(step)) return undefined;
      cur = cur[Number(step)];
    } else {
      if (!Object.hasOwn(cur, step)) return undefined;
      cur = (cur as Record<string, unknown>)[step];
    }
  }
  return cur;
}

/**
 * A nested JSON record as the flat columns the shared mapping reads: every object member under
 * its dotted path (`customer.email`), objects themselves included, arrays kept whole.
 */
export function flattenRecord(record: Readonly<Record<string, unknown>>): Record<string, Json> {
  const out: Record<string, Json> = {};
  const walk = (v: unknown, prefix: string, depth: number) => {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const key = prefix === '' ? k : `${prefix}.${k}`;
      if (x === undefined) continue;
      out[key] = x as Json;
      if (x !== null && typeof x === 'object' && !Array.isArray(x) && depth < 8) walk(x, key, depth + 1);
    }
  };
  walk(record, '', 0);
  return out;
}

/** A deterministic messageId: the same record in the same version always yields the same id. */
export function recordMessageId(scope: string, recordId: string, version: string | undefined): string {
  const digest = createHash('sha256').update(JSON.stringify([recordId, version ?? null])).digest('hex').slice(0, 40);
  return `${scope}:${digest}`;
}

/** A partner record mapped onto a raw event (acceptEvents still validates it), or why not. */
export type PartnerEvent =
  | { readonly ok: true; readonly recordId: string; readonly event: JsonObject }
  | { readonly ok: false; readonly recordId: string | undefined; readonly problem: EventProblem };

function scalarAt(record: unknown, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const v = getPath(record, path);
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

/**
 * Maps one partner record with the connector's mapping. The messageId is derived from the
 * connector, the record id and its version, so fetching the same record again (a retried page,
 * a restart) yields the same event and Pulse's de-duplication drops it. `context.channel` is
 * always `partner` and `context.connector` names the source.
 */
export function toPartnerEvent(def: Pick<ConnectorDefinition, 'id' | 'recordId' | 'version' | 'mapping'>, record: unknown): PartnerEvent {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return { ok: false, recordId: undefined, problem: { field: 'record', reason: 'record: not a JSON object' } };
  }
  const recordId = scalarAt(record, def.recordId);
  if (recordId === undefined) return { ok: false, recordId: undefined, problem: { field: def.recordId, reason: `${def.recordId}: the record id is missing` } };
  const mapped = mapRecord(def.mapping, flattenRecord(record as Record<string, unknown>), recordMessageId(def.id, recordId, scalarAt(record, def.version)));
  if (!mapped.ok) return { ok: false, recordId, problem: mapped.problem };
  const context = mapped.event['context'];
  const base: JsonObject = context !== null && typeof context === 'object' && !Array.isArray(context) ? context : {};
  return { ok: true, recordId, event: { ...mapped.event, context: { ...base, channel: 'partner', connector: def.id } } };
}

/**
 * Splits events into publishable batches of at most `maxCount` events and `maxBytes` of JSON
 * (one batch is one JetStream message), keeping their order.
 */
export function chunkEvents(events: readonly JsonObject[], maxCount: number, maxBytes: number): JsonObject[][] {
  const out: JsonObject[][] = [];
  let current: JsonObject[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * A rejection reason fit for logs and the stored status: quoted values (the shared mapping
 * quotes a short preview of the offending cell) are masked, so a partner's personal data never
 * reaches a log line through a reason.
 */
export function safeReason(reason: string): string {
  return reason.replace(/"(?:[^"\\]|\\.)*(?:"|…)/g, '"…"').slice(0, 300);
}
