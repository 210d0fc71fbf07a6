import { z } from 'zod';
import type { Json, JsonObject } from '../json.ts';
import { identifierProblem, type Identifier } from '../identity/identifier.ts';
import { DEFAULT_NORMALIZE_OPTIONS, normalizeFields, type NormalizeOptions } from './normalize.ts';

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
  originalTimestamp: timestamp.optional(),
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

/** Event times Pulse accepts: from 1970 to 2100 (beyond that a value is a unit mistake). */
const MAX_TIMESTAMP = Date.UTC(2100, 0, 1);

/**
 * Parses a timestamp given as ISO-8601 or epoch (seconds or milliseconds). A date-time without
 * an offset is UTC, so the result does not depend on the server's time zone.
 */
export function parseTimestamp(value: string | number): number | undefined {
  if (typeof value === 'number') {
    const ms = Math.round(value < 1e11 ? value * 1000 : value);
    return ms >= 0 && ms < MAX_TIMESTAMP ? ms : undefined;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return parseTimestamp(Number(value));
  const local = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value);
  const ms = Date.parse(local ? `${value.replace(' ', 'T')}Z` : value);
  return Number.isNaN(ms) || ms < 0 || ms >= MAX_TIMESTAMP ? undefined : ms;
}

/**
 * Validates and normalizes one Segment-spec event (see normalizeFields for PII, user agent,
 * advertising ids and channel). `defaultTimestamp` is the receive time: used when the event has
 * neither `timestamp` nor `originalTimestamp`, and to correct a client clock that `sentAt` shows
 * to be ahead. It must be stable across redeliveries (the JetStream publish time) to keep updates
 * idempotent. Normalizing a normalized event (publisher.ts toWire) gives the same event.
 */
export function normalizeEvent(input: unknown, defaultTimestamp: number, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): { ok: true; event: PulseEvent } | { ok: false; problem: EventProblem } {
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'event';
    return { ok: false, problem: { field, reason: `${field}: ${issue?.message ?? 'invalid'}` } };
  }
  const e = parsed.data;
  const fail = (field: string, reason: string) => ({ ok: false as const, problem: { field, reason: `${field}: ${reason}` } });

  let ts = defaultTimestamp;
  const given = e.timestamp ?? e.originalTimestamp;
  if (given !== undefined) {
    const t = parseTimestamp(given);
    if (t === undefined) return fail(e.timestamp === undefined ? 'originalTimestamp' : 'timestamp', 'not an ISO-8601 date or epoch number between 1970 and 2100');
    ts = t - clockAhead(e['sentAt'], defaultTimestamp, t);
  }
  if (e.type === 'track' && e.event === undefined) return fail('event', 'required for track');

  const norm = normalizeFields({ type: e.type, event: e.event, traits: e.traits ?? {}, properties: e.properties ?? {}, context: e.context ?? {} }, options);
  if (!norm.ok) return fail(norm.field, norm.reason);
  const context = norm.context;
  const identifiers: Identifier[] = [];
  const fields: string[] = [];
  const userId = e.userId === undefined || e.userId === null ? undefined : String(e.userId);
  const anonymousId = e.anonymousId === undefined || e.anonymousId === null ? undefined : String(e.anonymousId);
  if (userId !== undefined) {
    identifiers.push({ type: 'user_id', id: userId });
    fields.push('userId');
  }
  if (anonymousId !== undefined) {
    identifiers.push({ type: 'anonymous_id', id: anonymousId });
    fields.push('anonymousId');
  }
  if (e.type === 'alias' && e.previousId !== undefined) {
    identifiers.push({ type: userId === undefined ? 'anonymous_id' : 'user_id', id: e.previousId });
    fields.push('previousId');
  }
  for (const [i, x] of identifiers.entries()) {
    const problem = identifierProblem(x);
    if (problem !== undefined) return fail(fields[i] ?? 'userId', problem);
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

  const traits: JsonObject = { ...(e.type === 'identify' || e.type === 'group' ? {} : asObject(context['traits'])), ...norm.traits };
  const name = e.type === 'track' ? (e.event ?? '') : e.type === 'page' || e.type === 'screen' ? (e.name ?? '') : '';
  const unique = dedupeIdentifiers(identifiers);
  const extra: JsonObject = {};
  if (e.previousId !== undefined) extra['previousId'] = e.previousId;
  if (e.groupId !== undefined) extra['groupId'] = e.groupId;
  return {
    ok: true,
    event: {
      type: e.type, messageId: e.messageId, timestamp: ts, userId, anonymousId, event: name,
      properties: norm.properties, traits, context, identifiers: unique, extra,
    },
  };
}

/**
 * How far ahead of the receive time the client's clock is, when `sentAt` shows it: the client
 * cannot have sent after Pulse received. A `sentAt` before the receive time is not corrected
 * (unlike Segment): a slow clock looks the same as a message that waited in a queue or a DLQ
 * replay, and shifting those would move event times by the delay. A correction that would give
 * a time before 1970 is not made.
 */
function clockAhead(sentAt: unknown, receivedAt: number, eventTime: number): number {
  const sent = typeof sentAt === 'string' || typeof sentAt === 'number' ? parseTimestamp(sentAt) : undefined;
  if (sent === undefined || sent <= receivedAt || eventTime - (sent - receivedAt) < 0) return 0;
  return sent - receivedAt;
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
export function decodeJsonMessage(body: Uint8Array, defaultTimestamp: number, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): DecodedMessage {
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
    const r = normalizeEvent(raw, defaultTimestamp, options);
    if (r.ok) events.push(r.event);
    else rejected.push({ index, raw, problem: r.problem });
  }
  return { events, rejected };
}

function isBatch(d: unknown): d is { batch: unknown[] } {
  return typeof d === 'object' && d !== null && Array.isArray((d as { batch?: unknown }).batch);
}
