import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantKeys, tenantPrefix } from '../profiles/keys.ts';
import { featureOccurrence, type EventFeature, type FeatureData, type FeatureTotals, type Occurrence } from './features.ts';
import type { FeatureEvent, FeatureStore } from './store.ts';

/** How far below a horizon occurrences are kept: covers clock skew between processors. */
export const TRIM_SLACK_MS = 5 * 60_000;

/** The total of a feature with no occurrence counted. */
export const NO_TOTAL: FeatureTotals = { count: 0, sum: 0, min: undefined, max: undefined, first: undefined, last: undefined };

/** Features whose rules read all-time aggregates keep a total. */
export function keepsTotal(f: EventFeature): boolean {
  return f.horizonMs === 'all';
}

function num(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The features store (keys in /work/notes/issue4-design.md): occurrences in `p:<pid>:f:<featureId>`
 * zsets (member `<messageId>` or `<messageId>|<value>`, score = event time), trimmed to the
 * feature's occurrence horizon; feature ids in `p:<pid>:fkeys`; all-time totals in the
 * `p:<pid>:ftotals` hash (`<featureId>|c|s|mn|mx|f|l`; a merge must move both).
 */
export class RedisFeatureStore implements FeatureStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #record: Script;

  constructor(redis: RedisClient, namespace: string, dedupTtlSeconds: number) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#record = defineScript(redis, 'pulseRecordFeatures', new URL('./record-features.lua', import.meta.url), 1);
  }

  async record(tenant: string, events: readonly FeatureEvent[], features: readonly EventFeature[], now: number): Promise<void> {
    if (features.length === 0 || events.length === 0) return;
    const prefix = tenantPrefix(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    let queued = 0;
    for (const e of events) {
      const args = occurrenceArgs(e, features);
      if (args.length === 0) continue;
      this.#record.queue(pipeline, [prefix], [e.profileId, e.messageId, e.at, now, this.#dedupTtlSeconds, TRIM_SLACK_MS, ...args]);
      queued++;
    }
    if (queued > 0) await execPipeline(pipeline);
  }

  async read(tenant: string, profileIds: readonly string[], features: readonly EventFeature[], now: number): Promise<Map<string, Map<string, FeatureData>>> {
    const out = new Map<string, Map<string, FeatureData>>();
    if (profileIds.length === 0 || features.length === 0) return out;
    const keys = tenantKeys(this.#namespace, tenant);
    const withTotals = features.some(keepsTotal);
    const pipeline = this.#redis.pipeline();
    for (const pid of profileIds) {
      const pk = keys.profile(pid);
      if (withTotals) pipeline.hgetall(pk.ftotals);
      for (const f of features) {
        if (f.occurrenceHorizonMs === 0) continue;
        const from = f.occurrenceHorizonMs === 'all' ? '-inf' : `(${now - f.occurrenceHorizonMs}`;
        pipeline.zrangebyscore(pk.feature(f.id), from, '+inf', 'WITHSCORES');
      }
    }
    const results = await execPipeline(pipeline);
    let r = 0;
    for (const pid of profileIds) {
      const totals = withTotals ? (results[r++] as Record<string, string>) : {};
      const data = new Map<string, FeatureData>();
      for (const f of features) {
        const occurrences = f.occurrenceHorizonMs === 0 ? [] : decodeOccurrences(results[r++] as string[], f.property !== undefined);
        const total = keepsTotal(f) ? decodeTotal(totals, f.id) : NO_TOTAL;
        if (occurrences.length > 0 || total.count > 0) data.set(f.id, { occurrences, total });
      }
      out.set(pid, data);
    }
    return out;
  }
}

/** The occurrences of one event as ARGV of record-features(-v2).lua: 5 values per matched feature. */
export function occurrenceArgs(e: FeatureEvent, features: readonly EventFeature[]): string[] {
  const args: string[] = [];
  for (const f of features) {
    const o = featureOccurrence(f, e.event, e.properties, e.at);
    if (o === undefined) continue;
    const horizon = f.occurrenceHorizonMs === 'all' ? 'all' : String(f.occurrenceHorizonMs);
    args.push(f.id, o.value === undefined ? '' : String(o.value), f.property === undefined ? '0' : '1', horizon, keepsTotal(f) ? '1' : '0');
  }
  return args;
}

/** `member, score` pairs in score order; the value follows the last `|` when the feature has a property. */
export function decodeOccurrences(flat: readonly string[], hasProperty: boolean): Occurrence[] {
  const out: Occurrence[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const member = flat[i] as string;
    const at = Number(flat[i + 1]);
    const bar = hasProperty ? member.lastIndexOf('|') : -1;
    out.push({ at, value: bar < 0 ? undefined : num(member.slice(bar + 1) || undefined) });
  }
  return out;
}

/** A feature's all-time total from the profile's `ftotals` hash. */
export function decodeTotal(totals: Readonly<Record<string, string>>, id: string): FeatureTotals {
  const count = num(totals[`${id}|c`]) ?? 0;
  if (count === 0) return NO_TOTAL;
  return {
    count,
    sum: num(totals[`${id}|s`]) ?? 0,
    min: num(totals[`${id}|mn`]),
    max: num(totals[`${id}|mx`]),
    first: num(totals[`${id}|f`]),
    last: num(totals[`${id}|l`]),
  };
}
