import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, type RedisClient, type Script } from '../infra/redis.ts';
import { profileSlotScript } from './profile-slot.ts';
import { byteOrder, type OwnerSnapshot } from './identity-plan.ts';
import { bucketKeys, bucketOf, identifierOwner, profileKeys } from './keys.ts';
import type { Merge } from './model.ts';
import { DEFAULT_IDENTITY_LIMITS, limitArgs, NO_POLICY, policyTable, type IdentityLimits, type TenantProfilePolicy } from './policy.ts';

/*
 * The cross-slot merge protocol of the per-profile layout (src/profiles/per-profile-layout.md §3, step 5): a
 * loser L is absorbed into the older survivor S in steps that each touch one slot and are each
 * idempotent, journaled so that any caller (the processor that met the link, another one that met
 * a frozen profile, the sweeper) can finish or take back a merge a crash left half done:
 *
 *   M0 journal `m|L|S|mid` in L's bucket   M1 merge-accept.lua on S   M2 merge-freeze.lua on L
 *   M3 merge-absorb.lua on S               M4 id-cas.lua per identifier of L (then `gone`)
 *   M5 merge-tombstone.lua on L, publish `merge:<L>`, HDEL S:absorbing[L], ZREM the journal
 *
 * Only single-slot commands and scripts: nothing here is a cross-slot pipeline, so it runs the same
 * on one Redis and on a Cluster (auto-pipelining groups the calls per node).
 *
 * The triggering event is not applied by the runner: after a `merged` outcome the caller runs
 * apply-profile.lua on the survivor, passing the merge in its `merges` (a redelivery then returns it).
 */

/** The steps after which `afterStep` runs. `M5` is after the tombstone, before publishing and clean-up. */
export type MergeStep = 'M0' | 'M1' | 'M2' | 'M3' | 'M4' | 'M5';

/** What a merge of one pair came to. */
export type MergeOutcome =
  /** L lives on in S. `first`: this call made the tombstone. `contested`: L's identifiers whose id key another profile holds (left alone). */
  | { readonly status: 'merged'; readonly merge: Merge; readonly first: boolean; readonly contested: readonly { identifier: Identifier; owner: string }[] }
  /** A guardrail (`limit <type> <n>`, `max_identifiers <n>`) or an unmerge (`unmerged`) refused it; both stay live. */
  | { readonly status: 'refused'; readonly reason: string }
  /**
   * Not merged now, plan again: `younger` (L is the older one), `moved` (S or L was merged into
   * `profile`, or L is being merged there), `gone` (a side was never born), `busy` (L is still
   * absorbing another profile or kept changing), `aborted` (the acceptance was taken back meanwhile).
   */
  | { readonly status: 'younger' | 'gone' | 'busy' | 'aborted' }
  | { readonly status: 'moved'; readonly profile: string };

/** What completeMerge found and did. */
export type CompleteOutcome =
  | { readonly status: 'finished'; readonly merge: Merge; readonly contested: readonly { identifier: Identifier; owner: string }[] }
  /** A merge that had not got past its acceptance was taken back: both stay live. */
  | { readonly status: 'aborted' }
  /** An acceptance younger than the lease: its driver may still be at work. */
  | { readonly status: 'pending' }
  /** No merge of L in flight. */
  | { readonly status: 'none' };

export interface MergeRunnerOptions {
  /** The tenant's bucket count (`{t}:layout`, PULSE_REDIS_BUCKETS): where journals go. */
  readonly buckets: number;
  readonly policy?: TenantProfilePolicy;
  readonly limits?: IdentityLimits;
  /** How old an acceptance must be before completeMerge takes it back (§3.5: 30 s). */
  readonly leaseMs?: number;
  /** A snapshot larger than this goes to merge-absorb.lua in chunks (§3.2: 512 kB). */
  readonly chunkBytes?: number;
  /**
   * Publishes `merge:<L>` (changes.nats.ts), with the message id of the event that linked the two;
   * called by every finisher, so it must tolerate repeats (JetStream drops them by msgID).
   */
  readonly publish?: (tenant: string, merge: Merge, messageId: string) => Promise<void>;
  /** Removes L from its bucket's indexes (bucket-sync.lua mode `gone`, step 6), given L's segments. */
  readonly gone?: (tenant: string, loser: string, segments: readonly string[]) => Promise<void>;
  /** Test hook: runs after each step; throwing simulates a crash there. */
  readonly afterStep?: (step: MergeStep) => void | Promise<void>;
}

