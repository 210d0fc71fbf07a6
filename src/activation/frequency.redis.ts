import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { frequencySuffix, tenantKeys } from '../profiles/keys.ts';
import { throwIfPaused } from '../profiles/layout.redis.ts';
import { MAX_WINDOW_MS, type CapImpression, type FrequencyCap } from './frequency.ts';
import type { FrequencyStore, ImpressionRecord } from './store.ts';

/**
 * Caps (`fcaps` hash) and impressions in Redis. Each impression is a member `<channel>|<id>` with
 * score = impression time in `fc:<subject>:<scope>:<target>` zsets, so windows slide exactly; the
 * `fcimp:<id>` marker (kept as long as the longest window) makes counting idempotent.
 */
export class RedisFrequencyStore implements FrequencyStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #record: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#record = defineScript(redis, 'pulseRecordImpression', new URL('./record-impression.lua', import.meta.url), 1);
  }

  async setCap(tenant: string, cap: FrequencyCap): Promise<void> {
    await this.#redis.hset(tenantKeys(this.#namespace, tenant).fcaps, cap.id, JSON.stringify(cap));
  }

  async listCaps(tenant: string): Promise<FrequencyCap[]> {
    const all = await this.#redis.hgetall(tenantKeys(this.#namespace, tenant).fcaps);
    return Object.values(all).map((v) => {
      const c = JSON.parse(v) as Omit<FrequencyCap, 'channel'> & { channel?: string };
      return { ...c, channel: c.channel };
    }).sort((a, b) => a.id.localeCompare(b.id));
  }

  async deleteCap(tenant: string, id: string): Promise<boolean> {
    return (await this.#redis.hdel(tenantKeys(this.#namespace, tenant).fcaps, id)) === 1;
  }

  async recordImpressions(tenant: string, records: readonly ImpressionRecord[], now: number): Promise<boolean[]> {
    if (records.length === 0) return [];
    const { prefix } = tenantKeys(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const r of records) {
      const zsets = r.subjects.flatMap((s) => r.targets.map((t) => frequencySuffix(s, t)));
      this.#record.queue(pipeline, [prefix], [r.impressionId, r.at, `${r.channel}|${r.impressionId}`, MAX_WINDOW_MS, now - MAX_WINDOW_MS, ...zsets]);
    }
    return throwIfPaused(tenant, await execPipeline(pipeline)).map((v) => v === 1);
  }

  async impressions(tenant: string, subjects: readonly string[], targets: readonly string[], since: number): Promise<Map<string, CapImpression[]>> {
    const out = new Map<string, CapImpression[]>();
    if (subjects.length === 0 || targets.length === 0) return out;
    const keys = tenantKeys(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    const order: string[] = [];
    for (const t of targets) {
      for (const s of subjects) {
        pipeline.zrangebyscore(keys.frequency(s, t), `(${since}`, '+inf', 'WITHSCORES');
        order.push(t);
      }
    }
    const results = await execPipeline(pipeline);
    results.forEach((r, i) => {
      const target = order[i] ?? '';
      const list = out.get(target) ?? [];
      decodeImpressions(r as string[], list);
      out.set(target, list);
    });
    return out;
  }
}

/** A frequency zset's `member, score` pairs (member `<channel>|<impression id>`, score = when) appended to `into`. */
export function decodeImpressions(flat: readonly string[], into: { channel: string; impressionId: string; at: number }[]): void {
  for (let j = 0; j + 1 < flat.length; j += 2) {
    const member = flat[j] ?? '';
    const cut = member.indexOf('|');
    into.push({ channel: member.slice(0, cut), impressionId: member.slice(cut + 1), at: Number(flat[j + 1]) });
  }
}
