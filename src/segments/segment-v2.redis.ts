import { MAX_REDIS_BUCKETS } from '../config/config.ts';
import { defineScript, execPipeline, type RedisClient, type Script } from '../infra/redis.ts';
import { bucketKeys, bucketOf, profileKeys, tenantKeys, type BucketKeys } from '../profiles/keys.ts';
import { splitDraws } from './estimate-sample.ts';
import { RedisSegmentStore } from './segment.redis.ts';
import { readProfileSignals } from './signals.redis.ts';
import type { DueProfile, FencedWrite, MembershipChange, MembershipWrite, ProfileIndex, ProfileSignals } from './store.ts';

/** What a membership write did to the profile (membership-v2.lua) and then to its bucket (bucket-sync.lua). */
export interface MembershipWriteResult {
  /** `ok`: written; `stale`: an older evaluation than the last written, nothing changed; `gone`: the profile is merged (or being merged) into `into`, nothing written. */
  readonly outcome: 'ok' | 'stale' | 'gone';
  /** The profile's `seg_seq` after the write (0 when gone). */
  readonly seq: number;
  readonly changes: MembershipChange[];
  /** Set when gone: the profile it was merged into. */
  readonly into?: string;
  /** What the bucket answered (`skipped` when the write changed nothing the bucket holds), after a `full` repair when the delta found a gap. */
  readonly bucket: BucketOutcome | 'skipped';
}

/** bucket-sync.lua's answers, and `repaired` (a gap closed by a full write). */
export type BucketOutcome = 'ok' | 'dup' | 'gap' | 'gone' | 'repaired';

/** Tombstones of gone profiles stay in the profile index this long (a delayed write cannot bring one back meanwhile). */
export const TOMBSTONE_MS = 3_600_000;

/**
 * Segment membership in the per-profile layout (src/profiles/per-profile-layout.md §4): a profile's `segs`,
 * `seg_seq` and `next_change` in its own slot `<ns>:{<tenant>:<pid>}:` are exact; the per-segment
 * member sets, `due` and the profile index are split into the tenant's `buckets` buckets
 * `<ns>:{<tenant>:s<b>}:` (b = bucketOf(pid)) and brought up to each profile's membership after its
 * write, idempotently (bucket-sync.lua), so they are eventually consistent.
 * Every call is a single-slot command or script; commands to many slots are issued concurrently
 * (auto-pipelining batches them per node), never as one pipeline, which a Cluster client refuses
 * across slots.
 * Segment definitions (`segments`, `segnames`, `<ns>:tenants`) stay under the tenant tag:
 * RedisSegmentStore keeps them.
 */
export class RedisMembershipStoreV2 implements ProfileIndex {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #buckets: number;
  readonly #membership: Script;
  readonly #sync: Script;
  readonly #claim: Script;

