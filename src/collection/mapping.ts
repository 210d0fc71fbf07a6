import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Json, JsonObject } from '../json.ts';
import { identifierProblem } from '../identity/identifier.ts';
import { parseTimestamp, type EventProblem } from './event.ts';

/** Event types a file row can become: a CRM record (identify) or an offline action (track). */
export const MAPPED_EVENT_TYPES = ['identify', 'track'] as const;

/** Transforms a column value goes through, in order; after `split` the rest apply to each part. */
export type Transform =
  | { readonly kind: 'string' | 'number' | 'boolean' | 'date' | 'lowercase' | 'uppercase' | 'trim' }
  | { readonly kind: 'split'; readonly separator: string };

/** Where one event field comes from: a column of the row (transformed), or a constant. */
export type FieldSource =
  | { readonly column: string; readonly transforms: readonly Transform[]; readonly required: boolean }
  | { readonly value: Json };

/** A validated mapping from a file row to a Segment-spec event. */
export interface Mapping {
  readonly type: (typeof MAPPED_EVENT_TYPES)[number];
  readonly event: FieldSource | undefined;
  readonly userId: FieldSource | undefined;
  readonly anonymousId: FieldSource | undefined;
  readonly timestamp: FieldSource | undefined;
  readonly traits: Readonly<Record<string, FieldSource>>;
  readonly properties: Readonly<Record<string, FieldSource>>;
  readonly externalIds: readonly { readonly type: string; readonly source: FieldSource }[];
  /** Constant context merged into every event (e.g. `{"channel": "offline"}`). */
  readonly context: JsonObject;
}

const SIMPLE_TRANSFORMS = ['string', 'number', 'boolean', 'date', 'lowercase', 'uppercase', 'trim'] as const;
const SPLIT = /^split\((.+)\)$/s;
const TRANSFORM_HELP = `${SIMPLE_TRANSFORMS.join(', ')}, split(<separator>)`;

const transformSchema = z.string().transform((name, ctx): Transform => {
  if ((SIMPLE_TRANSFORMS as readonly string[]).includes(name)) return { kind: name as (typeof SIMPLE_TRANSFORMS)[number] };
  const split = SPLIT.exec(name);
  if (split?.[1] !== undefined) return { kind: 'split', separator: split[1] };
  ctx.addIssue({ code: 'custom', message: `unknown transform ${JSON.stringify(name)} (known: ${TRANSFORM_HELP})` });
  return z.NEVER;
});

const transformsSchema = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(transformSchema, { error: `must be a transform or a list of them (${TRANSFORM_HELP})` }).min(1),
);

const FIELD_HELP = 'must be a column name, {"column": "<name>", "as": <transform(s)>, "required": <bool>} or {"value": <constant>}';

const columnSpec = {
  column: z.string().min(1, 'column name must not be empty'),
  as: transformsSchema.optional(),
  required: z.boolean().optional(),
};

const fieldSchema = z.preprocess(
  (v) => (typeof v === 'string' ? { column: v } : v),
  z.strictObject({ ...columnSpec, column: columnSpec.column.optional(), value: z.json().optional() }, { error: (iss) => (iss.code === 'invalid_type' ? FIELD_HELP : undefined) })
    .superRefine((f, ctx) => {
      if ((f.column === undefined) === (f.value === undefined)) ctx.addIssue({ code: 'custom', message: `${FIELD_HELP}: give exactly one of column and value` });
      if (f.value !== undefined && (f.as !== undefined || f.required !== undefined)) ctx.addIssue({ code: 'custom', message: '"as" and "required" apply to a column, not to a constant value' });
    })
    .transform((f): FieldSource => (f.column === undefined ? { value: f.value ?? null } : { column: f.column, transforms: f.as ?? [], required: f.required ?? false })),
);

// Every identifier type accepts this id, so only the type is judged.
const PROBE_ID = '0'.repeat(64);

