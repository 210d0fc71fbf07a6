import { CONSENT_TRAIT } from '../collection/normalize.ts';
import { identifierKey } from '../identity/identifier.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantPrefix } from '../profiles/keys.ts';
import { throwIfPaused } from '../profiles/layout.redis.ts';
import { byPriority, orderToken } from '../profiles/model.ts';
import type { ConsentRefusal, ConsentStore } from './store.ts';

/** Consent refusals on Redis profiles: one atomic Lua call per refusal, in one pipeline. */
export class RedisConsentStore implements ConsentStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #record: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#record = defineScript(redis, 'pulseRecordRefusal', new URL('./record-refusal.lua', import.meta.url), 1);
  }

  async recordRefusals(tenant: string, refusals: readonly ConsentRefusal[]): Promise<{ found: number; changed: string[] }> {
    if (refusals.length === 0) return { found: 0, changed: [] };
    const prefix = tenantPrefix(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const r of refusals) {
      const ids = byPriority(r.event.identifiers).map(identifierKey);
      this.#record.queue(pipeline, [prefix], [orderToken(r.event), CONSENT_TRAIT, JSON.stringify(r.record), ids.length, ...ids]);
    }
    const results = throwIfPaused(tenant, await execPipeline(pipeline)) as ([string, number] | null)[];
    const found = results.filter((r) => r !== null);
    return { found: found.length, changed: [...new Set(found.filter(([, changed]) => changed === 1).map(([pid]) => pid))] };
  }
}
