import { randomBytes } from 'node:crypto';
import type { PulseEvent } from '../collection/event.ts';
import type { Identifier } from '../identity/identifier.ts';
import { defineScript, execPipeline, type RedisClient, type Script } from '../infra/redis.ts';
import { RedisFeatureStore } from '../segments/features.redis.ts';
import type { EventFeature } from '../segments/features.ts';
import { tenantKeys, type ProfileKeys, type TenantKeys } from './keys.ts';
import { throwIfPaused } from './layout.redis.ts';
import { counterName } from './model.ts';
import type { IdentityLimits, ProfilePolicies } from './policy.ts';
import { RedisProfileStore } from './profile.redis.ts';
import type { ProfileSnapshot, Side, SwapOutcome, SwapRequest, UnmergeScratch, UnmergeState } from './unmerge.ts';

/** Events replayed per pipeline. */
const CHUNK = 500;
/** Scratch keys expire after this even when the unmerge dies half-way (its cleanup deletes them before). */
const SCRATCH_TTL_SECONDS = 3600;
/**
 * What a scratch profile holds besides its event feature zsets (which keep the expiry
 * record-features.lua gives them: a zset of an all-time feature outlives a dead unmerge).
 */
const PROFILE_PARTS = ['hash', 'ids', 'traits', 'tord', 'counts', 'computed', 'ftotals', 'fkeys', 'segs'] as const satisfies readonly (keyof ProfileKeys)[];

/**
 * The Redis side of UnmergeProfile: reads a profile's version and event count, rebuilds each side
 * by replaying its events into a scratch namespace with the ordinary profile and features stores
 * (so the replay takes the same Lua scripts, policies and de-dup as ingest, on de-dup keys of its
 * own), and installs both sides in one atomic script (unmerge.lua).
 */
export class RedisUnmergeState implements UnmergeState {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #options: { policies?: ProfilePolicies; limits?: IdentityLimits };
  readonly #swap: Script;

