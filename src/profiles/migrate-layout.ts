import { Cluster } from 'ioredis';
import { identifierProblem, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, execPipeline, type RedisClient, type Script } from '../infra/redis.ts';
import { RedisAudienceReader } from '../targeting/audience.redis.ts';
import { RedisAudienceReaderV2 } from '../targeting/audience-v2.redis.ts';
import {
  bucketKeys, bucketOf, identifierFrequency, identifierOwner, identifierSync, PROFILE_ID_PATTERN, profileKeys, tenantKeys, type TenantKeys,
} from './keys.ts';
import { parseLayout, type TenantLayout } from './layout.redis.ts';
import { RedisProfileStoreV2 } from './profile-v2.redis.ts';
import { RedisProfileStore } from './profile.redis.ts';

/*
 * `pulse migrate redis-layout` (src/profiles/per-profile-layout.md §8): one tenant, offline, from the
 * tenant layout (every key under `{t}`) to the per-profile layout.
 *   1. `{t}:layout` state=migrating: the v1 write scripts answer `paused` (processors nak),
 *      v2 processes are refused by the marker; lookups keep reading v1.
 *   2. copy: each profile (migrate-profile.lua in its slot; tombstones become state=merged, the
 *      absorbed profiles each survivor's `merged`; `dedup`/`applied`/`fdedup` grouped by the live
 *      profile into `:seen`/`:applied`; `fc:p:` to the profile), identifier keys (`id:`, `sync:`,
 *      `fc:i:`) to identifier slots, buckets (members, `due`, index) rebuilt from `segs` and `due`.
 *      `fcimp:` is not copied (§8).
 *   3. verify: counts, Σ buckets = SCARD v1, a deep compare of sampled profiles through the v1
 *      and v2 readers (profile view, lookup answer).
 *   4. `{t}:layout` layout=profile version=2 state=done.
 *   5. with cleanup, once done: UNLINK the tenant's v1 profile data (config families stay).
 * Every write replaces what a previous run wrote, so an interrupted migration is run again.
 */

/** What a migration run is told. */
export interface MigrateOptions {
  /** Count what would be copied; write nothing (not even the marker). */
  readonly dryRun?: boolean;
  /** After the migration (or for a tenant migrated before), UNLINK the v1 profile data. */
  readonly cleanup?: boolean;
  /** Buckets when the tenant's marker has none (PULSE_REDIS_BUCKETS). */
  readonly buckets: number;
  /** Profiles compared through the v1 and v2 readers (default 1000). */
  readonly sample?: number;
  /** Dedup TTL the stores are built with (only their reads are used here). */
  readonly dedupTtlSeconds?: number;
  /**
   * Wait after pausing the tenant before copying (default 5 s): a batch that passed the pause check
   * just before may still write what is not paused (features, the profile index, id syncs).
   */
  readonly graceMs?: number;
  /** Progress: a phase and how far it got. */
  readonly progress?: (phase: MigratePhase, done: number, total: number) => void | Promise<void>;
}

export type MigratePhase = 'pause' | 'scan' | 'profiles' | 'identifiers' | 'buckets' | 'verify' | 'cleanup';

/** What a run found and did. */
export interface MigrationReport {
  readonly tenant: string;
  /** `done`: migrated (now or before); `dry-run`; `failed`: the verification found differences (state stays migrating). */
  readonly outcome: 'done' | 'dry-run' | 'failed';
  readonly buckets: number;
  readonly profiles: number;
  readonly tombstones: number;
  readonly identifiers: number;
  readonly syncs: number;
  readonly identifierImpressions: number;
  /** De-dup entries (`dedup`, `applied`, `fdedup`) moved into profiles' `:seen`; `dropped`: those whose profile could not be found. */
  readonly dedup: { readonly moved: number; readonly dropped: number };
  /** Per segment: v1 SCARD and Σ SCARD over the buckets. */
  readonly segments: Readonly<Record<string, { readonly v1: number; readonly v2: number }>>;
  readonly sampled: number;
  /** What the verification found different (empty when it passed). */
  readonly problems: readonly string[];
  /** Keys UNLINKed by cleanup. */
  readonly removed: number;
}

