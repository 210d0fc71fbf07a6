import type { RedisClient, Script } from '../infra/redis.ts';
import { profileKeys } from '../profiles/keys.ts';
import { profileSlotScript } from '../profiles/profile-slot.ts';
import type { EventFeature, FeatureData } from './features.ts';
import { decodeOccurrences, decodeTotal, keepsTotal, NO_TOTAL, occurrenceArgs, TRIM_SLACK_MS } from './features.redis.ts';
import type { FeatureEvent, FeatureStore } from './store.ts';

/*
 * Features on the per-profile layout (src/profiles/per-profile-layout.md §6, step 7; not wired yet): the keys
 * of RedisFeatureStore under the profile's own hash tag (`{<tenant>:<pid>}:f:<featureId>`, `:fkeys`,
 * `:ftotals`), the totals guarded by `f|<messageId>` in `:seen` instead of `fdedup:<messageId>`.
 * One script call or read per profile and key: nothing here is a cross-slot pipeline, so it runs
 * the same on one Redis and on a Cluster (auto-pipelining groups the calls per node).
 */

/** `moved` answers followed for one event; the bound only guards against a corrupted cycle. */
const MAX_HOPS = 64;

/** A profile-slot script's `{'moved', into}` answer: the profile to go to, else undefined. */
export function movedTo(answer: unknown): string | undefined {
  const r = answer as unknown[];
  return Array.isArray(r) && r[0] === 'moved' && typeof r[1] === 'string' ? r[1] : undefined;
}

/**
 * Runs `call` on `pid` and again on where each `moved` answer points, up to MAX_HOPS times;
 * returns the last answer and the profile that gave it.
 */
export async function followMoved(pid: string, call: (pid: string) => Promise<unknown>): Promise<{ pid: string; answer: unknown }> {
  let at = pid;
  for (let hops = 0; hops <= MAX_HOPS; hops++) {
    const answer = await call(at);
    const into = movedTo(answer);
    if (into === undefined) return { pid: at, answer };
    at = into;
  }
  throw new Error(`profile ${pid}: moved more than ${MAX_HOPS} times`);
}

/** The features store on the per-profile layout: RedisFeatureStore's operations and answers. */
export class FeatureStoreV2 implements FeatureStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #record: Script;

  constructor(redis: RedisClient, namespace: string, dedupTtlSeconds: number) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#record = profileSlotScript(redis, 'pulseRecordFeaturesV2', new URL('./record-features-v2.lua', import.meta.url));
  }

  /**
   * One script call per event on its profile; a profile merged (or being merged) into another
   * answers `moved`, and the occurrences are recorded there (§3.3).
   */
  async record(tenant: string, events: readonly FeatureEvent[], features: readonly EventFeature[], now: number): Promise<void> {
    if (features.length === 0 || events.length === 0) return;
    await Promise.all(events.map(async (e) => {
      const args = occurrenceArgs(e, features);
      if (args.length === 0) return;
      await followMoved(e.profileId, (pid) => this.#record.run(
        [profileKeys(this.#namespace, tenant, pid).prefix], [e.messageId, e.at, now, this.#dedupTtlSeconds, TRIM_SLACK_MS, ...args],
      ));
    }));
  }

  async read(tenant: string, profileIds: readonly string[], features: readonly EventFeature[], now: number): Promise<Map<string, Map<string, FeatureData>>> {
    const out = new Map<string, Map<string, FeatureData>>();
    if (profileIds.length === 0 || features.length === 0) return out;
    const withTotals = features.some(keepsTotal);
    const read = await Promise.all(profileIds.map(async (pid) => {
      const pk = profileKeys(this.#namespace, tenant, pid);
      const [totals, zsets] = await Promise.all([
        withTotals ? this.#redis.hgetall(pk.ftotals) : Promise.resolve({} as Record<string, string>),
        Promise.all(features.map((f) => f.occurrenceHorizonMs === 0
          ? Promise.resolve([] as string[])
          : this.#redis.zrangebyscore(pk.feature(f.id), f.occurrenceHorizonMs === 'all' ? '-inf' : `(${now - f.occurrenceHorizonMs}`, '+inf', 'WITHSCORES'))),
      ]);
      const data = new Map<string, FeatureData>();
      features.forEach((f, n) => {
        const occurrences = decodeOccurrences(zsets[n] ?? [], f.property !== undefined);
        const total = keepsTotal(f) ? decodeTotal(totals, f.id) : NO_TOTAL;
        if (occurrences.length > 0 || total.count > 0) data.set(f.id, { occurrences, total });
      });
      return [pid, data] as const;
    }));
    for (const [pid, data] of read) out.set(pid, data);
    return out;
  }
}