/** One link to merge: `loser` into `survivor`, for the event `messageId`. */
export interface MergePair {
  readonly survivor: string;
  readonly loser: string;
  readonly messageId: string;
  /** L as the processor read it to plan (R1b): saves reading it again for the first acceptance. */
  readonly known?: OwnerSnapshot;
}

/** What merge-freeze.lua returns of the loser (the parts read in TypeScript). */
interface Snapshot {
  readonly created: string | null;
  readonly ids: string[];
  readonly nomerge: string[];
  readonly merged: string[];
  readonly segs: string[];
}

/** What merge-accept.lua stores in S:absorbing[L]. */
interface Absorbing {
  readonly ids: readonly string[];
  readonly mid: string;
  readonly at: number;
}

/** The loser's identity as the processor reads it (R1b): what M1 checks and M2 compares. */
interface Identity {
  readonly state: string | null;
  readonly into: string | null;
  readonly created: string | null;
  readonly ids: string[];
  readonly nomerge: string[];
  readonly merged: string[];
}

/** Tries of a merge whose loser changed between acceptance and freeze, or was busy. */
const MAX_TRIES = 5;
/** How old an acceptance must be before completeMerge takes it back, unless leaseMs says otherwise (§3.5). */
export const DEFAULT_LEASE_MS = 30_000;
const CHUNK_BYTES = 512 * 1024;

/** cjson writes an empty Lua table as `{}`. */
function list<T>(x: unknown): T[] {
  return Array.isArray(x) ? (x as T[]) : [];
}

/** Drives merges of the per-profile layout (see the top of this file). */
export class MergeRunner {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #options: MergeRunnerOptions;
  readonly #policyArgs: string[];
  readonly #limitArgs: string[];
  readonly #accept: Script;
  readonly #freeze: Script;
  readonly #absorb: Script;
  readonly #tombstone: Script;
  readonly #abort: Script;
  readonly #idCas: Script;

