import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { ListValue__Output } from '../gen/google/protobuf/ListValue.ts';
import type { Struct__Output } from '../gen/google/protobuf/Struct.ts';
import type { Timestamp__Output } from '../gen/google/protobuf/Timestamp.ts';
import type { Value__Output } from '../gen/google/protobuf/Value.ts';
import type { Event__Output } from '../gen/pulse/v1/Event.ts';
import type { SendRequest__Output } from '../gen/pulse/v1/SendRequest.ts';
import { PROTO_DIR } from '../infra/proto.ts';
import type { Json, JsonObject } from '../json.ts';
import { normalizeEvent, type DecodedMessage, type PulseEvent } from './event.ts';
import { DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from './normalize.ts';

/** The media type of protobuf bodies on `<namespace>.events.<tenant>`. */
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/**
 * A `pulse.v1.Event` (as proto-loader or protobufjs' toObject give it) in Segment-spec JSON, the
 * form every collector validates. Proto3 defaults (empty strings, absent messages) are left out.
 */
export function eventFromProto(e: Event__Output): JsonObject {
  const out: JsonObject = {};
  const text = (key: string, value: string) => {
    if (value !== '') out[key] = value;
  };
  text('type', e.type);
  text('messageId', e.messageId);
  if (e.timestamp !== null) out['timestamp'] = timestampToJson(e.timestamp);
  text('userId', e.userId);
  text('anonymousId', e.anonymousId);
  text('event', e.event);
  text('name', e.name);
  if (e.properties !== null) out['properties'] = structToJson(e.properties);
  if (e.traits !== null) out['traits'] = structToJson(e.traits);
  if (e.context !== null) out['context'] = structToJson(e.context);
  text('previousId', e.previousId);
  text('groupId', e.groupId);
  return out;
}

/** google.protobuf.Struct as a JSON object. */
export function structToJson(s: Struct__Output): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(s.fields)) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: Value__Output): Json {
  switch (v.kind) {
    case 'stringValue': return v.stringValue ?? '';
    case 'boolValue': return v.boolValue ?? false;
    // JSON has no NaN or Infinity; JSON.stringify would write null too.
    case 'numberValue': return Number.isFinite(v.numberValue) ? (v.numberValue ?? 0) : null;
    case 'structValue': return v.structValue ? structToJson(v.structValue) : {};
    case 'listValue': return listToJson(v.listValue);
    default: return null;
  }
}

function listToJson(l: ListValue__Output | null | undefined): Json[] {
  return (l?.values ?? []).map(valueToJson);
}

/** An ISO-8601 string; outside Date's range the seconds as given, which validation then refuses. */
function timestampToJson(t: Timestamp__Output): string {
  const ms = Number(t.seconds) * 1000 + Math.trunc(t.nanos / 1e6);
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : t.seconds;
}

/**
 * Whether a Content-Type names protobuf. `application/x-protobuf` holds a `pulse.v1.SendRequest`;
 * with the parameter `messageType=pulse.v1.Event` it holds one `pulse.v1.Event`.
 */
export function isProtobuf(contentType: string): boolean {
  const media = contentType.split(';')[0]?.trim().toLowerCase();
  return media === PROTOBUF_CONTENT_TYPE || media === 'application/protobuf';
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };
let types: { readonly sendRequest: protobuf.Type; readonly event: protobuf.Type } | undefined;

/** The message types, parsed from proto/ once per process. */
function messageTypes(): { readonly sendRequest: protobuf.Type; readonly event: protobuf.Type } {
  if (types === undefined) {
    const root = new protobuf.Root();
    // google/protobuf/* come bundled with protobufjs; pulse/v1/* from the contract folder.
    root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
    root.loadSync('pulse/v1/ingest.proto');
    types = { sendRequest: root.lookupType('pulse.v1.SendRequest'), event: root.lookupType('pulse.v1.Event') };
  }
  return types;
}

/**
 * Decodes a protobuf message body (see isProtobuf) into valid and refused events, as
 * decodeJsonMessage does for JSON. A body that does not decode refuses the whole message.
 */
export function decodeProtobufMessage(
  body: Uint8Array, defaultTimestamp: number, contentType: string = PROTOBUF_CONTENT_TYPE, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS,
): DecodedMessage {
  const single = /;\s*messagetype\s*=\s*"?pulse\.v1\.Event"?\s*(;|$)/i.test(contentType);
  const { sendRequest, event } = messageTypes();
  let items: Event__Output[];
  try {
    items = single
      ? [event.toObject(event.decode(body), TO_OBJECT) as Event__Output]
      : (sendRequest.toObject(sendRequest.decode(body), TO_OBJECT) as SendRequest__Output).events;
  } catch (err) {
    const name = single ? 'pulse.v1.Event' : 'pulse.v1.SendRequest';
    return { events: [], rejected: [{ index: -1, raw: undefined, problem: { field: 'body', reason: `body: not a valid ${name} (${(err as Error).message})` } }] };
  }
  if (items.length === 0) return { events: [], rejected: [{ index: -1, raw: undefined, problem: { field: 'events', reason: 'events: empty' } }] };
  const events: PulseEvent[] = [];
  const rejected: DecodedMessage['rejected'][number][] = [];
  for (const [index, item] of items.entries()) {
    const raw = eventFromProto(item);
    const r = normalizeEvent(raw, defaultTimestamp, options);
    if (r.ok) events.push(r.event);
    else rejected.push({ index, raw, problem: r.problem });
  }
  return { events, rejected };
}