const externalIdSchema = z.strictObject({
  type: z.string().superRefine((type, ctx) => {
    const problem = identifierProblem({ type, id: PROBE_ID });
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
  ...columnSpec,
});

const fieldsSchema = z.record(z.string().min(1), fieldSchema, { error: (iss) => (iss.code === 'invalid_key' ? 'field names must not be empty' : undefined) });

const mappingSchema = z.strictObject({
  type: z.enum(MAPPED_EVENT_TYPES),
  event: fieldSchema.optional(),
  userId: fieldSchema.nullable().optional(),
  anonymousId: fieldSchema.nullable().optional(),
  timestamp: fieldSchema.nullable().optional(),
  traits: fieldsSchema.optional(),
  properties: fieldsSchema.optional(),
  externalIds: z.array(externalIdSchema).max(32).optional(),
  context: z.record(z.string(), z.json()).optional(),
}).superRefine((m, ctx) => {
  if (m.type === 'track' && m.event === undefined) ctx.addIssue({ code: 'custom', path: ['event'], message: 'required for track (the event name: a column or {"value": "<name>"})' });
  if (m.type === 'identify' && m.event !== undefined) ctx.addIssue({ code: 'custom', path: ['event'], message: 'only for track' });
  if (m.type === 'identify' && m.properties !== undefined) ctx.addIssue({ code: 'custom', path: ['properties'], message: 'only for track (identify carries traits)' });
  if ((m.userId ?? undefined) === undefined && (m.anonymousId ?? undefined) === undefined && (m.externalIds ?? []).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['userId'], message: 'map at least one identifier: userId, anonymousId or externalIds' });
  }
  for (const key of ['externalIds', 'traits'] as const) {
    if (m.context?.[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['context', key], message: `map ${key} with the top-level "${key}" of the mapping` });
  }
  // These checks only look at which keys are there, so they also run when some values are
  // invalid: every problem of a mapping is reported in one go.
}, { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) });

/**
 * Validates a mapping (parsed JSON), reporting every problem at once with its place
 * (`traits.ltv.as: unknown transform "numbr" ...`).
 */