  constructor(redis: RedisClient, namespace: string, options: MergeRunnerOptions) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#options = options;
    this.#policyArgs = policyTable(options.policy ?? NO_POLICY);
    this.#limitArgs = limitArgs(options.limits ?? DEFAULT_IDENTITY_LIMITS);
    this.#accept = profileSlotScript(redis, 'pulseMergeAccept', new URL('./merge-accept.lua', import.meta.url));
    this.#freeze = profileSlotScript(redis, 'pulseMergeFreeze', new URL('./merge-freeze.lua', import.meta.url));
    this.#absorb = profileSlotScript(redis, 'pulseMergeAbsorb', new URL('./merge-absorb.lua', import.meta.url));
    this.#tombstone = profileSlotScript(redis, 'pulseMergeTombstone', new URL('./merge-tombstone.lua', import.meta.url));
    this.#abort = profileSlotScript(redis, 'pulseMergeAbort', new URL('./merge-abort.lua', import.meta.url));
    this.#idCas = defineScript(redis, 'pulseIdCas', new URL('./id-cas.lua', import.meta.url), 1);
  }

  /** `jobs` of L's bucket: the journal of merges whose loser is L (§1, §3.5). */
  journalKey(tenant: string, loser: string): string {
    return bucketKeys(this.#namespace, tenant, bucketOf(loser, this.#options.buckets)).jobs;
  }

  #prefix(tenant: string, pid: string): string {
    return profileKeys(this.#namespace, tenant, pid).prefix;
  }

  async #step(step: MergeStep): Promise<void> {
    await this.#options.afterStep?.(step);
  }

  /** M0-M5 for one pair (§3.2). The survivor must be the older profile (merge-accept.lua checks). */
  async merge(tenant: string, pair: MergePair): Promise<MergeOutcome> {
    const { survivor, loser, messageId } = pair;
    const journal = this.journalKey(tenant, loser);
    const job = `m|${loser}|${survivor}|${messageId}`;
    // Gives up: the acceptance (if any) and this journal entry are taken back.
    const giveUp = async (outcome: MergeOutcome): Promise<MergeOutcome> => {
      await this.#takeBack(tenant, survivor, loser, outcome.status === 'moved');
      await this.#redis.zrem(journal, job);
      return outcome;
    };
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const l = attempt === 0 && pair.known !== undefined ? fromPlan(pair.known) : await this.#identity(tenant, loser);
      if (attempt === 0) {
        await this.#redis.zadd(journal, 'NX', Date.now(), job);
        await this.#step('M0');
      }
      if (l.state === 'merged' && l.into !== survivor) return giveUp({ status: 'moved', profile: l.into ?? '' });
      if (l.state === 'frozen' && l.into !== survivor) {
        // §3.4: L is being merged into another profile: help finish that, then L has moved.
        await this.completeMerge(tenant, loser);
        continue;
      }
      const accepted = await this.#acceptRun(tenant, survivor, loser, l, messageId);
      if (accepted[0] === 'done') return this.#finished(await this.completeMerge(tenant, loser));
      if (accepted[0] !== 'ok') return giveUp(refusal(accepted));
      await this.#step('M1');
      const frozen = await this.#freeze.run([this.#prefix(tenant, loser)], [survivor, accepted[1] ?? '']) as string[];
      if (frozen[0] === 'changed') continue;
      if (frozen[0] === 'busy') {
        // §3.4: L is absorbing X (finish that, then L has changed), or is frozen into another survivor.
        await this.completeMerge(tenant, frozen[1] === 'frozen' ? loser : frozen[2] ?? '');
        continue;
      }
      if (frozen[0] === 'merged') return this.#finished(await this.completeMerge(tenant, loser));
      if (frozen[0] !== 'frozen') return giveUp(frozen[0] === 'moved' ? { status: 'moved', profile: frozen[1] ?? '' } : { status: 'gone' });
      await this.#step('M2');
      const done = await this.#complete(tenant, survivor, loser, frozen[1] ?? '', messageId, true);
      return done.status === 'finished' ? { status: 'merged', merge: done.merge, first: done.first, contested: done.contested } : done.outcome;
    }
    return giveUp({ status: 'busy' });
  }

  #finished(done: CompleteOutcome): MergeOutcome {
    if (done.status === 'finished') return { status: 'merged', merge: done.merge, first: false, contested: done.contested };
    return { status: 'aborted' };
  }

  /** M1 on S for L as `l` describes it. */
  async #acceptRun(tenant: string, survivor: string, loser: string, l: Omit<Identity, 'state' | 'into'>, messageId: string): Promise<string[]> {
    return await this.#accept.run([this.#prefix(tenant, survivor)], [
      loser, l.created ?? '', messageId, ...this.#limitArgs, l.ids.length, ...l.ids, l.nomerge.length, ...l.nomerge, l.merged.length, ...l.merged,
    ]) as string[];
  }

  /**
   * M3-M5 once L is frozen into S, from L's snapshot. If the acceptance was taken back meanwhile
   * (completeMerge after its lease), L is accepted again from the snapshot (frozen, it cannot
   * have changed); only if that is refused is L thawed.
   */
  async #complete(tenant: string, survivor: string, loser: string, snapshot: string, messageId: string, driving: boolean): Promise<
    | { status: 'finished'; merge: Merge; first: boolean; contested: { identifier: Identifier; owner: string }[] }
    | { status: 'aborted'; outcome: MergeOutcome }
  > {
    const sk = this.#prefix(tenant, survivor);
    const s = this.#snapshot(snapshot);
    for (let attempt = 0; ; attempt++) {
      const absorbed = await this.#absorbRun(sk, loser, snapshot);
      if (absorbed[0] === 'absorbed' || absorbed[0] === 'done') break;
      // Taken back again and again (by sweepers on stale reads): L stays frozen for completeMerge to finish.
      if (absorbed[0] !== 'not_accepted' || attempt >= MAX_TRIES) throw new Error(`merge of ${loser} into ${survivor}: absorb answered ${absorbed.join(' ')}`);
      const accepted = await this.#acceptRun(tenant, survivor, loser, s, messageId);
      if (accepted[0] === 'ok' || accepted[0] === 'done') continue;
      await this.#abort.run([this.#prefix(tenant, loser)], ['loser', survivor]);
      await this.#dropJournal(tenant, loser, survivor);
      return { status: 'aborted', outcome: refusal(accepted) };
    }
    if (driving) await this.#step('M3');
    const contested = await this.#repoint(tenant, survivor, loser, s.ids, s.merged, s.segs);
    if (driving) await this.#step('M4');
    const first = await this.#finish(tenant, survivor, loser, s.ids, messageId, driving);
    return { status: 'finished', merge: mergeOf(survivor, loser, s.ids), first, contested };
  }

  /**
   * M3 itself: one `all` call, or for a snapshot over chunkBytes, `sets` calls with slices of its
   * zsets (and the seen entries) first, then an `all` call without them. Answers the last call's status.
   */
  async #absorbRun(sk: string, loser: string, snapshot: string): Promise<string[]> {
    const run = async (mode: string, json: string): Promise<string[]> => await this.#absorb.run([sk], [loser, mode, json, ...this.#policyArgs]) as string[];
    if (snapshot.length <= (this.#options.chunkBytes ?? CHUNK_BYTES)) return run('all', snapshot);
    const { chunks, rest } = chunked(JSON.parse(snapshot) as SnapshotJson, this.#options.chunkBytes ?? CHUNK_BYTES);
    for (const chunk of chunks) {
      const r = await run('sets', JSON.stringify(chunk));
      if (r[0] !== 'sets') return r;
    }
    return run('all', JSON.stringify(rest));
  }

  /**
   * Finishes, or takes back, a merge of `loser` a crash may have left half done (§3.5), from
   * what it finds: L frozen into S (absorbed by S or not): absorb, repoint, tombstone; L a
   * tombstone: publish and clean up; L live with an acceptance older than the lease: abort.
   */
  async completeMerge(tenant: string, loser: string): Promise<CompleteOutcome> {
    const lk = this.#prefix(tenant, loser);
    const [state, into] = await this.#redis.hmget(`${lk}p`, 'state', 'into');
    if ((state === 'frozen' || state === 'merged') && typeof into === 'string') {
      const survivor = into;
      if (state === 'merged') {
        const entry = await this.#redis.hget(profileKeys(this.#namespace, tenant, survivor).absorbing, loser);
        const accepted = entry === null ? undefined : JSON.parse(entry) as Absorbing;
        const ids = list<string>(accepted?.ids);
        if (accepted !== undefined) await this.#finish(tenant, survivor, loser, ids, accepted.mid);
        else await this.#dropJournal(tenant, loser, survivor);
        // Acceptances of L by other profiles (whose drivers crashed) can never be finished now.
        for (const job of await this.#jobs(tenant, loser)) {
          if (job.survivor === survivor) continue;
          await this.#takeBack(tenant, job.survivor, loser, true);
          await this.#redis.zrem(this.journalKey(tenant, loser), job.member);
        }
        return { status: 'finished', merge: mergeOf(survivor, loser, ids), contested: [] };
      }
      // Frozen: L is intact, so its snapshot is taken again (merge-freeze.lua answers it for a frozen L).
      const frozen = await this.#freeze.run([lk], [survivor, '']) as string[];
      if (frozen[0] !== 'frozen') return this.completeMerge(tenant, loser);
      const job = (await this.#jobs(tenant, loser)).find((j) => j.survivor === survivor);
      const done = await this.#complete(tenant, survivor, loser, frozen[1] ?? '', job?.member.split('|')[3] ?? '', false);
      return done.status === 'finished' ? { status: 'finished', merge: done.merge, contested: done.contested } : { status: 'aborted' };
    }
    // L is live: an acceptance that never got to the freeze is taken back once its lease is over.
    const lease = this.#options.leaseMs ?? DEFAULT_LEASE_MS;
    let outcome: CompleteOutcome = { status: 'none' };
    for (const { member, survivor, at } of await this.#jobs(tenant, loser)) {
      const sk = profileKeys(this.#namespace, tenant, survivor);
      const entry = await this.#redis.hget(sk.absorbing, loser);
      const since = entry === null ? at : (JSON.parse(entry) as Absorbing).at;
      if (Date.now() - since < lease) {
        outcome = { status: 'pending' };
        continue;
      }
      const aborted = await this.#abort.run([sk.prefix], entry === null ? ['survivor', loser] : ['survivor', loser, entry]) as string[];
      if (aborted[0] === 'done') return this.completeMerge(tenant, loser);
      await this.#redis.zrem(this.journalKey(tenant, loser), member);
      if (outcome.status === 'none') outcome = { status: 'aborted' };
    }
    return outcome;
  }

  /**
   * The sweeper's pass over one tenant (§3.5 (b)): every merge journaled more than the lease ago,
   * in each of the B buckets, is finished or taken back. Returns what it did, per loser.
   */
  async sweep(tenant: string): Promise<Map<string, CompleteOutcome>> {
    const lease = this.#options.leaseMs ?? DEFAULT_LEASE_MS;
    const done = new Map<string, CompleteOutcome>();
    for (let b = 0; b < this.#options.buckets; b++) {
      const due = await this.#redis.zrangebyscore(bucketKeys(this.#namespace, tenant, b).jobs, '-inf', Date.now() - lease);
      for (const member of due) {
        const loser = member.split('|')[1] ?? '';
        if (member.startsWith('m|') && !done.has(loser)) done.set(loser, await this.completeMerge(tenant, loser));
      }
    }
    return done;
  }

  /** R1b: what M1 is told of the loser. */
  async #identity(tenant: string, pid: string): Promise<Identity> {
    const pk = profileKeys(this.#namespace, tenant, pid);
    const [[state, into, created], ids, nomerge, merged] = await Promise.all([
      this.#redis.hmget(pk.hash, 'state', 'into', 'created'), this.#redis.smembers(pk.ids), this.#redis.smembers(pk.nomerge), this.#redis.smembers(pk.merged),
    ]);
    return { state: state ?? null, into: into ?? null, created: created ?? null, ids, nomerge, merged };
  }

  #snapshot(json: string): Snapshot {
    const s = JSON.parse(json) as Record<string, unknown>;
    const p = (s['p'] ?? {}) as Record<string, string | undefined>;
    return {
      created: p['created'] ?? null, ids: list<string>(s['ids']), nomerge: list<string>(s['nomerge']), merged: list<string>(s['merged']), segs: list<string>(s['segs']),
    };
  }

  /** M4: L's identifier keys point at S; L leaves its bucket's indexes. */
  async #repoint(tenant: string, survivor: string, loser: string, ids: readonly string[], merged: readonly string[], segs: readonly string[]): Promise<{ identifier: Identifier; owner: string }[]> {
    const answers = await Promise.all(ids.map((idf) => this.#idCas.run([identifierOwner(this.#namespace, tenant, parseIdentifierKey(idf))], [survivor, loser, ...merged]) as Promise<string[]>));
    await this.#options.gone?.(tenant, loser, segs);
    const contested: { identifier: Identifier; owner: string }[] = [];
    answers.forEach((a, n) => {
      const idf = ids[n];
      if (a[0] === 'other' && idf !== undefined) contested.push({ identifier: parseIdentifierKey(idf), owner: a[1] ?? '' });
    });
    return contested;
  }

  /** M5: tombstone L, publish, then clear S:absorbing[L] and the journal. Whether this call made the tombstone. */
  async #finish(tenant: string, survivor: string, loser: string, ids: readonly string[], messageId: string, driving = false): Promise<boolean> {
    const done = await this.#tombstone.run([this.#prefix(tenant, loser)], [survivor]) as string[];
    if (done[0] === 'refused') throw new Error(`tombstone of ${loser} into ${survivor} refused: ${done.slice(1).join(' ')}`);
    if (driving) await this.#step('M5');
    await this.#options.publish?.(tenant, mergeOf(survivor, loser, ids), messageId);
    await this.#redis.hdel(profileKeys(this.#namespace, tenant, survivor).absorbing, loser);
    await this.#dropJournal(tenant, loser, survivor);
    return done[0] === 'first';
  }

  /**
   * Takes back S's acceptance of L. `elsewhere`: L was merged into another profile, so if S has
   * absorbed L meanwhile it was through that profile, and the acceptance is left over: it goes,
   * and the identifiers it reserved stay (S holds them through that profile now).
   */
  async #takeBack(tenant: string, survivor: string, loser: string, elsewhere: boolean): Promise<void> {
    const sk = profileKeys(this.#namespace, tenant, survivor);
    const aborted = await this.#abort.run([sk.prefix], ['survivor', loser]) as string[];
    if (aborted[0] === 'done' && elsewhere) await this.#redis.hdel(sk.absorbing, loser);
  }

  /** The journal entries of merges of L (any survivor, any event). */
  async #jobs(tenant: string, loser: string): Promise<{ member: string; survivor: string; at: number }[]> {
    const key = this.journalKey(tenant, loser);
    const out: { member: string; survivor: string; at: number }[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.zscan(key, cursor, 'MATCH', `m|${loser}|*`, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const member = flat[i] ?? '';
        out.push({ member, survivor: member.split('|')[2] ?? '', at: Number(flat[i + 1]) });
      }
    } while (cursor !== '0');
    return out;
  }

  async #dropJournal(tenant: string, loser: string, survivor: string): Promise<void> {
    const done = (await this.#jobs(tenant, loser)).filter((j) => j.survivor === survivor).map((j) => j.member);
    if (done.length > 0) await this.#redis.zrem(this.journalKey(tenant, loser), ...done);
  }
}

/** A zset of the snapshot: flat member, score pairs and its time to live at the snapshot. */
interface ZsetJson {
  readonly id: string;
  readonly pttl: number;
  readonly z: unknown;
}

/** The parts of merge-freeze.lua's snapshot that chunking splits; the rest passes through. */
interface SnapshotJson {
  readonly pid: string;
  readonly into: string;
  readonly at: number;
  readonly features: unknown;
  readonly fc: unknown;
  readonly seen: unknown;
  readonly applied: Record<string, string>;
}

/**
 * A snapshot cut for merge-absorb.lua's `sets` calls: slices of about `bytes` of the feature and
 * frequency zsets and of `seen` (with the `applied` entry of each `a|` member), then the rest,
 * which keeps the zsets' ids and expiries (their members emptied) for the `all` call.
 */
function chunked(snap: SnapshotJson, bytes: number): { chunks: object[]; rest: object } {
  const chunks: object[] = [];
  const empty = (): { features: ZsetJson[]; fc: ZsetJson[]; seen: string[]; applied: Record<string, string> } => ({ features: [], fc: [], seen: [], applied: {} });
  let cur = empty();
  let size = 0;
  const flush = (): void => {
    chunks.push({ pid: snap.pid, into: snap.into, at: snap.at, ...cur });
    cur = empty();
    size = 0;
  };
  for (const kind of ['features', 'fc'] as const) {
    for (const z of list<ZsetJson>(snap[kind])) {
      const flat = list<string>(z.z);
      for (let k = 0; k < flat.length; k += 2) {
        const [member = '', score = ''] = [flat[k], flat[k + 1]];
        let slice = cur[kind].at(-1);
        if (slice?.id !== z.id) {
          slice = { id: z.id, pttl: z.pttl, z: [] };
          cur[kind].push(slice);
        }
        (slice.z as string[]).push(member, score);
        size += member.length + score.length + 8;
        if (size > bytes) flush();
      }
    }
  }
  const seen = list<string>(snap.seen);
  for (let k = 0; k < seen.length; k += 2) {
    const [member = '', score = ''] = [seen[k], seen[k + 1]];
    cur.seen.push(member, score);
    const applied = member.startsWith('a|') ? snap.applied[member.slice(2)] : undefined;
    if (applied !== undefined) cur.applied[member.slice(2)] = applied;
    size += member.length + score.length + (applied?.length ?? 0) + 8;
    if (size > bytes) flush();
  }
  if (size > 0) flush();
  const bare = (kind: 'features' | 'fc'): ZsetJson[] => list<ZsetJson>(snap[kind]).map((z) => ({ ...z, z: [] }));
  return { chunks, rest: { ...snap, features: bare('features'), fc: bare('fc'), seen: [], applied: {} } };
}

/** The planner's snapshot of a live profile as merge-accept.lua takes it. */
function fromPlan(known: OwnerSnapshot): Identity {
  return {
    state: null, into: null, created: known.created === undefined ? null : String(known.created), ids: known.identifiers.map(identifierKey),
    nomerge: [...known.nomerge], merged: [...known.merged],
  };
}

/** A refused or impossible acceptance as an outcome. */
function refusal(accepted: readonly string[]): MergeOutcome {
  if (accepted[0] === 'refused') return { status: 'refused', reason: accepted[1] ?? '' };
  if (accepted[0] === 'moved') return { status: 'moved', profile: accepted[1] ?? '' };
  return { status: accepted[0] === 'younger' ? 'younger' : 'gone' };
}

/** The merge as apply-event.lua reports it: L's identifiers in byte order. */
function mergeOf(survivor: string, merged: string, ids: readonly string[]): Merge {
  return { survivor, merged, identifiers: [...ids].sort(byteOrder).map(parseIdentifierKey) };
}
