import { parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import { execPipeline, type RedisClient } from '../infra/redis.ts';
import type { Json } from '../json.ts';
import { tenantKeys } from '../profiles/keys.ts';
import type { PushSkipped, PushSubject } from './audience-push.ts';

/** How long a user sync is remembered without being renewed. */
export const SYNC_TTL_SECONDS = 90 * 24 * 3600;

/** The outcome of one upload attempt, for a partner's delivery status. */
export type DeliveryReport =
  | { readonly ok: true; readonly updates: number; readonly changes: number; readonly skipped: PushSkipped; readonly at: number }
  | { readonly ok: false; readonly error: string; readonly at: number };

/**
 * The ID-sync table and delivery status in Redis. A sync is kept per identifier
 * (`sync:<partner>:<type>:<id>` -> partner user id), so it follows the identifier into whatever
 * profile it belongs to now or later, merges included; status is the `push:<partner>` hash.
 */
export class RedisIdSync {
  readonly #redis: RedisClient;
  readonly #namespace: string;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
  }

  /** Remembers that `partner` knows the person behind `identifier` as `uid`. */
  async link(tenant: string, partner: string, identifier: Identifier, uid: string): Promise<void> {
    await this.#redis.set(tenantKeys(this.#namespace, tenant).sync(partner, identifier), uid, 'EX', SYNC_TTL_SECONDS);
  }

  /** For each profile: the partner's user ids (over all its identifiers) and its `$consent` trait. */
  async subjects(tenant: string, partner: string, profileIds: readonly string[]): Promise<Map<string, PushSubject>> {
    const keys = tenantKeys(this.#namespace, tenant);
    const out = new Map<string, PushSubject>();
    if (profileIds.length === 0) return out;
    const p1 = this.#redis.pipeline();
    for (const pid of profileIds) {
      const pk = keys.profile(pid);
      p1.smembers(pk.ids).hget(pk.traits, '$consent');
    }
    const r1 = await execPipeline(p1);
    const ids = profileIds.map((_, i) => r1[2 * i] as string[]);
    const p2 = this.#redis.pipeline();
    for (const list of ids) for (const idKey of list) p2.get(keys.sync(partner, parseIdentifierKey(idKey)));
    const r2 = await execPipeline(p2);
    let k = 0;
    profileIds.forEach((pid, i) => {
      const uids = new Set<string>();
      for (let j = 0; j < (ids[i] ?? []).length; j++) {
        const uid = r2[k++];
        if (typeof uid === 'string') uids.add(uid);
      }
      const raw = r1[2 * i + 1];
      out.set(pid, { partnerUids: [...uids].sort(), consent: typeof raw === 'string' ? (JSON.parse(raw) as Json) : undefined });
    });
    return out;
  }

  /** Adds an upload attempt to the partner's delivery status. */
  async report(tenant: string, partner: string, r: DeliveryReport): Promise<void> {
    const key = tenantKeys(this.#namespace, tenant).push(partner);
    const m = this.#redis.multi();
    if (r.ok) {
      m.hincrby(key, 'batches', 1).hincrby(key, 'changes', r.changes).hincrby(key, 'updates', r.updates)
        .hincrby(key, 'skipped_not_shared', r.skipped.notShared).hincrby(key, 'skipped_no_sync', r.skipped.noSync)
        .hincrby(key, 'skipped_no_consent', r.skipped.noConsent).hset(key, 'last_success_at', r.at, 'consecutive_failures', 0);
    } else {
      m.hincrby(key, 'failures', 1).hincrby(key, 'consecutive_failures', 1).hset(key, 'last_error', r.error, 'last_error_at', r.at);
    }
    await execPipeline(m);
  }

  /** Delivery status of each partner (the `push:<partner>` hash as numbers and strings). */
  async status(tenant: string, partners: readonly string[]): Promise<Record<string, Record<string, string | number>>> {
    const keys = tenantKeys(this.#namespace, tenant);
    const p = this.#redis.pipeline();
    for (const partner of partners) p.hgetall(keys.push(partner));
    const r = await execPipeline(p);
    return Object.fromEntries(partners.map((partner, i) => [partner, Object.fromEntries(
      Object.entries(r[i] as Record<string, string>).map(([k, v]) => [k, k === 'last_error' ? v : Number(v)]),
    )]));
  }
}
