import { z } from 'zod';
import type { Json, JsonObject } from '../json.ts';
import { identifierProblem, type Identifier } from '../identity/identifier.ts';

/** Segment spec event types. */
export const EVENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event after validation and normalization: what every sink receives. */
export interface PulseEvent {
  readonly type: EventType;
  readonly messageId: string;
  /** Event time, epoch milliseconds. */
  readonly timestamp: number;
  readonly userId: string | undefined;
  readonly anonymousId: string | undefined;
  /** The track event's name; for page/screen their name; empty otherwise. */
  readonly event: string;
  readonly properties: JsonObject;
  readonly traits: JsonObject;
  readonly context: JsonObject;
  /** Every identifier the event carries: userId, anonymousId and context.externalIds. */
  readonly identifiers: readonly Identifier[];
  /** Type-specific fields kept as given: `previousId` (alias), `groupId` (group). */
  readonly extra: JsonObject;
}

/** Why an event was refused, naming the field. */
export interface EventProblem {
  readonly field: string;
  readonly reason: string;
}

const jsonObject = z.record(z.string(), z.json());
const idString = z.string().min(1).max(256);
const timestamp = z.union([z.string().min(1), z.number().finite()]);

const eventSchema = z.looseObject({
  type: z.enum(EVENT_TYPES),
  messageId: z.string().min(1, 'must not be empty').max(256, 'at most 256 characters').regex(/^[^\p{Cc}]+$/u, 'no control characters'),
  timestamp: timestamp.optional(),
  userId: z.union([idString, z.number().int()]).optional().nullable(),
  anonymousId: z.union([idString, z.number().int()]).optional().nullable(),
  event: z.string().min(1).max(256).optional(),
  name: z.string().max(256).optional().nullable(),
  properties: jsonObject.optional().nullable(),
  traits: jsonObject.optional().nullable(),
  context: jsonObject.optional().nullable(),
  previousId: idString.optional(),
  groupId: idString.optional(),
});

const externalIdsSchema = z.array(z.looseObject({ type: z.string(), id: z.string() })).max(32);

/** Parses a timestamp given as ISO-8601 or epoch (seconds or milliseconds). */
export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === 'number') return value < 1e11 ? Math.round(value * 1000) : Math.round(value);
  if (/^\d+(\.\d+)?$/.test(value)) return parseTimestamp(Number(value));
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Validates and normalizes one Segment-spec event. `defaultTimestamp` is used when the event has
 * none; it must be stable across redeliveries (the JetStream publish time) to keep updates
 * idempotent.
 */
export function normalizeEvent(input: unknown, defaultTimestamp: number): { ok: true; event: PulseEvent } | { ok: false; problem: EventProblem } {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'event';
    return { ok: false, problem: { field, reason: `${field}: ${issue?.message ?? 'invalid'}` } };
  }
  const e = parsed.data;
  const fail = (field: string, reason: string) => ({ ok: false as const, problem: { field, reason: `${field}: ${reason}` } });

  let ts = defaultTimestamp;
  if (e.timestamp !== undefined) {
    const t = parseTimestamp(e.timestamp);
    if (t === undefined) return fail('timestamp', 'not an ISO-8601 date or epoch number');
    ts = t;
  }
  if (e.type === 'track' && e.event === undefined) return fail('event', 'required for track');

  const context: JsonObject = e.context ?? {};
  const identifiers: Identifier[] = [];
  const userId = e.userId === undefined || e.userId === null ? undefined : String(e.userId);
  const anonymousId = e.anonymousId === undefined || e.anonymousId === null ? undefined : String(e.anonymousId);
  if (userId !== undefined) identifiers.push({ type: 'user_id', id: userId });
  if (anonymousId !== undefined) identifiers.push({ type: 'anonymous_id', id: anonymousId });
  if (e.type === 'alias' && e.previousId !== undefined) {
    identifiers.push({ type: userId === undefined ? 'anonymous_id' : 'user_id', id: e.previousId });
  }
  for (const x of identifiers) {
    const problem = identifierProblem(x);
    if (problem !== undefined) return fail(x.type === 'user_id' ? 'userId' : 'anonymousId', problem);
  }
  if (context['externalIds'] !== undefined && context['externalIds'] !== null) {
    const ext = externalIdsSchema.safeParse(context['externalIds']);
    if (!ext.success) return fail('context.externalIds', 'must be a list of at most 32 {type, id}');
    for (const [i, x] of ext.data.entries()) {
      const problem = identifierProblem(x);
      if (problem !== undefined) return fail(`context.externalIds.${i}`, problem);
      identifiers.push({ type: x.type, id: x.id });
    }
  }
  if (identifiers.length === 0) return fail('userId', 'an event needs userId, anonymousId or context.externalIds');

  const traits: JsonObject = { ...(e.type === 'identify' || e.type === 'group' ? {} : asObject(context['traits'])), ...(e.traits ?? {}) };
  const name = e.type === 'track' ? (e.event ?? '') : e.type === 'page' || e.type === 'screen' ? (e.name ?? '') : '';
  const unique = dedupeIdentifiers(identifiers);
  const extra: JsonObject = {};
  if (e.previousId !== undefined) extra['previousId'] = e.previousId;
  if (e.groupId !== undefined) extra['groupId'] = e.groupId;
  return {
    ok: true,
    event: {
      type: e.type, messageId: e.messageId, timestamp: ts, userId, anonymousId, event: name,
      properties: e.properties ?? {}, traits, context, identifiers: unique, extra,
    },
  };
}

function asObject(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

function dedupeIdentifiers(list: readonly Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = `${x.type}:${x.id}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Outcome of decoding one NATS message: its valid events and the refused ones. */
export interface DecodedMessage {
  readonly events: readonly PulseEvent[];
  readonly rejected: readonly { readonly index: number; readonly raw: unknown; readonly problem: EventProblem }[];
}

/**
 * Decodes a message body holding one event or a Segment-style batch `{"batch": [...]}`. A body
 * that is not JSON at all refuses the whole message.
 */
export function decodeJsonMessage(body: Uint8Array, defaultTimestamp: number): DecodedMessage {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    return { events: [], rejected: [{ index: -1, raw: undefined, problem: { field: 'body', reason: `body: not valid JSON (${(err as Error).message})` } }] };
  }
  const items: unknown[] = isBatch(data) ? data.batch : [data];
  const events: PulseEvent[] = [];
  const rejected: DecodedMessage['rejected'][number][] = [];
  if (items.length === 0) rejected.push({ index: -1, raw: data, problem: { field: 'batch', reason: 'batch: empty' } });
  for (const [index, raw] of items.entries()) {
    const r = normalizeEvent(raw, defaultTimestamp);
    if (r.ok) events.push(r.event);
    else rejected.push({ index, raw, problem: r.problem });
  }
  return { events, rejected };
}

function isBatch(d: unknown): d is { batch: unknown[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { batch?: unknown }).batch);
}
