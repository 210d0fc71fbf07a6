import type { JsonObject } from '../json.ts';
import { databaseOf } from '../warehouse/schema.ts';
import type { Warehouse } from '../warehouse/port.ts';
import { featureOccurrence, type EventFeature, type FeatureData, type Occurrence } from './features.ts';

/** A past event as the features store records it (the name as counted: track name or `$<type>`). */
export interface HistoryEvent {
  readonly profileId: string;
  readonly messageId: string;
  readonly event: string;
  readonly properties: JsonObject;
  readonly at: number;
}

interface Row {
  readonly profile_id: string;
  readonly message_id: string;
  readonly at: string | number;
  readonly properties: string;
}

/**
 * Event history of profiles from the warehouse (`<ns>.events`), shaped as the features a rule
 * reads: what a backfill or an estimate sees of windows whose occurrences Redis does not keep (a
 * feature first used by a new rule). Events are read under the profile id they were written
 * with, so those of a profile merged away later are not attributed to the survivor.
 */
export class ClickHouseEventHistory {
  readonly #warehouse: Warehouse;
  readonly #db: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#db = databaseOf(namespace);
  }

  /**
   * Per profile, per feature id: occurrences back to the feature's horizon and their totals; and
   * the events they came from (to seed the real-time features store with).
   */
  async read(tenant: string, profileIds: readonly string[], features: readonly EventFeature[], now: number): Promise<{ features: Map<string, Map<string, FeatureData>>; events: HistoryEvent[] }> {
    const out = new Map<string, Map<string, FeatureData>>(profileIds.map((p) => [p, new Map()]));
    const events = new Map<string, HistoryEvent>();
    if (profileIds.length === 0) return { features: out, events: [] };
    for (const feature of features) {
      // Track events are stored by name; other types count as `$<type>` (see counterName).
      const typed = feature.event.startsWith('$');
      const since = feature.horizonMs === 'all' ? undefined : now - feature.horizonMs;
      const rows = await this.#warehouse.query<Row>(
        `SELECT profile_id, message_id, toUnixTimestamp64Milli(timestamp) AS at, properties
         FROM ${this.#db}.events
         WHERE tenant = {tenant:String} AND profile_id IN {pids:Array(String)}
           AND type = {type:String} AND ${typed ? '1' : 'event = {event:String}'}
           AND ${since === undefined ? '1' : 'timestamp >= fromUnixTimestamp64Milli({since:Int64})'}`,
        { tenant, pids: profileIds, type: typed ? feature.event.slice(1) : 'track', event: feature.event, since: since ?? 0 },
      );
      const byProfile = new Map<string, Map<string, Occurrence>>();
      for (const row of rows) {
        const properties = parseProperties(row.properties);
        const occurrence = featureOccurrence(feature, feature.event, properties, Number(row.at));
        if (occurrence === undefined) continue;
        events.set(`${row.profile_id}|${row.message_id}|${feature.event}`, { profileId: row.profile_id, messageId: row.message_id, event: feature.event, properties, at: occurrence.at });
        const seen = byProfile.get(row.profile_id) ?? new Map<string, Occurrence>();
        // A redelivered event may be stored twice until ClickHouse merges the parts.
        seen.set(row.message_id, occurrence);
        byProfile.set(row.profile_id, seen);
      }
      for (const [pid, seen] of byProfile) out.get(pid)?.set(feature.id, featureData([...seen.values()]));
    }
    return { features: out, events: [...events.values()] };
  }
}

function parseProperties(text: string): JsonObject {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : {};
  } catch {
    return {};
  }
}

function featureData(occurrences: Occurrence[]): FeatureData {
  occurrences.sort((a, b) => a.at - b.at);
  let sum = 0;
  let min: number | undefined;
  let max: number | undefined;
  for (const o of occurrences) {
    if (o.value === undefined) continue;
    sum += o.value;
    min = min === undefined ? o.value : Math.min(min, o.value);
    max = max === undefined ? o.value : Math.max(max, o.value);
  }
  return { occurrences, total: { count: occurrences.length, sum, min, max, first: occurrences[0]?.at, last: occurrences.at(-1)?.at } };
}