export function compileMapping(data: unknown): { ok: true; mapping: Mapping } | { ok: false; problems: string[] } {
  const parsed = mappingSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.length === 0 ? 'mapping' : i.path.join('.')}: ${i.message}`) };
  }
  const m = parsed.data;
  return {
    ok: true,
    mapping: {
      type: m.type,
      event: m.event,
      userId: m.userId ?? undefined,
      anonymousId: m.anonymousId ?? undefined,
      timestamp: m.timestamp ?? undefined,
      traits: m.traits ?? {},
      properties: m.properties ?? {},
      externalIds: (m.externalIds ?? []).map((x) => ({ type: x.type, source: { column: x.column, transforms: x.as ?? [], required: x.required ?? false } })),
      context: m.context ?? {},
    },
  };
}

/** Parses and validates a mapping file's text. */
export function parseMapping(text: string): { ok: true; mapping: Mapping } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`mapping: not valid JSON: ${(err as Error).message}`] };
  }
  return compileMapping(data);
}

/** A stable hash of a mapping's meaning (key order and formatting do not matter). */
export function mappingHash(mapping: Mapping): string {
  return createHash('sha256').update(canonicalJson(mapping as unknown as Json)).digest('hex');
}

function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k] as Json)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Every column the mapping reads, to check a CSV header before the first row. */
export function mappingColumns(mapping: Mapping): string[] {
  const sources = [mapping.event, mapping.userId, mapping.anonymousId, mapping.timestamp, ...Object.values(mapping.traits), ...Object.values(mapping.properties), ...mapping.externalIds.map((x) => x.source)];
  const columns = new Set<string>();
  for (const s of sources) if (s !== undefined && 'column' in s) columns.add(s.column);
  return [...columns];
}

/** The outcome of mapping one row. */
export type MappedRow = { ok: true; event: JsonObject } | { ok: false; problem: EventProblem };

class RowProblem extends Error {
  readonly field: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.field = field;
  }
}

/**
 * Turns one file row into a raw Segment-spec event (validated afterwards by the same step as
 * every other path). Empty cells and nulls count as absent: the field is left out, or the row
 * refused when the mapping marks the column `required`.
 */
export function mapRecord(mapping: Mapping, record: Readonly<Record<string, unknown>>, messageId: string): MappedRow {
  try {
    const event: JsonObject = { type: mapping.type, messageId };
    const put = (target: JsonObject, key: string, field: string, source: FieldSource | undefined) => {
      if (source === undefined) return;
      const v = resolve(source, record, field);
      if (v !== undefined) target[key] = v;
    };
    put(event, 'event', 'event', mapping.event);
    put(event, 'userId', 'userId', mapping.userId);
    put(event, 'anonymousId', 'anonymousId', mapping.anonymousId);
    put(event, 'timestamp', 'timestamp', mapping.timestamp);
    const traits: JsonObject = {};
    for (const [k, s] of Object.entries(mapping.traits)) put(traits, k, `traits.${k}`, s);
    const properties: JsonObject = {};
    for (const [k, s] of Object.entries(mapping.properties)) put(properties, k, `properties.${k}`, s);
    if (Object.keys(traits).length > 0) event['traits'] = traits;
    if (mapping.type === 'track') event['properties'] = properties;
    const externalIds: Json[] = [];
    for (const [i, x] of mapping.externalIds.entries()) {
      const field = `externalIds.${i}`;
      const v = resolve(x.source, record, field);
      if (v === undefined) continue;
      if (typeof v !== 'string' && typeof v !== 'number') throw new RowProblem(field, `${describe(x.source)} must be a single value, not ${typeOf(v)}`);
      externalIds.push({ type: x.type, id: String(v) });
    }
    const context: JsonObject = { ...mapping.context };
    if (externalIds.length > 0) context['externalIds'] = externalIds;
    event['context'] = context;
    return { ok: true, event };
  } catch (err) {
    if (err instanceof RowProblem) return { ok: false, problem: { field: err.field, reason: err.message } };
    throw err;
  }
}

function resolve(source: FieldSource, record: Readonly<Record<string, unknown>>, field: string): Json | undefined {
  if ('value' in source) return source.value;
  const raw = record[source.column];
  if (isAbsent(raw)) {
    if (source.required) throw new RowProblem(field, `${describe(source)} is empty`);
    return undefined;
  }
  // Rows come from JSON.parse or the CSV parser, so every value already is JSON.
  let v = raw as Json;
  for (const t of source.transforms) {
    v = Array.isArray(v) ? v.map((part) => apply(t, part, source, field)) : apply(t, v, source, field);
  }
  return v;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

const TRUE = new Set(['true', 'yes', 'y', '1', 't']);
const FALSE = new Set(['false', 'no', 'n', '0', 'f']);

function apply(t: Transform, v: Json, source: FieldSource, field: string): Json {
  const fail = (what: string): never => {
    throw new RowProblem(field, `${describe(source)}: ${preview(v)} is not ${what}`);
  };
  switch (t.kind) {
    case 'string':
      return typeof v === 'string' ? v : JSON.stringify(v);
    case 'number': {
      if (typeof v === 'number') return v;
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v.trim()) : Number.NaN;
      return Number.isFinite(n) ? n : fail('a number');
    }
    case 'boolean': {
      if (typeof v === 'boolean') return v;
      const s = typeof v === 'string' || typeof v === 'number' ? String(v).trim().toLowerCase() : '';
      return TRUE.has(s) ? true : FALSE.has(s) ? false : fail('a boolean (true/false, yes/no, 1/0)');
    }
    case 'date': {
      const ms = typeof v === 'string' || typeof v === 'number' ? parseTimestamp(typeof v === 'string' ? v.trim() : v) : undefined;
      return ms === undefined ? fail('a date (ISO-8601 or epoch seconds/milliseconds)') : new Date(ms).toISOString();
    }
    case 'lowercase':
      return typeof v === 'string' ? v.toLowerCase() : v;
    case 'uppercase':
      return typeof v === 'string' ? v.toUpperCase() : v;
    case 'trim':
      return typeof v === 'string' ? v.trim() : v;
    case 'split':
      return typeof v === 'string' ? v.split(t.separator).map((s) => s.trim()).filter((s) => s !== '') : fail('text to split');
  }
}

function describe(source: FieldSource): string {
  return 'column' in source ? `column ${JSON.stringify(source.column)}` : 'constant';
}

function typeOf(v: Json): string {
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : typeof v;
}

/** A value shown in a reason: short, so a reason never carries a whole cell of personal data. */
function preview(v: Json): string {
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}
