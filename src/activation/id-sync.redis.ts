import { parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import { execPipeline, type RedisClient } from '../infra/redis.ts';
import type { Json } from '../json.ts';
import type { RedisLayout } from '../config/config.ts';
import { identifierSync, profileKeys, tenantKeys, type ProfileKeys } from '../profiles/keys.ts';
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
 * profile it belongs to now or later, merges included; status is the `push:<partner>` hash. On the
 * per-profile layout a sync lives in its identifier's slot and a profile's identifiers and traits in
 * the profile's: reads go out together (auto-pipelining groups them per node), never as one pipeline.
 */
export class RedisIdSync {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #layout: RedisLayout;

  constructor(redis: RedisClient, namespace: string, layout: RedisLayout = 'tenant') {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#layout = layout;
  }

  #syncKey(tenant: string, partner: string, identifier: Identifier): string {
    return this.#layout === 'tenant' ? tenantKeys(this.#namespace, tenant).sync(partner, identifier) : identifierSync(this.#namespace, tenant, partner, identifier);
  }

  #profileKeys(tenant: string): (pid: string) => ProfileKeys {
    if (this.#layout === 'profile') return (pid) => profileKeys(this.#namespace, tenant, pid);
    const keys = tenantKeys(this.#namespace, tenant);
    return (pid) => keys.profile(pid);
  }

  /** Remembers that `partner` knows the person behind `identifier` as `uid`. */
  async link(tenant: string, partner: string, identifier: Identifier, uid: string): Promise<void> {
    await this.#redis.set(this.#syncKey(tenant, partner, identifier), uid, 'EX', SYNC_TTL_SECONDS);
  }

  /** For each profile: the partner's user ids (over all its identifiers) and its `$consent` trait. */
  async subjects(tenant: string, partner: string, profileIds: readonly string[]): Promise<Map<string, PushSubject>> {
    const keysOf = this.#profileKeys(tenant);
    const read = await Promise.all(profileIds.map(async (pid) => {
      const pk = keysOf(pid);
      const [ids, consent] = await Promise.all([this.#redis.smembers(pk.ids), this.#redis.hget(pk.traits, '$consent')]);
      const uids = await Promise.all(ids.map((idKey) => this.#redis.get(this.#syncKey(tenant, partner, parseIdentifierKey(idKey)))));
      return [pid, {
        partnerUids: [...new Set(uids.filter((u): u is string => typeof u === 'string'))].sort(),
        consent: typeof consent === 'string' ? (JSON.parse(consent) as Json) : undefined,
      }] as const;
    }));
    return new Map(read);
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
