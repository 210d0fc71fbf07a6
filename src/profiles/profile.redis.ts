import { randomUUID } from 'node:crypto';
import type { PulseEvent } from '../collection/event.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import type { Json, JsonObject } from '../json.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import type { FactsInput } from '../segments/rule.ts';
import { tenantKeys, tenantPrefix } from './keys.ts';
import { throwIfPaused } from './layout.redis.ts';
import { byPriority, counterName, orderToken, type Applied, type Merge, type ProfileView, type RefusedMerge, type TraitChange } from './model.ts';
import {
  computedWrites, decodeComputed, decodeCounts, decodeTraits, DEFAULT_IDENTITY_LIMITS, eventSource, limitArgs, policyFor, policyTable, traitWrites,
  type IdentityLimits, type ProfilePolicies,
} from './policy.ts';
import type { ProfileStore } from './store.ts';

/** Profiles and the identity graph in Redis; every update is one atomic Lua call per event. */
export class RedisProfileStore implements ProfileStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #apply: Script;
  readonly #policies: ProfilePolicies;
  readonly #limits: string[];

  /** Without options every trait is last-write-wins and a profile holds one user_id of at most 100 identifiers. */
  constructor(redis: RedisClient, namespace: string, dedupTtlSeconds: number, options: { policies?: ProfilePolicies; limits?: IdentityLimits } = {}) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#policies = options.policies ?? new Map();
    const limits = options.limits ?? DEFAULT_IDENTITY_LIMITS;
    this.#limits = limitArgs(limits);
    this.#apply = defineScript(redis, 'pulseApplyEvent', new URL('./apply-event.lua', import.meta.url), 1);
  }

  async applyEvents(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]> {
    if (events.length === 0) return [];
    const prefix = tenantPrefix(this.#namespace, tenant);
    const policy = policyFor(this.#policies, tenant);
    const table = policyTable(policy);
    const pipeline = this.#redis.pipeline();
    for (const e of events) {
      const ids = byPriority(e.identifiers).map(identifierKey);
      const writes = traitWrites(policy, e.traits);
      const computed = computedWrites(policy, e);
      this.#apply.queue(pipeline, [prefix], [
        e.messageId, orderToken(e), String(e.timestamp), randomUUID(), this.#dedupTtlSeconds, counterName(e), eventSource(e),
        ...this.#limits, ...table, ids.length, ...ids, writes.length / 2, ...writes, computed.length / 3, ...computed,
      ]);
    }
    const results = throwIfPaused(tenant, await execPipeline(pipeline));
    return results.map((r) => {
      const [status, profileId, version, changed, merges, refused] = r as [string, string, string, [string, string][], [string, string, string][], [string, string, string][]];
      return {
        profileId,
        version: Number(version),
        duplicate: status === 'dup',
        traitChanges: changed.map(([trait, value]): TraitChange => ({ trait, value: JSON.parse(value) as Json })),
        merges: merges.map(([survivor, merged, moved]): Merge => ({
          survivor, merged, identifiers: moved === '' ? [] : moved.split('\n').map(parseIdentifierKey),
        })),
        refused: refused.map(([reason, idf, other]): RefusedMerge => ({ reason, identifier: parseIdentifierKey(idf), other })),
      };
    });
  }

  async facts(tenant: string, profileIds: readonly string[]): Promise<Map<string, { facts: FactsInput; version: number }>> {
    const keys = tenantKeys(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const pid of profileIds) {
      const pk = keys.profile(pid);
      pipeline.hgetall(pk.traits).hgetall(pk.counts).hget(pk.hash, 'version').hgetall(pk.computed);
    }
    const r = await execPipeline(pipeline);
    const out = new Map<string, { facts: FactsInput; version: number }>();
    profileIds.forEach((pid, i) => {
      const traits = { ...decodeTraits(r[4 * i] as Record<string, string>), ...decodeComputed(r[4 * i + 3] as Record<string, string>) };
      out.set(pid, {
        facts: { traits, eventCounts: decodeCounts(r[4 * i + 1] as Record<string, string>) },
        version: Number(r[4 * i + 2] ?? 0),
      });
    });
    return out;
  }

  async resolve(tenant: string, identifiers: readonly Identifier[]): Promise<string | undefined> {
    if (identifiers.length === 0) return undefined;
    const keys = tenantKeys(this.#namespace, tenant);
    const found = await this.#redis.mget(byPriority(identifiers).map((i) => keys.identifier(i)));
    return found.find((p): p is string => p !== null);
  }

  async get(tenant: string, profileId: string): Promise<ProfileView | undefined> {
    const keys = tenantKeys(this.#namespace, tenant);
    let id = profileId;
    // A merged-away id reads as its survivor; the bound only guards against a corrupted cycle.
    for (let hops = 0; hops < 64; hops++) {
      const pk = keys.profile(id);
      const [meta, ids, traits, counts, computed] = (await execPipeline(
        this.#redis.pipeline().hgetall(pk.hash).smembers(pk.ids).hgetall(pk.traits).hgetall(pk.counts).hgetall(pk.computed),
      )) as [Record<string, string>, string[], Record<string, string>, Record<string, string>, Record<string, string>];
      const into = meta['merged_into'];
      if (into !== undefined) {
        id = into;
        continue;
      }
      if (meta['version'] === undefined) return undefined;
      return {
        id,
        identifiers: ids.sort().map(parseIdentifierKey),
        traits: { ...decodeTraits(traits), ...decodeComputed(computed) },
        firstSeen: Number(meta['first_seen']),
        lastSeen: Number(meta['last_seen']),
        eventCounts: decodeCounts(counts),
        version: Number(meta['version']),
      };
    }
    return undefined;
  }

  async refusedMerges(tenant: string, limit: number): Promise<JsonObject[]> {
    const raw = await this.#redis.lrange(tenantKeys(this.#namespace, tenant).refusedMerges, 0, Math.max(0, limit - 1));
    return raw.map((r) => JSON.parse(r) as JsonObject);
  }
}
