import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PulseEvent } from '../collection/event.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import type { Json, JsonObject } from '../json.ts';
import { defineScript, execPipeline, type Script } from '../infra/redis.ts';
import type { FactsInput } from '../segments/rule.ts';
import { tenantPrefix } from './keys.ts';
import { byPriority, counterName, orderToken, type Applied, type ProfileView } from './model.ts';
import type { ProfileStore } from './store.ts';

/** Profiles and the identity graph in Redis; every update is one atomic Lua call per event. */
export class RedisProfileStore implements ProfileStore {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #apply: Script;

  constructor(redis: Redis, namespace: string, dedupTtlSeconds: number) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#apply = defineScript(redis, 'pulseApplyEvent', new URL('./apply-event.lua', import.meta.url), 1);
  }

  async applyEvents(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]> {
    if (events.length === 0) return [];
    const prefix = tenantPrefix(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const e of events) {
      const ids = byPriority(e.identifiers).map(identifierKey);
      const traits = Object.entries(e.traits).flatMap(([k, v]) => [k, JSON.stringify(v)]);
      this.#apply.queue(pipeline, [prefix], [
        e.messageId, orderToken(e), String(e.timestamp), randomUUID(), this.#dedupTtlSeconds, counterName(e),
        ids.length, ...ids, ...traits,
      ]);
    }
    const results = await execPipeline(pipeline);
    return results.map((r) => {
      const [status, profileId, version] = r as [string, string, string];
      return { profileId, version: Number(version), duplicate: status === 'dup' };
    });
  }

  async facts(tenant: string, profileIds: readonly string[]): Promise<Map<string, { facts: FactsInput; version: number }>> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const pipeline = this.#redis.pipeline();
    for (const pid of profileIds) {
      pipeline.hgetall(`${prefix}p:${pid}:traits`).hgetall(`${prefix}p:${pid}:counts`).hget(`${prefix}p:${pid}`, 'version');
    }
    const r = await execPipeline(pipeline);
    const out = new Map<string, { facts: FactsInput; version: number }>();
    profileIds.forEach((pid, i) => {
      out.set(pid, {
        facts: { traits: decodeTraits(r[3 * i] as Record<string, string>), eventCounts: decodeCounts(r[3 * i + 1] as Record<string, string>) },
        version: Number(r[3 * i + 2] ?? 0),
      });
    });
    return out;
  }

  async resolve(tenant: string, identifiers: readonly Identifier[]): Promise<string | undefined> {
    if (identifiers.length === 0) return undefined;
    const prefix = tenantPrefix(this.#namespace, tenant);
    const found = await this.#redis.mget(byPriority(identifiers).map((i) => `${prefix}id:${identifierKey(i)}`));
    return found.find((p): p is string => p !== null);
  }

  async get(tenant: string, profileId: string): Promise<ProfileView | undefined> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const pk = `${prefix}p:${profileId}`;
    const [meta, ids, traits, counts] = (await execPipeline(
      this.#redis.pipeline().hgetall(pk).smembers(`${pk}:ids`).hgetall(`${pk}:traits`).hgetall(`${pk}:counts`),
    )) as [Record<string, string>, string[], Record<string, string>, Record<string, string>];
    if (meta['version'] === undefined) return undefined;
    return {
      id: profileId,
      identifiers: ids.sort().map(parseIdentifierKey),
      traits: decodeTraits(traits),
      firstSeen: Number(meta['first_seen']),
      lastSeen: Number(meta['last_seen']),
      eventCounts: decodeCounts(counts),
      version: Number(meta['version']),
    };
  }
}

function decodeTraits(raw: Record<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(raw)) out[k] = JSON.parse(v) as Json;
  return out;
}

function decodeCounts(raw: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = Number(v);
  return out;
}
