import { PulseError } from '../errors.ts';
import { defineScript, execPipeline, type RedisClient, type Script } from '../infra/redis.ts';
import { tenantKeys, type TenantKeys } from '../profiles/keys.ts';
import type { SegmentDefinition } from './model.ts';
import { readProfileSignals } from './signals.redis.ts';
import type { ProfileIndex, ProfileSignals } from './store.ts';

/** A stored definition version: the definition plus its number and when it was written. */
export interface SegmentVersion extends SegmentDefinition {
  readonly version: number;
  readonly updatedAt: number;
}

/** Progress of a segment's backfill, as stored (see BackfillStatus in segment.proto). */
export interface BackfillProgress {
  readonly state: 'pending' | 'running' | 'done' | 'failed';
  readonly version: number;
  readonly done: number;
  readonly total: number;
  readonly entered: number;
  readonly exited: number;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  readonly error: string;
}

const STATES: ReadonlySet<string> = new Set(['pending', 'running', 'done', 'failed']);

/**
 * Versions of segment definitions (`segdef:<id>:versions`, a list, oldest first), backfill
 * progress (`segdef:<id>:backfill`, a hash) and the tenant's profile index (`profiles`, a set of
 * profile ids, what Estimate samples). The current definition stays in the `segments` hash that the
 * processor reads (RedisSegmentStore); an update rewrites it there and appends the version here in
 * one script.
 */