/** The v1 keys of a tenant, by family (names without the tenant prefix). */
interface V1Keys {
  readonly profiles: string[];
  readonly ids: string[];
  readonly syncs: string[];
  readonly dedup: string[];
  readonly applied: Set<string>;
  readonly fdedup: string[];
  readonly identifierFc: string[];
  /** How many keys of the profile data families there are (what cleanup removes). */
  data: number;
}

/** Families of v1 profile data (cleanup removes them); everything else under `{t}` is config and stays. */
const DATA_FAMILY = /^(p:|id:|sync:|dedup:|applied:|fdedup:|fc:|fcimp:|seg:[^:]+:members$|due$|profiles$)/;
const PROFILE_HASH = /^p:([^:]+)$/;
const CHUNK = 64;
const HOPS = 64;

/** Runs the migration of one tenant (see the top of this file). */
export async function migrateRedisLayout(redis: RedisClient, namespace: string, tenant: string, options: MigrateOptions): Promise<MigrationReport> {
  return new Migration(redis, namespace, tenant, options).run();
}

class Migration {
  readonly #redis: RedisClient;
  readonly #ns: string;
  readonly #tenant: string;
  readonly #options: MigrateOptions;
  readonly #keys: TenantKeys;
  readonly #copy: Script;

  constructor(redis: RedisClient, namespace: string, tenant: string, options: MigrateOptions) {
    this.#redis = redis;
    this.#ns = namespace;
    this.#tenant = tenant;
    this.#options = options;
    this.#keys = tenantKeys(namespace, tenant);
    this.#copy = defineScript(redis, 'pulseMigrateProfile', new URL('./migrate-profile.lua', import.meta.url), 1);
  }

