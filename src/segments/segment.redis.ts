import { TENANT_PATTERN } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import { defineScript, execPipeline, type Script, type RedisClient } from '../infra/redis.ts';
import { tenantKeys, tenantsKey } from '../profiles/keys.ts';
import { throwIfPaused } from '../profiles/layout.redis.ts';
import type { SegmentDefinition } from './model.ts';
import { readProfileSignals } from './signals.redis.ts';
import type { DueProfile, FencedWrite, MembershipChange, MembershipWrite, ProfileSignals, SegmentStore } from './store.ts';

/**
 * Segment definitions (`segments` hash, names in `segnames` for the lookup script), membership
 * (per profile `p:<id>:segs`, per segment `seg:<id>:members`), the `due` zset of time-based
 * re-evaluations, and `<ns>:tenants` (tenants with segments, read by the segment clock).
 */
export class RedisSegmentStore implements SegmentStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  /** `<ns>:tenants` (the namespace is checked here, once). */
  readonly #tenants: string;
  readonly #membership: Script;
  readonly #claim: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#tenants = tenantsKey(namespace);
    this.#membership = defineScript(redis, 'pulseMembership', new URL('./membership.lua', import.meta.url), 1);
    this.#claim = defineScript(redis, 'pulseClaimDue', new URL('./claim-due.lua', import.meta.url), 1);
  }

  async create(tenant: string, def: SegmentDefinition): Promise<void> {
    const keys = tenantKeys(this.#namespace, tenant);
    const created = await this.#redis.hsetnx(keys.segments, def.id, JSON.stringify(def));
    if (created === 0) throw new PulseError('ALREADY_EXISTS', `segment ${def.id} already exists`, { field: 'id' });
    await execPipeline(this.#redis.multi().hset(keys.segnames, def.id, def.name).incr(keys.catalogVersion));
    await this.addTenant(tenant);
  }

  async get(tenant: string, id: string): Promise<SegmentDefinition | undefined> {
    const raw = await this.#redis.hget(tenantKeys(this.#namespace, tenant).segments, id);
    return raw === null ? undefined : (JSON.parse(raw) as SegmentDefinition);
  }

  async list(tenant: string): Promise<SegmentDefinition[]> {
    const all = await this.#redis.hgetall(tenantKeys(this.#namespace, tenant).segments);
    return Object.values(all).map((v) => JSON.parse(v) as SegmentDefinition).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async delete(tenant: string, id: string): Promise<boolean> {
    const keys = tenantKeys(this.#namespace, tenant);
    const [removed] = (await execPipeline(
      this.#redis.multi().hdel(keys.segments, id).hdel(keys.segnames, id).del(keys.segMembers(id)).incr(keys.catalogVersion),
    )) as [number];
    return removed === 1;
  }

  async writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<MembershipChange[]> {
    return (await this.tryWriteMembership(tenant, profileId, version, membership, write)).changes;
  }

  async tryWriteMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<FencedWrite> {
    const { prefix } = tenantKeys(this.#namespace, tenant);
    const args = membership.flatMap(([id, inside]) => [id, inside ? '1' : '0']);
    const flat = throwIfPaused(tenant, await this.#membership.run([prefix], [
      profileId, version, write?.at ?? 0, write?.schedule ?? 'none', write?.nextChange ?? '', write?.definitions ?? '', ...args,
    ])) as string[];
    const changes: MembershipChange[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      changes.push({ kind: flat[i] === 'enter' ? 'enter' : 'exit', segmentId: flat[i + 1] ?? '', profileId });
    }
    return { changes, stale: flat[0] === 'stale' };
  }

  async claimDue(tenant: string, now: number, limit: number, leaseMs: number): Promise<DueProfile[]> {
    const flat = (await this.#claim.run([tenantKeys(this.#namespace, tenant).due], [now, limit, leaseMs])) as string[];
    const out: DueProfile[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ profileId: flat[i] as string, due: Number(flat[i + 1]) });
    return out;
  }

  signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>> {
    const keys = tenantKeys(this.#namespace, tenant);
    return readProfileSignals(this.#redis, (pid) => keys.profile(pid), profileIds);
  }


  async addTenant(tenant: string): Promise<void> {
    if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant ${JSON.stringify(tenant)}`);
    await this.#redis.sadd(this.#tenants, tenant);
  }

  async tenants(): Promise<string[]> {
    return (await this.#redis.smembers(this.#tenants)).sort();
  }
}
