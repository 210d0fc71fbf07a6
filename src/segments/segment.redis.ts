import type { Redis } from 'ioredis';
import { PulseError } from '../errors.ts';
import { defineScript, execPipeline, type Script } from '../infra/redis.ts';
import { tenantPrefix } from '../profiles/keys.ts';
import type { SegmentDefinition } from './model.ts';
import type { MembershipChange, SegmentStore } from './store.ts';

/**
 * Segment definitions (`segments` hash, names in `segnames` for the lookup script) and membership
 * (per profile `p:<id>:segs`, per segment `seg:<id>:members`) in Redis.
 */
export class RedisSegmentStore implements SegmentStore {
  readonly #redis: Redis;
  readonly #namespace: string;
  readonly #membership: Script;

  constructor(redis: Redis, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#membership = defineScript(redis, 'pulseMembership', new URL('./membership.lua', import.meta.url), 1);
  }

  async create(tenant: string, def: SegmentDefinition): Promise<void> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const created = await this.#redis.hsetnx(`${prefix}segments`, def.id, JSON.stringify(def));
    if (created === 0) throw new PulseError('ALREADY_EXISTS', `segment ${def.id} already exists`, { field: 'id' });
    await this.#redis.hset(`${prefix}segnames`, def.id, def.name);
  }

  async get(tenant: string, id: string): Promise<SegmentDefinition | undefined> {
    const raw = await this.#redis.hget(`${tenantPrefix(this.#namespace, tenant)}segments`, id);
    return raw === null ? undefined : (JSON.parse(raw) as SegmentDefinition);
  }

  async list(tenant: string): Promise<SegmentDefinition[]> {
    const all = await this.#redis.hgetall(`${tenantPrefix(this.#namespace, tenant)}segments`);
    return Object.values(all).map((v) => JSON.parse(v) as SegmentDefinition).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async delete(tenant: string, id: string): Promise<boolean> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const [removed] = (await execPipeline(
      this.#redis.multi().hdel(`${prefix}segments`, id).hdel(`${prefix}segnames`, id).del(`${prefix}seg:${id}:members`),
    )) as [number];
    return removed === 1;
  }

  async writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][]): Promise<MembershipChange[]> {
    const prefix = tenantPrefix(this.#namespace, tenant);
    const args = membership.flatMap(([id, inside]) => [id, inside ? '1' : '0']);
    const flat = (await this.#membership.run([prefix], [profileId, version, ...args])) as string[];
    const changes: MembershipChange[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      changes.push({ kind: flat[i] === 'enter' ? 'enter' : 'exit', segmentId: flat[i + 1] ?? '', profileId });
    }
    return changes;
  }
}