  async #progress(phase: MigratePhase, done: number, total: number): Promise<void> {
    await this.#options.progress?.(phase, done, total);
  }

  async run(): Promise<MigrationReport> {
    const marker = parseLayout(await this.#redis.hgetall(this.#keys.layout));
    const buckets = marker?.buckets ?? this.#options.buckets;
    const empty = {
      tenant: this.#tenant, buckets, profiles: 0, tombstones: 0, identifiers: 0, syncs: 0, identifierImpressions: 0, dedup: { moved: 0, dropped: 0 }, segments: {}, sampled: 0, problems: [], removed: 0,
    };
    if (marker?.layout === 'profile' && marker.state === 'done') {
      if (this.#options.dryRun === true || this.#options.cleanup !== true) return { ...empty, outcome: 'done' };
      return { ...empty, outcome: 'done', removed: await this.#cleanup() };
    }
    if (this.#options.dryRun !== true) {
      await this.#mark({ layout: 'tenant', version: 1, buckets, state: 'migrating' });
      await this.#progress('pause', 0, 1);
      await new Promise((resolve) => setTimeout(resolve, this.#options.graceMs ?? 5_000));
      await this.#progress('pause', 1, 1);
    }
    const v1 = await this.#scan();
    const known = new Set(v1.profiles);
    const tombs = await this.#tombstones(v1.profiles);
    const live = (pid: string): string | undefined => {
      let id = pid;
      for (let hops = 0; hops < HOPS; hops++) {
        if (!known.has(id)) return undefined;
        const into = tombs.get(id)?.into;
        if (into === undefined) return id;
        id = into;
      }
      return undefined;
    };
    const tombstones = [...tombs.keys()];
    const dedup = await this.#dedup(v1, live);
    const counts = {
      ...empty, profiles: v1.profiles.length - tombstones.length, tombstones: tombstones.length, identifiers: v1.ids.length, syncs: v1.syncs.length,
      identifierImpressions: v1.identifierFc.length, dedup: { moved: dedup.moved, dropped: dedup.dropped },
    };
    if (this.#options.dryRun === true) return { ...counts, outcome: 'dry-run' };

    const merged = new Map<string, string[]>();
    for (const l of tombstones) {
      const s = live(l);
      if (s !== undefined) merged.set(s, [...(merged.get(s) ?? []), l]);
    }
    const due = new Map(pairs(await this.#redis.zrange(this.#keys.due, 0, -1, 'WITHSCORES')));
    const segsOf = new Map<string, string[]>();
    let copied = 0;
    for (const chunk of chunks(v1.profiles, CHUNK)) {
      await Promise.all(chunk.map(async (pid) => {
        const tomb = tombs.get(pid);
        const snapshot = tomb === undefined
          ? await this.#snapshot(pid, merged.get(pid) ?? [], due.get(pid), dedup.byProfile.get(pid))
          : { into: live(pid) ?? tomb.into, p: tomb.created === null ? {} : { created: tomb.created } };
        if (tomb === undefined) segsOf.set(pid, (snapshot as { segs: string[] }).segs);
        await this.#copy.run([profileKeys(this.#ns, this.#tenant, pid).prefix], [JSON.stringify(snapshot)]);
      }));
      copied += chunk.length;
      await this.#progress('profiles', copied, v1.profiles.length);
    }
    await this.#identifiers(v1, live);
    const index = new Set(await this.#redis.smembers(this.#keys.profiles));
    // A deleted segment's id stays in the `segs` of its members (as on v1) but gets no member sets.
    const defined = new Set(await this.#redis.hkeys(this.#keys.segments));
    await this.#buckets(buckets, segsOf, defined, due, tombstones.filter((pid) => index.has(pid)));
    const verified = await this.#verify(buckets, v1, segsOf, defined, tombstones, index, live);
    if (verified.problems.length > 0) return { ...counts, ...verified, outcome: 'failed' };
    await this.#mark({ layout: 'profile', version: 2, buckets, state: 'done' });
    const removed = this.#options.cleanup === true ? await this.#cleanup() : 0;
    return { ...counts, ...verified, outcome: 'done', removed };
  }

  async #mark(m: TenantLayout): Promise<void> {
    await this.#redis.hset(this.#keys.layout, { layout: m.layout, version: String(m.version), buckets: String(m.buckets), state: m.state });
  }

  /** Every key of the tenant (one slot: on a Cluster, the one master that has it answers), by family. */
  async #scan(): Promise<V1Keys> {
    const prefix = this.#keys.prefix;
    const out: V1Keys = { profiles: [], ids: [], syncs: [], dedup: [], applied: new Set(), fdedup: [], identifierFc: [], data: 0 };
    for await (const keys of this.#dataKeys()) {
      for (const key of keys) {
        const name = key.slice(prefix.length);
        out.data++;
        const pid = PROFILE_HASH.exec(name)?.[1];
        if (pid !== undefined) out.profiles.push(pid);
        else if (name.startsWith('id:')) out.ids.push(name.slice(3));
        else if (name.startsWith('sync:')) out.syncs.push(name.slice(5));
        else if (name.startsWith('dedup:')) out.dedup.push(name.slice(6));
        else if (name.startsWith('applied:')) out.applied.add(name.slice(8));
        else if (name.startsWith('fdedup:')) out.fdedup.push(name.slice(7));
        else if (name.startsWith('fc:i:')) out.identifierFc.push(name.slice(5));
      }
      await this.#progress('scan', out.data, out.data);
    }
    const bad = out.profiles.filter((pid) => !PROFILE_ID_PATTERN.test(pid));
    if (bad.length > 0) throw new Error(`tenant ${this.#tenant}: ${bad.length} profile ids are not lowercase UUIDs (the profile layout puts them in hash tags), e.g. ${JSON.stringify(bad[0])}`);
    return out;
  }

  /**
   * The tenant's keys of the profile data families, page by page (SCAN: one slot, so on a Cluster
   * the one master that has it answers).
   */
  async *#dataKeys(): AsyncGenerator<string[]> {
    const prefix = this.#keys.prefix;
    const nodes = this.#redis instanceof Cluster ? this.#redis.nodes('master') : [this.#redis];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
        cursor = next;
        yield keys.filter((key) => DATA_FAMILY.test(key.slice(prefix.length)));
      } while (cursor !== '0');
    }
  }

  /** The profiles merged away (`merged_into`), with their `created` if they kept one. */
  async #tombstones(pids: readonly string[]): Promise<Map<string, { into: string; created: string | null }>> {
    const out = new Map<string, { into: string; created: string | null }>();
    for (const chunk of chunks(pids, 1000)) {
      const r = await execPipeline(chunk.reduce((p, pid) => p.hmget(this.#keys.profile(pid).hash, 'merged_into', 'created'), this.#redis.pipeline())) as (string | null)[][];
      chunk.forEach((pid, i) => {
        const [into, created] = r[i] ?? [];
        if (typeof into === 'string') out.set(pid, { into, created: created ?? null });
      });
    }
    return out;
  }

  /** `dedup:<mid>` (-> pid), `applied:<mid>`, `fdedup:<mid>` grouped by the live profile, as `:seen` members with their time to live. */
  async #dedup(v1: V1Keys, live: (pid: string) => string | undefined): Promise<{ byProfile: Map<string, { seen: string[]; applied: Record<string, string> }>; moved: number; dropped: number }> {
    const byProfile = new Map<string, { seen: string[]; applied: Record<string, string> }>();
    const owner = new Map<string, string>();
    let moved = 0;
    let dropped = 0;
    // v1 writes every de-dup key with an expiry; one without (-1) keeps the event TTL from now.
    const keep = (ttl: number): string => String(ttl === -1 ? (this.#options.dedupTtlSeconds ?? 86_400) * 1000 : ttl);
    const entry = (pid: string): { seen: string[]; applied: Record<string, string> } => {
      let e = byProfile.get(pid);
      if (e === undefined) byProfile.set(pid, e = { seen: [], applied: {} });
      return e;
    };
    for (const chunk of chunks(v1.dedup, 500)) {
      const r = await execPipeline(chunk.reduce((p, mid) => {
        p.get(this.#keys.dedup(mid)).pttl(this.#keys.dedup(mid));
        if (v1.applied.has(mid)) p.get(this.#keys.applied(mid)).pttl(this.#keys.applied(mid));
        return p;
      }, this.#redis.pipeline()));
      let k = 0;
      for (const mid of chunk) {
        const [pid, ttl] = [r[k++] as string | null, r[k++] as number];
        const applied = v1.applied.has(mid) ? [r[k++] as string | null, r[k++] as number] as const : undefined;
        const to = pid === null ? undefined : live(pid);
        if (to === undefined || ttl === -2) {
          dropped++;
          continue;
        }
        owner.set(mid, to);
        const e = entry(to);
        e.seen.push(mid, keep(ttl));
        moved++;
        if (applied !== undefined && applied[0] !== null && applied[1] !== -2) {
          e.seen.push(`a|${mid}`, keep(applied[1]));
          e.applied[mid] = applied[0];
          moved++;
        }
      }
    }
    for (const chunk of chunks(v1.fdedup, 1000)) {
      const ttls = await execPipeline(chunk.reduce((p, mid) => p.pttl(this.#keys.fdedup(mid)), this.#redis.pipeline())) as number[];
      chunk.forEach((mid, i) => {
        const to = owner.get(mid);
        const ttl = ttls[i] ?? -2;
        if (to === undefined || ttl === -2) {
          dropped++;
          return;
        }
        entry(to).seen.push(`f|${mid}`, keep(ttl));
        moved++;
      });
    }
    // Applied results whose dedup key lapsed first are not reachable: dropped with them.
    dropped += [...v1.applied].filter((mid) => !owner.has(mid)).length;
    return { byProfile, moved, dropped };
  }

  /** A live profile as migrate-profile.lua takes it. */
  async #snapshot(pid: string, merged: readonly string[], due: number | undefined, dedup: { seen: string[]; applied: Record<string, string> } | undefined): Promise<object> {
    const pk = this.#keys.profile(pid);
    const [p, ids, traits, tord, counts, computed, ftotals, fkeys, segs, nomerge, fckeys, fckeysPttl] = await execPipeline(this.#redis.pipeline().hgetall(pk.hash)
      .smembers(pk.ids).hgetall(pk.traits).hgetall(pk.tord).hgetall(pk.counts).hgetall(pk.computed).hgetall(pk.ftotals)
      .smembers(pk.fkeys).smembers(pk.segs).smembers(pk.nomerge).smembers(pk.fckeys).pttl(pk.fckeys)) as [
      Record<string, string>, string[], Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>, Record<string, string>,
      string[], string[], string[], string[], number,
    ];
    const zsets = async (keyOf: (id: string) => string, list: readonly string[]): Promise<{ id: string; pttl: number; z: string[] }[]> => {
      if (list.length === 0) return [];
      const r = await execPipeline(list.reduce((pl, id) => pl.zrange(keyOf(id), 0, -1, 'WITHSCORES').pttl(keyOf(id)), this.#redis.pipeline()));
      return list.map((id, i) => ({ id, z: r[2 * i] as string[], pttl: r[2 * i + 1] as number })).filter((z) => z.z.length > 0);
    };
    return {
      p: Object.fromEntries(Object.entries(p).filter(([field]) => field !== 'merged_into')), ids, nomerge, segs, merged, traits, tord, counts, computed, ftotals,
      features: await zsets((fid) => pk.feature(fid), fkeys),
      fc: await zsets((target) => this.#keys.frequency(`p:${pid}`, target), fckeys),
      fckeysPttl, next_change: due === undefined ? '' : String(due),
      seen: dedup?.seen ?? [], applied: dedup?.applied ?? {},
    };
  }

  /** Identifier keys to identifier slots: owners (followed to the live profile), id syncs and identifiers' impressions (DUMP/RESTORE with their expiry). */
  async #identifiers(v1: V1Keys, live: (pid: string) => string | undefined): Promise<void> {
    let done = 0;
    const total = v1.ids.length + v1.syncs.length + v1.identifierFc.length;
    for (const chunk of chunks(v1.ids, 1000)) {
      const owners = await execPipeline(chunk.reduce((p, idf) => p.get(this.#keys.identifier(checkedIdentifier(idf))), this.#redis.pipeline())) as (string | null)[];
      await Promise.all(chunk.map(async (idf, i) => {
        const to = owners[i] === null || owners[i] === undefined ? undefined : live(owners[i]);
        const key = identifierOwner(this.#ns, this.#tenant, checkedIdentifier(idf));
        if (to === undefined) await this.#redis.del(key);
        else await this.#redis.set(key, to);
      }));
      await this.#progress('identifiers', done += chunk.length, total);
    }
    const move = async (from: string, to: string): Promise<void> => {
      const [dump, ttl] = await Promise.all([this.#redis.dumpBuffer(from), this.#redis.pttl(from)]);
      if (dump === null) return;
      await this.#redis.restore(to, ttl > 0 ? ttl : 0, dump, 'REPLACE');
    };
    for (const chunk of chunks(v1.syncs, 500)) {
      await Promise.all(chunk.map(async (name) => {
        const cut = name.indexOf(':');
        await move(`${this.#keys.prefix}sync:${name}`, identifierSync(this.#ns, this.#tenant, name.slice(0, cut), checkedIdentifier(name.slice(cut + 1))));
      }));
      await this.#progress('identifiers', done += chunk.length, total);
    }
    for (const chunk of chunks(v1.identifierFc, 500)) {
      await Promise.all(chunk.map(async (name) => {
        const { idf, target } = splitIdentifierTarget(name);
        await move(`${this.#keys.prefix}fc:i:${name}`, identifierFrequency(this.#ns, this.#tenant, idf, target));
      }));
      await this.#progress('identifiers', done += chunk.length, total);
    }
  }

  /** Buckets rebuilt: live profiles in their segments' member sets, `due`, and the index at seq 1; indexed tombstones scored -now. */
  async #buckets(buckets: number, segsOf: ReadonlyMap<string, readonly string[]>, defined: ReadonlySet<string>, due: ReadonlyMap<string, number>, tombstones: readonly string[]): Promise<void> {
    const now = Date.now();
    let done = 0;
    const entries = [...segsOf];
    for (const chunk of chunks(entries, 500)) {
      await Promise.all(chunk.map(async ([pid, segs]) => {
        const b = bucketKeys(this.#ns, this.#tenant, bucketOf(pid, buckets));
        const at = due.get(pid);
        await Promise.all([
          ...segs.filter((sid) => defined.has(sid)).map((sid) => this.#redis.sadd(b.segMembers(sid), pid)),
          ...(at === undefined ? [] : [this.#redis.zadd(b.due, at, pid)]),
          this.#redis.zadd(b.profiles, 1, pid),
        ]);
      }));
      await this.#progress('buckets', done += chunk.length, entries.length + tombstones.length);
    }
    for (const chunk of chunks(tombstones, 500)) {
      await Promise.all(chunk.map((pid) => this.#redis.zadd(bucketKeys(this.#ns, this.#tenant, bucketOf(pid, buckets)).profiles, -now, pid)));
      await this.#progress('buckets', done += chunk.length, entries.length + tombstones.length);
    }
  }

  /** Step 3: counts, Σ buckets = SCARD v1, and sampled profiles read alike through both layouts' readers. */
  async #verify(
    buckets: number, v1: V1Keys, segsOf: ReadonlyMap<string, readonly string[]>, defined: ReadonlySet<string>, tombstones: readonly string[], index: ReadonlySet<string>,
    live: (pid: string) => string | undefined,
  ): Promise<{ segments: Record<string, { v1: number; v2: number }>; sampled: number; problems: string[] }> {
    const problems: string[] = [];
    const states = await Promise.all([...segsOf.keys(), ...tombstones].map((pid) => this.#redis.hmget(profileKeys(this.#ns, this.#tenant, pid).hash, 'state', 'version')));
    const liveV2 = states.filter(([state, version]) => state === null && version !== null).length;
    const tombV2 = states.filter(([state]) => state === 'merged').length;
    if (liveV2 !== segsOf.size) problems.push(`profiles: ${segsOf.size} live in v1, ${liveV2} in v2`);
    if (tombV2 !== tombstones.length) problems.push(`tombstones: ${tombstones.length} in v1, ${tombV2} in v2`);
    const owners = await Promise.all(v1.ids.map((idf) => this.#redis.get(identifierOwner(this.#ns, this.#tenant, checkedIdentifier(idf)))));
    const v1Owners = await Promise.all(v1.ids.map((idf) => this.#redis.get(this.#keys.identifier(checkedIdentifier(idf)))));
    const wrongOwners = v1.ids.filter((_, i) => owners[i] !== (v1Owners[i] === null || v1Owners[i] === undefined ? null : live(v1Owners[i]) ?? null)).length;
    if (wrongOwners > 0) problems.push(`identifiers: ${wrongOwners} of ${v1.ids.length} owner keys differ`);
    const segmentIds = new Set([...defined, ...[...segsOf.values()].flat()]);
    const segments: Record<string, { v1: number; v2: number }> = {};
    for (const sid of segmentIds) {
      const v2 = (await Promise.all(range(buckets).map((b) => this.#redis.scard(bucketKeys(this.#ns, this.#tenant, b).segMembers(sid))))).reduce((a, n) => a + n, 0);
      segments[sid] = { v1: await this.#redis.scard(this.#keys.segMembers(sid)), v2 };
      if (segments[sid].v1 !== v2) problems.push(`segment ${sid}: ${segments[sid].v1} members in v1, ${v2} over the buckets`);
    }
    const indexed = (await Promise.all(range(buckets).map((b) => this.#redis.zcard(bucketKeys(this.#ns, this.#tenant, b).profiles)))).reduce((a, n) => a + n, 0);
    const expected = new Set([...segsOf.keys(), ...tombstones.filter((pid) => index.has(pid))]).size;
    if (indexed !== expected) problems.push(`profile index: ${expected} expected over the buckets, ${indexed} found`);

    const ttl = this.#options.dedupTtlSeconds ?? 86_400;
    const [p1, p2] = [new RedisProfileStore(this.#redis, this.#ns, ttl), new RedisProfileStoreV2(this.#redis, this.#ns, ttl)];
    const [a1, a2] = [new RedisAudienceReader(this.#redis, this.#ns), new RedisAudienceReaderV2(this.#redis, this.#ns)];
    const sample = sampleOf([...segsOf.keys(), ...tombstones], this.#options.sample ?? 1000);
    let checked = 0;
    for (const pid of sample) {
      const [g1, g2] = await Promise.all([p1.get(this.#tenant, pid), p2.get(this.#tenant, pid)]);
      const fields = differentFields(g1, g2);
      if (fields.length > 0) problems.push(`profile ${pid}: the v1 and v2 profile views differ in ${fields.join(', ')}`);
      for (const idf of (g1?.identifiers ?? []).slice(0, 2)) {
        const [l1, l2] = await Promise.all([a1.audience(this.#tenant, [idf]), a2.audience(this.#tenant, [idf])]);
        if (canonical(normalAudience(l1)) !== canonical(normalAudience(l2))) problems.push(`profile ${pid}: the v1 and v2 lookups differ`);
      }
      await this.#progress('verify', ++checked, sample.length);
    }
    return { segments, sampled: sample.length, problems };
  }

  /** UNLINKs the tenant's v1 profile data (config families stay: segments, sharing, caps, connectors...). */
  async #cleanup(): Promise<number> {
    let removed = 0;
    for await (const keys of this.#dataKeys()) {
      if (keys.length === 0) continue;
      removed += await this.#redis.unlink(...keys);
      await this.#progress('cleanup', removed, removed);
    }
    return removed;
  }
}

/** The top-level fields (names only: values may be personal data) in which two reads differ. */
function differentFields(a: object | undefined, b: object | undefined): string[] {
  if (a === undefined || b === undefined) return a === b ? [] : ['existence'];
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((k) => canonical(x[k]) !== canonical(y[k]));
}

/** JSON with object keys sorted: hashes read back from Redis list their fields in no fixed order. */
function canonical(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
    : v));
}

/** An audience with its segments in one order (the readers may list them differently). */
function normalAudience(a: { profileId: string; segments: readonly { id: string }[] } | undefined): unknown {
  return a === undefined ? null : { profileId: a.profileId, segments: [...a.segments].sort((x, y) => (x.id < y.id ? -1 : 1)) };
}

/** An identifier from a v1 key, checked before it goes into a v2 key. */
function checkedIdentifier(idfKey: string): Identifier {
  const idf = parseIdentifierKey(idfKey);
  const problem = identifierProblem(idf);
  if (problem !== undefined) throw new Error(`a v1 key holds an invalid identifier: ${problem}`);
  return idf;
}

/**
 * `<type>:<id>:<scope>:<target>` (after `fc:i:`) split into the identifier and `<scope>:<target>`:
 * ids and targets may hold colons, so the first split at a `:campaign:`/`:creative:` that leaves a
 * valid identifier is taken.
 */
export function splitIdentifierTarget(name: string): { idf: Identifier; target: string } {
  for (const m of name.matchAll(/:(campaign|creative):/g)) {
    const idf = parseIdentifierKey(name.slice(0, m.index));
    if (identifierProblem(idf) === undefined) return { idf, target: name.slice(m.index + 1) };
  }
  throw new Error('a v1 frequency key without an identifier and a campaign or creative target');
}

function pairs(flat: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] ?? '', Number(flat[i + 1])]);
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Up to `n` items, evenly spread. */
function sampleOf<T>(items: readonly T[], n: number): T[] {
  if (items.length <= n) return [...items];
  const step = items.length / n;
  return range(n).map((i) => items[Math.floor(i * step)] as T);
}

/** A literal for SCAN MATCH. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
