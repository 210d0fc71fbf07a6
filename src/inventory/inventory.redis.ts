import { PulseError } from '../errors.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { PROFILE_ID_PATTERN, tenantKeys } from '../profiles/keys.ts';
import type { ProfileIndex } from '../segments/store.ts';
import type { Inventory, Placement, WinStats } from './model.ts';

/** Membership kept elsewhere than under the tenant's tag (the per-profile layout's buckets, RedisMembershipStoreV2). */
export interface BucketedMembership extends Pick<ProfileIndex, 'signals'> {
  /** Members per segment. */
  reach(tenant: string, segmentIds: readonly string[]): Promise<Map<string, number>>;
}

/**
 * Inventory in Redis: `inventory` hash (inventory id -> JSON) and `placements` hash (placement id
 * -> inventory id, so a placement belongs to one site or app and MatchAudience finds it in one
 * read). Also reads what MatchAudience needs from the segments' keys: `segnames`,
 * `seg:<id>:members` (reach) and `p:<pid>:segs` (which segments a winning profile is in), or, on
 * the per-profile layout, the bucketed membership given.
 */
export class RedisInventoryStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #upsert: Script;
  readonly #membership: BucketedMembership | undefined;

  constructor(redis: RedisClient, namespace: string, membership?: BucketedMembership) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#membership = membership;
    this.#upsert = defineScript(redis, 'pulseUpsertInventory', new URL('./upsert-inventory.lua', import.meta.url), 1);
  }

  /**
   * Stores the inventory, replacing an earlier version with the same id (true when it is new).
   * A placement id already registered by another site or app is refused (ALREADY_EXISTS).
   */
  async upsert(tenant: string, inventory: Inventory): Promise<boolean> {
    const result = (await this.#upsert.run([tenantKeys(this.#namespace, tenant).prefix], [
      inventory.id, JSON.stringify(inventory), ...inventory.placements.map((p) => p.id),
    ])) as [string, string | number, string?];
    if (result[0] === 'conflict') {
      const index = inventory.placements.findIndex((p) => p.id === result[1]);
      const field = `placements[${index}].id`;
      throw new PulseError('ALREADY_EXISTS', `${field}: placement ${String(result[1])} belongs to inventory ${String(result[2])}`, { field });
    }
    return Number(result[1]) === 1;
  }

  /** The tenant's inventory, sorted by id. */
  async list(tenant: string): Promise<Inventory[]> {
    const all = await this.#redis.hgetall(tenantKeys(this.#namespace, tenant).inventory);
    return Object.values(all).map((v) => JSON.parse(v) as Inventory).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The placement and the inventory holding it, or undefined. */
  async placement(tenant: string, placementId: string): Promise<{ inventory: Inventory; placement: Placement } | undefined> {
    const keys = tenantKeys(this.#namespace, tenant);
    const owner = await this.#redis.hget(keys.placements, placementId);
    if (owner === null) return undefined;
    const json = await this.#redis.hget(keys.inventory, owner);
    if (json === null) return undefined;
    const inventory = JSON.parse(json) as Inventory;
    const placement = inventory.placements.find((p) => p.id === placementId);
    return placement === undefined ? undefined : { inventory, placement };
  }

  /** Every segment of the tenant with its name and member count (SCARD). */
  async segmentReach(tenant: string): Promise<{ id: string; name: string; reach: number }[]> {
    const keys = tenantKeys(this.#namespace, tenant);
    const names = Object.entries(await this.#redis.hgetall(keys.segnames));
    if (names.length === 0) return [];
    if (this.#membership !== undefined) {
      const reach = await this.#membership.reach(tenant, names.map(([id]) => id));
      return names.map(([id, name]) => ({ id, name, reach: reach.get(id) ?? 0 }));
    }
    const pipeline = this.#redis.pipeline();
    for (const [id] of names) pipeline.scard(keys.segMembers(id));
    const counts = await execPipeline(pipeline);
    return names.map(([id, name], i) => ({ id, name, reach: Number(counts[i]) }));
  }

  /**
   * Wins per segment: each winning profile's wins are credited to every segment it is in now
   * (membership at win time is not kept, so this is today's audience's value).
   */
  async winsBySegment(tenant: string, byProfile: readonly { profileId: string; wins: number; priceSum: number }[]): Promise<Map<string, WinStats>> {
    const out = new Map<string, WinStats>();
    if (byProfile.length === 0) return out;
    const keys = tenantKeys(this.#namespace, tenant);
    // Profile ids come back from the warehouse: only Pulse's own (UUIDs) become key parts.
    const profiles = byProfile.filter((p) => PROFILE_ID_PATTERN.test(p.profileId));
    let segs: Iterable<string>[];
    if (this.#membership === undefined) {
      const pipeline = this.#redis.pipeline();
      for (const p of profiles) pipeline.smembers(keys.profile(p.profileId).segs);
      segs = (await execPipeline(pipeline)) as string[][];
    } else {
      const signals = await this.#membership.signals(tenant, profiles.map((p) => p.profileId));
      segs = profiles.map((p) => signals.get(p.profileId)?.segments ?? []);
    }
    profiles.forEach((p, i) => {
      for (const seg of segs[i] ?? []) {
        const s = out.get(seg) ?? { wins: 0, priceSum: 0 };
        out.set(seg, { wins: s.wins + p.wins, priceSum: s.priceSum + p.priceSum });
      }
    });
    return out;
  }
}