export class RedisSegmentDefinitions implements ProfileIndex {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #update: Script;
  readonly #lease: Script;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#update = defineScript(redis, 'pulseSegmentUpdate', new URL('./definition-update.lua', import.meta.url), 1);
    this.#lease = defineScript(redis, 'pulseBackfillLease', new URL('./backfill-lease.lua', import.meta.url), 1);
  }

  #keys(tenant: string): TenantKeys {
    return tenantKeys(this.#namespace, tenant);
  }

  /** Records version 1 of a segment just created. */
  async recordCreated(tenant: string, def: SegmentDefinition): Promise<SegmentVersion> {
    const v: SegmentVersion = { ...def, version: 1, updatedAt: def.createdAt };
    const key = this.#keys(tenant).segmentVersions(def.id);
    await execPipeline(this.#redis.multi().del(key).rpush(key, JSON.stringify(v)));
    return v;
  }

  /**
   * Writes `next` as a new version of the current definition. NOT_FOUND when the segment does not
   * exist; retried when another update got in between (versions stay gapless).
   */
  async update(tenant: string, id: string, next: { readonly name: string; readonly rule: string }, now: number): Promise<SegmentVersion> {
    const keys = this.#keys(tenant);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.current(tenant, id);
      if (current === undefined) throw new PulseError('NOT_FOUND', `segment ${id} not found`);
      const listed = await this.#redis.llen(keys.segmentVersions(id));
      const { name, rule } = next;
      const v: SegmentVersion = { id, name, rule, createdAt: current.createdAt, version: current.version + 1, updatedAt: now };
      const r = Number(await this.#update.run([keys.prefix], [id, listed, JSON.stringify(v), name]));
      if (r === -1) throw new PulseError('NOT_FOUND', `segment ${id} not found`);
      if (r > 0) return v;
    }
    throw new PulseError('UNAVAILABLE', `segment ${id}: too many concurrent updates, try again`);
  }

  /** The current definition with its version (1 for a segment stored before versions existed). */
  async current(tenant: string, id: string): Promise<SegmentVersion | undefined> {
    const raw = await this.#redis.hget(this.#keys(tenant).segments, id);
    if (raw === null) return undefined;
    return withVersion(JSON.parse(raw) as SegmentDefinition & Partial<SegmentVersion>);
  }

  /** Every version, oldest first. */
  async versions(tenant: string, id: string): Promise<SegmentVersion[]> {
    const list = await this.#redis.lrange(this.#keys(tenant).segmentVersions(id), 0, -1);
    if (list.length > 0) return list.map((raw) => withVersion(JSON.parse(raw) as SegmentDefinition & Partial<SegmentVersion>));
    const current = await this.current(tenant, id);
    return current === undefined ? [] : [current];
  }

  /** Forgets the versions and backfill progress of a deleted segment. */
  async forget(tenant: string, id: string): Promise<void> {
    const keys = this.#keys(tenant);
    await this.#redis.del(keys.segmentVersions(id), keys.backfill(id), keys.backfillLease(id));
  }

  /**
   * Claims (or renews) the lease on running the segment's backfill for `owner` (a process), for
   * `ms`; false when another owner holds it. A process that dies leaves the lease to lapse, and a
   * live one then takes the job over (Backfills.resumeUnfinished).
   */
  async claimBackfill(tenant: string, id: string, owner: string, ms: number): Promise<boolean> {
    return Number(await this.#lease.run([this.#keys(tenant).backfillLease(id)], [owner, ms])) === 1;
  }

  /** Gives the lease up, if `owner` still holds it. */
  async releaseBackfill(tenant: string, id: string, owner: string): Promise<void> {
    const key = this.#keys(tenant).backfillLease(id);
    if ((await this.#redis.get(key)) === owner) await this.#redis.del(key);
  }

  /**
   * Backfills of the tenant's current definitions that never finished (pending or running, for the
   * current version) and that no process holds the lease of: what a crashed process left behind.
   */
  async orphanedBackfills(tenant: string): Promise<SegmentVersion[]> {
    const keys = this.#keys(tenant);
    const defs = Object.values(await this.#redis.hgetall(keys.segments)).map((raw) => withVersion(JSON.parse(raw) as SegmentDefinition & Partial<SegmentVersion>));
    if (defs.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const d of defs) pipeline.hmget(keys.backfill(d.id), 'state', 'version').exists(keys.backfillLease(d.id));
    const r = await execPipeline(pipeline);
    return defs.filter((d, i) => {
      const [state, version] = r[2 * i] as [string | null, string | null];
      const leased = r[2 * i + 1] === 1;
      return (state === 'pending' || state === 'running') && Number(version) === d.version && !leased;
    });
  }

  /** Overwrites (part of) the backfill progress. */
  async setProgress(tenant: string, id: string, progress: Partial<BackfillProgress>): Promise<void> {
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(progress)) if (v !== undefined) fields[k] = String(v);
    await this.#redis.hset(this.#keys(tenant).backfill(id), fields);
  }

  async progress(tenant: string, id: string): Promise<BackfillProgress | undefined> {
    const h = await this.#redis.hgetall(this.#keys(tenant).backfill(id));
    if (h.state === undefined || !STATES.has(h.state)) return undefined;
    const num = (s: string | undefined): number => Number(s ?? 0);
    const time = (s: string | undefined): number | undefined => (s === undefined || s === '' ? undefined : Number(s));
    return {
      state: h.state as BackfillProgress['state'], version: num(h.version), done: num(h.done), total: num(h.total),
      entered: num(h.entered), exited: num(h.exited), startedAt: time(h.startedAt), finishedAt: time(h.finishedAt), error: h.error ?? '',
    };
  }

  /** Adds profile ids to the tenant's profile index (idempotent). */
  async indexProfiles(tenant: string, profileIds: readonly string[]): Promise<void> {
    // In chunks: spreading a batch of many thousand ids into one call overflows the stack.
    const key = this.#keys(tenant).profiles;
    for (let i = 0; i < profileIds.length; i += 1000) await this.#redis.sadd(key, ...profileIds.slice(i, i + 1000));
  }

  /** Profiles in the index (merged-away ones included until a backfill scan drops them). */
  async indexSize(tenant: string): Promise<number> {
    return this.#redis.scard(this.#keys(tenant).profiles);
  }

  /**
   * A uniform random sample of `n` distinct ids of the index (SRANDMEMBER with a positive count),
   * each with whether it is live (not merged into another profile, not erased).
   */
  async sampleProfiles(tenant: string, n: number): Promise<{ id: string; live: boolean }[]> {
    const keys = this.#keys(tenant);
    const ids = await this.#redis.srandmember(keys.profiles, n);
    return this.#liveness(keys, ids);
  }

  async #liveness(keys: TenantKeys, ids: readonly string[]): Promise<{ id: string; live: boolean }[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.hmget(keys.profile(id).hash, 'version', 'merged_into');
    const r = (await execPipeline(pipeline)) as [string | null, string | null][];
    return ids.map((id, i) => {
      const [version, mergedInto] = r[i] ?? [null, null];
      return { id, live: version !== null && (mergedInto === null || mergedInto === '') };
    });
  }

  /**
   * Every live profile of the tenant in batches, walked with SSCAN over the tenant's profile index
   * (the processor adds every profile it applies an event to, duplicates included, so a crash
   * between applying and indexing is repaired by the redelivery): the walk costs the tenant's size,
   * not the whole keyspace's. Merged-away and erased profiles found on the way leave the index.
   * A background job's walk, never the hot path; profiles added during the walk may or may not be
   * seen (the real-time path evaluates them anyway).
   */
  async *scanProfiles(tenant: string, batch: number): AsyncGenerator<string[]> {
    const keys = this.#keys(tenant);
    let cursor = '0';
    do {
      const [next, ids] = await this.#redis.sscan(keys.profiles, cursor, 'COUNT', batch);
      cursor = next;
      const checked = await this.#liveness(keys, [...new Set(ids)]);
      const live = checked.filter((c) => c.live).map((c) => c.id);
      const dead = checked.filter((c) => !c.live).map((c) => c.id);
      if (dead.length > 0) await this.#redis.srem(keys.profiles, ...dead);
      if (live.length > 0) yield live;
    } while (cursor !== '0');
  }

  /** Last seen (`p:<id>` last_seen) and stored membership (`p:<id>:segs`) of profiles. */
  signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>> {
    const keys = this.#keys(tenant);
    return readProfileSignals(this.#redis, (pid) => keys.profile(pid), profileIds);
  }

}

function withVersion(d: SegmentDefinition & Partial<SegmentVersion>): SegmentVersion {
  return { id: d.id, name: d.name, rule: d.rule, createdAt: d.createdAt, version: d.version ?? 1, updatedAt: d.updatedAt ?? d.createdAt };
}