  constructor(redis: RedisClient, namespace: string, options: { policies?: ProfilePolicies; limits?: IdentityLimits } = {}) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#options = options;
    this.#swap = defineScript(redis, 'pulseUnmerge', new URL('./unmerge.lua', import.meta.url), 2);
  }

  async snapshot(tenant: string, profileId: string): Promise<ProfileSnapshot | undefined> {
    const keys = tenantKeys(this.#namespace, tenant);
    let id = profileId;
    // A merged-away id reads as its survivor; the bound only guards against a corrupted cycle.
    for (let hops = 0; hops < 64; hops++) {
      const pk = keys.profile(id);
      const [meta, counts, ids, traits] = (await execPipeline(
        this.#redis.multi().hmget(pk.hash, 'version', 'merged_into').hgetall(pk.counts).smembers(pk.ids).hgetall(pk.traits),
      )) as [[string | null, string | null], Record<string, string>, string[], Record<string, string>];
      const [version, into] = meta;
      if (into !== null) {
        id = into;
        continue;
      }
      if (version === null) return undefined;
      // Every applied event adds one to exactly one counter, merges add the counters up.
      const events = Object.values(counts).reduce((n, c) => n + Number(c), 0);
      return { profileId: id, version: Number(version), events, identifiers: ids.sort(), traits };
    }
    return undefined;
  }

  scratch(tenant: string): UnmergeScratch {
    // Another namespace but the same `{tenant}` hash tag: the swap script reaches both in one slot.
    const namespace = `${this.#namespace.slice(0, 16)}_um${randomBytes(5).toString('hex')}`;
    return new RedisScratch(this.#redis, tenant, this.#namespace, namespace, this.#options, this.#swap);
  }

  async traits(tenant: string, profileIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const keys = tenantKeys(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const pid of profileIds) pipeline.hgetall(keys.profile(pid).traits);
    const r = await execPipeline(pipeline);
    return new Map(profileIds.map((pid, i) => [pid, r[i] as Record<string, string>]));
  }

  async repointDedup(tenant: string, messageIds: readonly string[], profileId: string): Promise<void> {
    const keys = tenantKeys(this.#namespace, tenant);
    for (let i = 0; i < messageIds.length; i += CHUNK) {
      const pipeline = this.#redis.pipeline();
      // Only keys still alive: a redelivered event then reads as a duplicate of the side it went to.
      for (const mid of messageIds.slice(i, i + CHUNK)) pipeline.set(keys.dedup(mid), profileId, 'KEEPTTL', 'XX');
      await execPipeline(pipeline);
    }
  }
}

/**
 * The one made-up identifier of a side: every event replayed for the side lands on its one scratch
 * profile, with no identity guardrail in the way (the sides' identifiers are the caller's to say).
 */
function sideIdentifier(side: Side): Identifier {
  return { type: 'cookie', id: `unmerge-side-${side}` };
}

class RedisScratch implements UnmergeScratch {
  readonly namespace: string;
  readonly #redis: RedisClient;
  readonly #tenant: string;
  readonly #real: TenantKeys;
  readonly #keys: TenantKeys;
  readonly #profiles: RedisProfileStore;
  readonly #features: RedisFeatureStore;
  readonly #swap: Script;
  readonly #sides = new Map<Side, string>();
  readonly #replayed = new Set<string>();

  constructor(redis: RedisClient, tenant: string, realNamespace: string, namespace: string, options: { policies?: ProfilePolicies; limits?: IdentityLimits }, swap: Script) {
    this.#redis = redis;
    this.#tenant = tenant;
    this.#real = tenantKeys(realNamespace, tenant);
    this.namespace = namespace;
    this.#keys = tenantKeys(namespace, tenant);
    this.#profiles = new RedisProfileStore(redis, namespace, SCRATCH_TTL_SECONDS, options);
    this.#features = new RedisFeatureStore(redis, namespace, SCRATCH_TTL_SECONDS);
    this.#swap = swap;
  }

  async replay(side: Side, events: readonly PulseEvent[], features: readonly EventFeature[], now: number): Promise<void> {
    const identifiers = [sideIdentifier(side)];
    // A redo after the profile changed replays only what is new (the scripts would skip the rest too).
    const fresh = events.filter((e) => !this.#replayed.has(e.messageId));
    for (let i = 0; i < fresh.length; i += CHUNK) {
      const chunk = fresh.slice(i, i + CHUNK);
      const results = await this.#profiles.applyEvents(this.#tenant, chunk.map((e) => ({ ...e, identifiers })));
      const pid = results[0]?.profileId;
      if (pid === undefined) continue;
      this.#sides.set(side, pid);
      await this.#features.record(this.#tenant, chunk.map((e) => ({ profileId: pid, messageId: e.messageId, event: counterName(e), properties: e.properties, at: e.timestamp })), features, now);
      for (const e of chunk) this.#replayed.add(e.messageId);
      const pk = this.#keys.profile(pid);
      const pipeline = this.#redis.pipeline();
      for (const part of PROFILE_PARTS) pipeline.expire(pk[part], SCRATCH_TTL_SECONDS);
      pipeline.expire(this.#keys.identifier(sideIdentifier(side)), SCRATCH_TTL_SECONDS);
      await execPipeline(pipeline);
    }
  }

  async swap(req: SwapRequest): Promise<SwapOutcome> {
    const r = throwIfPaused(this.#tenant, await this.#swap.run([this.#real.prefix, this.#keys.prefix], [
      req.profileId, String(req.expectedVersion), req.newProfileId, this.#sides.get('a') ?? '', this.#sides.get('b') ?? '', req.now, req.consentTrait,
      req.split.length, ...req.split, req.repoint.length, ...req.repoint,
    ])) as string[];
    switch (r[0]) {
      case 'ok': return { kind: 'ok', versionA: Number(r[1]), versionB: Number(r[2]) };
      case 'changed': return { kind: 'changed' };
      case 'merged': return { kind: 'merged', into: r[1] ?? '' };
      case 'moved': return { kind: 'moved', identifier: r[1] ?? '' };
      default: return { kind: 'exists' };
    }
  }

  async discard(): Promise<void> {
    const keys: string[] = [];
    for (const [side, pid] of this.#sides) {
      const pk = this.#keys.profile(pid);
      for (const fid of await this.#redis.smembers(pk.fkeys)) keys.push(pk.feature(fid));
      for (const part of PROFILE_PARTS) keys.push(pk[part]);
      keys.push(this.#keys.identifier(sideIdentifier(side)));
    }
    for (const mid of this.#replayed) keys.push(this.#keys.dedup(mid), this.#keys.applied(mid), this.#keys.fdedup(mid));
    for (let i = 0; i < keys.length; i += CHUNK) await this.#redis.del(...keys.slice(i, i + CHUNK));
    this.#sides.clear();
    this.#replayed.clear();
  }
}