  /** `buckets`: the tenant's bucket count (PULSE_REDIS_BUCKETS, later the `{t}:layout` record). */
  constructor(redis: RedisClient, namespace: string, buckets: number) {
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_REDIS_BUCKETS) throw new Error(`invalid bucket count ${buckets}: an integer from 1 to ${MAX_REDIS_BUCKETS}`);
    this.#redis = redis;
    this.#namespace = namespace;
    this.#buckets = buckets;
    this.#membership = defineScript(redis, 'pulseMembershipV2', new URL('./membership-v2.lua', import.meta.url), 1);
    this.#sync = defineScript(redis, 'pulseBucketSync', new URL('./bucket-sync.lua', import.meta.url), 1);
    this.#claim = defineScript(redis, 'pulseClaimDue', new URL('./claim-due.lua', import.meta.url), 1);
  }

  /** RedisSegmentStore.writeMembership on this layout: the changes written (none when stale or gone). */
  async writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<MembershipChange[]> {
    return (await this.write(tenant, profileId, version, membership, write)).changes;
  }

  /** RedisSegmentStore.tryWriteMembership on this layout (a profile merged away is not stale: its survivor is evaluated on its own). */
  async tryWriteMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<FencedWrite> {
    const r = await this.write(tenant, profileId, version, membership, write);
    return { changes: r.changes, stale: r.outcome === 'stale' };
  }

  /**
   * Writes membership evaluated at profile `version` to the profile (fenced as
   * RedisSegmentStore.writeMembership), then, when that bumped `seg_seq`, the same change to the
   * profile's bucket; a bucket that missed an earlier write gets the profile's full state instead.
   */
  async write(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<MembershipWriteResult> {
    const pk = profileKeys(this.#namespace, tenant, profileId);
    const r = (await this.#membership.run([pk.prefix], [
      version, write?.at ?? 0, write?.schedule ?? 'none', write?.nextChange ?? '', write?.definitions ?? '',
      ...membership.flatMap(([id, inside]) => [id, inside ? '1' : '0']),
    ])) as [string, number | string, string[]?, string?, string?];
    if (r[0] === 'gone') return { outcome: 'gone', seq: 0, changes: [], into: String(r[1]), bucket: 'skipped' };
    const seq = Number(r[1]);
    if (r[0] === 'stale') return { outcome: 'stale', seq, changes: [], bucket: 'skipped' };
    const flat = r[2] ?? [];
    const schedule = r[3] ?? 'none';
    const changes: MembershipChange[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) changes.push({ kind: flat[i] === 'enter' ? 'enter' : 'exit', segmentId: flat[i + 1] ?? '', profileId });
    if (changes.length === 0 && schedule === 'none') return { outcome: 'ok', seq, changes, bucket: 'skipped' };
    const answer = await this.#bucketSync(tenant, profileId, ['delta', seq, schedule, r[4] ?? '', ...flat]);
    return { outcome: 'ok', seq, changes, bucket: answer === 'gap' ? await this.repair(tenant, profileId) : answer };
  }

  /**
   * For a redelivered batch (a crash may have come between a profile's write and its bucket's):
   * whether the bucket has the profile's last write, repaired with a full write when not.
   */
  async check(tenant: string, profileId: string): Promise<BucketOutcome> {
    const seq = await this.#redis.hget(profileKeys(this.#namespace, tenant, profileId).hash, 'seg_seq');
    const answer = await this.#bucketSync(tenant, profileId, ['check', Number(seq ?? 0)]);
    return answer === 'gap' ? this.repair(tenant, profileId) : answer;
  }

  /**
   * Brings the profile's bucket to the profile's full membership (`segs`, `seg_seq`, `next_change`
   * read in one transaction of the profile's slot), reconciling every segment set of the tenant.
   * A profile merged or being merged is left alone (its merge removes it: gone).
   */
  async repair(tenant: string, profileId: string): Promise<BucketOutcome> {
    const pk = profileKeys(this.#namespace, tenant, profileId);
    const [[state, seq, next], segs] = (await execPipeline(this.#redis.multi().hmget(pk.hash, 'state', 'seg_seq', 'next_change').smembers(pk.segs))) as [(string | null)[], string[]];
    if (state === 'merged' || state === 'frozen') return 'gone';
    const inside = new Set(segs);
    const others = (await this.#segmentIds(tenant)).filter((s) => !inside.has(s));
    const answer = await this.#bucketSync(tenant, profileId, ['full', Number(seq ?? 0), next ?? '', inside.size, ...inside, ...others]);
    return answer === 'ok' ? 'repaired' : answer;
  }

  /**
   * Removes a profile merged away (merge step M4, MergeOptions.gone) from its bucket: from every
   * segment set (`segments`, the loser's `segs` read before its tombstone dropped them, those it
   * still has, and the tenant's) and `due`, its index entry a tombstone scored -now, so no delayed
   * write brings it back.
   */
  async gone(tenant: string, profileId: string, segments: readonly string[] = [], now: number = Date.now()): Promise<void> {
    const [segs, all] = await Promise.all([this.#redis.smembers(profileKeys(this.#namespace, tenant, profileId).segs), this.#segmentIds(tenant)]);
    await this.#bucketSync(tenant, profileId, ['gone', now, ...new Set([...segments, ...all, ...segs])]);
  }

  /**
   * RedisSegmentStore.claimDue over the buckets: up to ⌈limit / buckets⌉ from each bucket's `due`
   * (claim-due.lua, so each claim is atomic and leased), earliest due first. At most
   * buckets × ⌈limit / buckets⌉ profiles, which may be a little more than `limit`.
   */
  async claimDue(tenant: string, now: number, limit: number, leaseMs: number): Promise<DueProfile[]> {
    const each = Math.ceil(limit / this.#buckets);
    if (each <= 0) return [];
    const claimed = await this.#eachBucket(tenant, (b) => this.#claim.run([b.due], [now, each, leaseMs]) as Promise<string[]>);
    const out: DueProfile[] = [];
    for (const flat of claimed) for (let i = 0; i + 1 < flat.length; i += 2) out.push({ profileId: flat[i] as string, due: Number(flat[i + 1]) });
    return out.sort((a, b) => a.due - b.due || a.profileId.localeCompare(b.profileId));
  }

  /** Last seen, last full evaluation and stored membership of profiles (each in its own slot). */
  signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>> {
    return readProfileSignals(this.#redis, (pid) => profileKeys(this.#namespace, tenant, pid), profileIds);
  }

  /** How many profiles each segment has: Σ SCARD over the buckets. */
  async reach(tenant: string, segmentIds: readonly string[]): Promise<Map<string, number>> {
    const sizes = await Promise.all(segmentIds.map(async (sid) => (await this.#eachBucket(tenant, (b) => this.#redis.scard(b.segMembers(sid)))).reduce((a, n) => a + n, 0)));
    return new Map(segmentIds.map((sid, i) => [sid, sizes[i] ?? 0]));
  }

  /** The profiles in a segment, SSCAN bucket by bucket, in batches of about `batch`. */
  async *members(tenant: string, segmentId: string, batch = 1000): AsyncGenerator<string[]> {
    for (let b = 0; b < this.#buckets; b++) {
      const key = this.#bucketKeys(tenant, b).segMembers(segmentId);
      let cursor = '0';
      do {
        const [next, ids] = await this.#redis.sscan(key, cursor, 'COUNT', batch);
        cursor = next;
        if (ids.length > 0) yield ids;
      } while (cursor !== '0');
    }
  }

  /** Drops a segment's member sets (a deleted segment): UNLINK in every bucket. */
  async deleteMembers(tenant: string, segmentId: string): Promise<void> {
    await this.#eachBucket(tenant, (b) => this.#redis.unlink(b.segMembers(segmentId)));
  }

  /** Adds profiles to the profile index (ZADD NX score 0: nothing synced yet; idempotent, tombstones kept). */
  async indexProfiles(tenant: string, profileIds: readonly string[]): Promise<void> {
    const byBucket = new Map<number, string[]>();
    for (const pid of new Set(profileIds)) {
      const b = bucketOf(pid, this.#buckets);
      byBucket.set(b, [...(byBucket.get(b) ?? []), pid]);
    }
    await Promise.all([...byBucket].map(async ([b, ids]) => {
      const key = this.#bucketKeys(tenant, b).profiles;
      // In chunks: spreading many thousand ids into one call overflows the stack.
      for (let i = 0; i < ids.length; i += 1000) await this.#redis.zadd(key, 'NX', ...ids.slice(i, i + 1000).flatMap((id) => [0, id]));
    }));
  }

  /** Entries of the profile index, tombstones included (the population Estimate samples): Σ ZCARD. */
  async indexSize(tenant: string): Promise<number> {
    return (await this.#bucketSizes(tenant)).reduce((a, n) => a + n, 0);
  }

  /**
   * A uniform random sample of `n` distinct entries of the index, as
   * RedisSegmentDefinitions.sampleProfiles: per-bucket counts from a hypergeometric split of `n`
   * over the bucket sizes, then ZRANDMEMBER per bucket. A tombstone (negative score), a profile
   * merged away or one with no profile hash counts as not live.
   */
  async sampleProfiles(tenant: string, n: number, random: () => number = Math.random): Promise<{ id: string; live: boolean }[]> {
    const split = splitDraws(n, await this.#bucketSizes(tenant), random);
    const drawn = await Promise.all(split.map(async (k, b) => (k === 0 ? [] : this.#redis.zrandmember(this.#bucketKeys(tenant, b).profiles, k, 'WITHSCORES'))));
    const entries = drawn.flatMap((flat) => pairs(flat));
    const state = await this.#state(tenant, entries);
    return entries.map(([id], i) => ({ id, live: state[i] === 'live' }));
  }

  /**
   * Every live profile of the tenant in batches, ZSCAN bucket by bucket (as
   * RedisSegmentDefinitions.scanProfiles walks its set). Entries with no profile hash leave the
   * index on the way, tombstones older than TOMBSTONE_MS at the end; a profile being merged stays
   * (its merge turns it into a tombstone) but is not yielded.
   */
  async *scanProfiles(tenant: string, batch: number, now: number = Date.now()): AsyncGenerator<string[]> {
    for await (const { key, entries } of this.#indexPages(tenant, batch)) {
      const state = await this.#state(tenant, entries);
      const missing = entries.filter((_, i) => state[i] === 'missing').map(([id]) => id);
      if (missing.length > 0) await this.#redis.zrem(key, ...missing);
      const live = entries.filter((_, i) => state[i] === 'live').map(([id]) => id);
      if (live.length > 0) yield live;
    }
    await this.#eachBucket(tenant, (b) => this.#redis.zremrangebyscore(b.profiles, `(${-(now - TOMBSTONE_MS)}`, '(0'));
  }

  /**
   * `pulse segments reindex` (§4.2): repairs every profile whose bucket lags behind its `seg_seq`
   * (a bucket write lost, and no later write or redelivery to notice), ZSCAN bucket by bucket.
   */
  async reindex(tenant: string, batch: number): Promise<{ checked: number; repaired: number }> {
    let checked = 0;
    let repaired = 0;
    for await (const { entries } of this.#indexPages(tenant, batch)) {
      const synced = entries.filter(([, score]) => score >= 0);
      const seqs = await Promise.all(synced.map(([id]) => this.#redis.hget(profileKeys(this.#namespace, tenant, id).hash, 'seg_seq')));
      const answers = await Promise.all(synced.filter(([, score], i) => Number(seqs[i] ?? 0) > score).map(([id]) => this.repair(tenant, id)));
      checked += synced.length;
      repaired += answers.filter((a) => a === 'repaired').length;
    }
    return { checked, repaired };
  }

  /** The profile index, ZSCAN bucket by bucket: each page's distinct [pid, score] entries and the bucket's key. */
  async *#indexPages(tenant: string, batch: number): AsyncGenerator<{ key: string; entries: [string, number][] }> {
    for (let b = 0; b < this.#buckets; b++) {
      const key = this.#bucketKeys(tenant, b).profiles;
      let cursor = '0';
      do {
        const [next, flat] = await this.#redis.zscan(key, cursor, 'COUNT', batch);
        cursor = next;
        yield { key, entries: [...new Map(pairs(flat))] };
      } while (cursor !== '0');
    }
  }

  /** `tombstone` (negative score), `missing` (no profile hash), `merged` (merged or being merged), or `live`; one HMGET per profile, issued concurrently. */
  async #state(tenant: string, entries: readonly (readonly [string, number])[]): Promise<('live' | 'merged' | 'missing' | 'tombstone')[]> {
    return Promise.all(entries.map(async ([id, score]) => {
      if (score < 0) return 'tombstone';
      const [version, state] = await this.#redis.hmget(profileKeys(this.#namespace, tenant, id).hash, 'version', 'state');
      if (version === null) return 'missing';
      return state === 'merged' || state === 'frozen' ? 'merged' : 'live';
    }));
  }

  async #bucketSizes(tenant: string): Promise<number[]> {
    return this.#eachBucket(tenant, (b) => this.#redis.zcard(b.profiles));
  }

  async #bucketSync(tenant: string, profileId: string, args: readonly (string | number)[]): Promise<BucketOutcome> {
    const [mode, ...rest] = args;
    const key = this.#bucketKeys(tenant, bucketOf(profileId, this.#buckets)).prefix;
    return (await this.#sync.run([key], [profileId, mode ?? '', ...rest])) as BucketOutcome;
  }

  /** The tenant's segment ids (its `segments` hash, under the tenant tag). */
  async #segmentIds(tenant: string): Promise<string[]> {
    return this.#redis.hkeys(tenantKeys(this.#namespace, tenant).segments);
  }

  #bucketKeys(tenant: string, bucket: number): BucketKeys {
    return bucketKeys(this.#namespace, tenant, bucket);
  }

  /** `f` on every bucket of the tenant concurrently, results in bucket order. */
  #eachBucket<T>(tenant: string, f: (keys: BucketKeys, bucket: number) => Promise<T>): Promise<T[]> {
    return Promise.all(Array.from({ length: this.#buckets }, (_, b) => f(this.#bucketKeys(tenant, b), b)));
  }
}

/** A flat `member, score, …` reply as [member, score] pairs. */
function pairs(flat: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
}

/**
 * The segment store of the per-profile layout: definitions, names, the catalog version and the
 * tenant list stay under the tenant's tag (RedisSegmentStore); membership, `due` and the profile
 * index are RedisMembershipStoreV2's.
 */
export class RedisSegmentStoreV2 extends RedisSegmentStore {
  readonly membership: RedisMembershipStoreV2;

  constructor(redis: RedisClient, namespace: string, membership: RedisMembershipStoreV2) {
    super(redis, namespace);
    this.membership = membership;
  }

  override writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<MembershipChange[]> {
    return this.membership.writeMembership(tenant, profileId, version, membership, write);
  }

  override tryWriteMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<FencedWrite> {
    return this.membership.tryWriteMembership(tenant, profileId, version, membership, write);
  }

  override claimDue(tenant: string, now: number, limit: number, leaseMs: number): Promise<DueProfile[]> {
    return this.membership.claimDue(tenant, now, limit, leaseMs);
  }

  override signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>> {
    return this.membership.signals(tenant, profileIds);
  }

  override async delete(tenant: string, id: string): Promise<boolean> {
    const removed = await super.delete(tenant, id);
    await this.membership.deleteMembers(tenant, id);
    return removed;
  }
}
