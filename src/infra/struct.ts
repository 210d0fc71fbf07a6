import type { Struct } from '../gen/google/protobuf/Struct.ts';
import type { Timestamp } from '../gen/google/protobuf/Timestamp.ts';
import type { Value } from '../gen/google/protobuf/Value.ts';
import type { Json, JsonObject } from '../json.ts';

/** A JSON object as google.protobuf.Struct. */
export function toStruct(obj: JsonObject): Struct {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: Json): Value {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

/** Epoch milliseconds as google.protobuf.Timestamp. */
export function toTimestamp(ms: number): Timestamp {
  // Floor division keeps nanos in 0..999,999,999 for times before 1970 too, as the type requires.
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}
