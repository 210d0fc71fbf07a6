import { randomBytes } from 'node:crypto';
import type { PulseEvent } from '../collection/event.ts';
import { parseIdentifierKey } from '../identity/identifier.ts';
import { defineScript, type RedisClient, type Script } from '../infra/redis.ts';
import { FeatureStoreV2 } from '../segments/features-v2.redis.ts';
import type { EventFeature } from '../segments/features.ts';
import { bucketKeys, bucketOf, identifierOwner, profileKeys } from './keys.ts';
import { counterName } from './model.ts';
import { DEFAULT_IDENTITY_LIMITS, limitArgs, policyFor, type ProfilePolicies } from './policy.ts';
import { applyProfileArgs, applyProfileScript } from './profile-v2.redis.ts';
import type { ProfileSnapshot, Side, SwapOutcome, SwapRequest, UnmergeScratch, UnmergeState } from './unmerge.ts';

/*
 * UnmergeProfile on the per-profile layout (src/profiles/per-profile-layout.md §3.6, step 9): the
 * UnmergeState ProfileUnmerger (unmerge.ts) drives. Each side is rebuilt by replaying its events
 * with apply-profile.lua (and record-features-v2.lua) into a scratch namespace under the side's own
 * hash tag, `<scratch>:{t:P}:` and `<scratch>:{t:newPid}:`, so the steps below move it within one
 * slot. Then, one slot per step, journaled so that completeUnmerge (the sweeper) can finish or take
 * back an unmerge a crash left half done:
 *
 *   U0 `ZADD jobs NX u|P|newPid` in P's bucket (the journal of the merge protocol, merge.redis.ts M0)
 *   U1 unmerge-v2.lua install on newPid: side B from the scratch, ids = split, nomerge = {P},
 *      `:seen` = the moved messageIds, `unmerge_of` = P (a no-op when done before)
 *   U2 unmerge-v2.lua swap on P: checks version, live, nothing absorbing; side A from the scratch,
 *      SREM the split ids, nomerge += newPid, movedout[idf] = newPid (events and lookups through a
 *      split identifier answer `moved newPid` from here on)
 *   U3 id-cas.lua P -> newPid per split identifier; tombstones whose identifiers all went to B read as B
 *   U4 HDEL P:movedout, ZREM the journal
 *
 * A U2 that refuses (`changed`, `merged`, `moved`) deletes U1's B and takes the journal entry back;
 * ProfileUnmerger rebuilds as on v1. De-dup lives in the profile's `:seen` (§2.4): B gets the moved
 * messageIds in U1, so repointDedup has nothing to do.
 */

/** The steps after which `afterStep` runs. */
export type UnmergeStep = 'U0' | 'U1' | 'U2' | 'U3' | 'U4';

export interface UnmergeStateV2Options {
  /** The tenant's bucket count (`{t}:layout`, PULSE_REDIS_BUCKETS): where journals go. */
  readonly buckets: number;
  /** The event de-dup TTL of the profile store: how long B reads a moved event as a duplicate. */
  readonly dedupTtlSeconds: number;
  readonly policies?: ProfilePolicies;
  /** How old a journaled unmerge must be before completeUnmerge touches it (default 30 s, as merges). */
  readonly leaseMs?: number;
  /** Test hook: runs after each step; throwing simulates a crash there. */
  readonly afterStep?: (step: UnmergeStep) => void | Promise<void>;
}

/** What completeUnmerge did with one journaled unmerge of P. */
export type CompleteUnmergeOutcome =
  /** U2 had run: U3 and U4 are done now (B holds the split identifiers). */
  | { readonly status: 'finished'; readonly splitProfileId: string }
  /** U2 had not run: B (unreachable) is gone, P is as before (its version bumped). */
  | { readonly status: 'undone'; readonly splitProfileId: string }
  /** Journaled less than the lease ago: its driver may still be at work. */
  | { readonly status: 'pending'; readonly splitProfileId: string };

/** Events replayed at once per side. */
const CHUNK = 500;
/** Scratch keys expire after this even when the unmerge dies half-way (discard deletes them before). */
const SCRATCH_TTL_SECONDS = 3600;
const DEFAULT_LEASE_MS = 30_000;
/** Tombstones followed by snapshot; the bound only guards against a corrupted cycle. */
const MAX_HOPS = 64;
/** A scratch profile's keys besides its feature zsets (which keep record-features-v2.lua's expiry). */
const SCRATCH_PARTS = ['hash', 'traits', 'tord', 'counts', 'computed', 'ftotals', 'fkeys', 'seen', 'applied'] as const;

/** The journal member of an unmerge (the merge protocol's are `m|L|S|mid`). */
function jobOf(profileId: string, splitProfileId: string): string {
  return `u|${profileId}|${splitProfileId}`;
}

/** The Redis side of UnmergeProfile on the per-profile layout (see the top of this file). */
export class RedisUnmergeStateV2 implements UnmergeState {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #options: UnmergeStateV2Options;
  readonly #script: Script;
  readonly #idCas: Script;

  constructor(redis: RedisClient, namespace: string, options: UnmergeStateV2Options) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#options = options;
    this.#script = defineScript(redis, 'pulseUnmergeV2', new URL('./unmerge-v2.lua', import.meta.url), 2, { prelude: new URL('./profile-prelude.lua', import.meta.url) });
    this.#idCas = defineScript(redis, 'pulseIdCas', new URL('./id-cas.lua', import.meta.url), 1);
  }

  /** `jobs` of P's bucket: where the unmerges of P are journaled (MergeRunner.journalKey for a loser P). */
  journalKey(tenant: string, profileId: string): string {
    return bucketKeys(this.#namespace, tenant, bucketOf(profileId, this.#options.buckets)).jobs;
  }

  async snapshot(tenant: string, profileId: string): Promise<ProfileSnapshot | undefined> {
    let id = profileId;
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      const pk = profileKeys(this.#namespace, tenant, id);
      const [[version, state, into], counts, ids, traits] = await Promise.all([
        this.#redis.hmget(pk.hash, 'version', 'state', 'into'), this.#redis.hgetall(pk.counts), this.#redis.smembers(pk.ids), this.#redis.hgetall(pk.traits),
      ]);
      // A tombstone reads as its survivor; a frozen profile as itself (its swap answers `changed`).
      if (state === 'merged' && typeof into === 'string') {
        id = into;
        continue;
      }
      if (version === null || version === undefined) return undefined;
      // Every applied event adds one to exactly one counter, merges add the counters up.
      const events = Object.values(counts).reduce((n, c) => n + Number(c), 0);
      return { profileId: id, version: Number(version), events, identifiers: ids.sort(), traits };
    }
    return undefined;
  }

  scratch(tenant: string): UnmergeScratch {
    const namespace = `${this.#namespace.slice(0, 16)}_um${randomBytes(5).toString('hex')}`;
    return new ScratchV2(this, this.#redis, tenant, this.#namespace, namespace, this.#options);
  }

  /** Nothing to do: de-dup lives in each profile's `:seen`, and U1 gives B the moved messageIds (§2.4). */
  repointDedup(): Promise<void> {
    return Promise.resolve();
  }

  async traits(tenant: string, profileIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const read = await Promise.all(profileIds.map((pid) => this.#redis.hgetall(profileKeys(this.#namespace, tenant, pid).traits)));
    return new Map(profileIds.map((pid, i) => [pid, read[i] ?? {}]));
  }

  /** Runs unmerge-v2.lua in `pid`'s slot (`scratchNamespace`: the scratch keys of that profile id). */
  async run(tenant: string, pid: string, args: readonly (string | number)[], scratchNamespace?: string): Promise<string[]> {
    const real = profileKeys(this.#namespace, tenant, pid).prefix;
    const scratch = scratchNamespace === undefined ? real : profileKeys(scratchNamespace, tenant, pid).prefix;
    return await this.#script.run([real, scratch], args) as string[];
  }

  async step(step: UnmergeStep): Promise<void> {
    await this.#options.afterStep?.(step);
  }

  /** Deletes B if an unmerge of P installed it, and takes the journal entry back. */
  async undo(tenant: string, profileId: string, splitProfileId: string): Promise<void> {
    await this.run(tenant, splitProfileId, ['drop', profileId]);
    await this.#redis.zrem(this.journalKey(tenant, profileId), jobOf(profileId, splitProfileId));
  }

  /** U3 and U4, after U2 (`driving`: the unmerge's own driver, which runs afterStep). Idempotent. */
  async finish(tenant: string, profileId: string, splitProfileId: string, split: readonly string[], repoint: readonly string[], driving: boolean): Promise<void> {
    // U3: id keys of the split identifiers that still point at P (or at nobody) point at B.
    await Promise.all(split.map((idf) => this.#idCas.run([identifierOwner(this.#namespace, tenant, parseIdentifierKey(idf))], [splitProfileId, profileId, ...repoint])));
    await Promise.all(repoint.map((x) => this.run(tenant, x, ['repoint', profileId, splitProfileId])));
    if (driving) await this.step('U3');
    // U4
    if (split.length > 0) await this.#redis.hdel(profileKeys(this.#namespace, tenant, profileId).movedout, ...split);
    await this.#redis.zrem(this.journalKey(tenant, profileId), jobOf(profileId, splitProfileId));
    if (driving) await this.step('U4');
  }

  /**
   * Finishes or takes back the unmerges of P journaled more than the lease ago (a crash left them,
   * or the driver is gone): one whose U2 ran gets U3 and U4; one whose U2 did not run is fenced off
   * (P's version bumped in P's slot, so a late U2 answers `changed`) and its B deleted. P a
   * tombstone meanwhile: B keeps the split identifiers whose id keys could still be repointed to
   * it, and is deleted if none could.
   */
  async completeUnmerge(tenant: string, profileId: string): Promise<CompleteUnmergeOutcome[]> {
    const lease = this.#options.leaseMs ?? DEFAULT_LEASE_MS;
    const out: CompleteUnmergeOutcome[] = [];
    const journal = this.journalKey(tenant, profileId);
    for (const { splitProfileId, at } of await this.#jobs(journal, profileId)) {
      if (Date.now() - at < lease) {
        out.push({ status: 'pending', splitProfileId });
        continue;
      }
      const fence = await this.run(tenant, profileId, ['fence', splitProfileId]);
      const bk = profileKeys(this.#namespace, tenant, splitProfileId);
      if (fence[0] === 'swapped') {
        await this.finish(tenant, profileId, splitProfileId, fence.slice(1), await this.#redis.smembers(bk.merged), false);
        out.push({ status: 'finished', splitProfileId });
      } else if (fence[0] === 'fenced') {
        await this.undo(tenant, profileId, splitProfileId);
        out.push({ status: 'undone', splitProfileId });
      } else {
        // P merged away: only id keys still at P can go to B (those at the survivor stay there).
        const ids = await this.#redis.smembers(bk.ids);
        const cas = await Promise.all(ids.map((idf) => this.#idCas.run([identifierOwner(this.#namespace, tenant, parseIdentifierKey(idf))], [splitProfileId, profileId]) as Promise<string[]>));
        if (cas.some((r) => r[0] === 'ok')) {
          await this.#redis.zrem(journal, jobOf(profileId, splitProfileId));
          out.push({ status: 'finished', splitProfileId });
        } else {
          await this.undo(tenant, profileId, splitProfileId);
          out.push({ status: 'undone', splitProfileId });
        }
      }
    }
    return out;
  }

  /** The journaled unmerges of P. */
  async #jobs(journal: string, profileId: string): Promise<{ splitProfileId: string; at: number }[]> {
    const out: { splitProfileId: string; at: number }[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.zscan(journal, cursor, 'MATCH', `u|${profileId}|*`, 'COUNT', 1000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ splitProfileId: (flat[i] ?? '').split('|')[2] ?? '', at: Number(flat[i + 1]) });
    } while (cursor !== '0');
    return out;
  }
}

/** What the journal sweeper finishes: MergeRunner for `m|` entries, RedisUnmergeStateV2 for `u|` ones. */
export interface JournalFinishers<M, U> {
  readonly merges: { completeMerge(tenant: string, loser: string): Promise<M> };
  readonly unmerges: { completeUnmerge(tenant: string, profileId: string): Promise<U> };
}

/**
 * The sweeper's pass over one tenant's journals (§3.5 (b), §3.6), merges and unmerges alike: every
 * entry of the B buckets' `jobs` journaled more than `leaseMs` ago is handed to its finisher, once
 * per profile (the finishers read the journal themselves). Replaces MergeRunner.sweep, which skips
 * `u|` entries. Returns what each did, by loser (merges) and by unmerged profile (unmerges).
 */
export async function sweepJournals<M, U>(redis: RedisClient, namespace: string, tenant: string, options: { buckets: number; leaseMs?: number }, finishers: JournalFinishers<M, U>): Promise<{ merges: Map<string, M>; unmerges: Map<string, U> }> {
  const lease = options.leaseMs ?? DEFAULT_LEASE_MS;
  const merges = new Map<string, M>();
  const unmerges = new Map<string, U>();
  for (let b = 0; b < options.buckets; b++) {
    const due = await redis.zrangebyscore(bucketKeys(namespace, tenant, b).jobs, '-inf', Date.now() - lease);
    for (const member of due) {
      const pid = member.split('|')[1] ?? '';
      if (member.startsWith('m|') && !merges.has(pid)) merges.set(pid, await finishers.merges.completeMerge(tenant, pid));
      if (member.startsWith('u|') && !unmerges.has(pid)) unmerges.set(pid, await finishers.unmerges.completeUnmerge(tenant, pid));
    }
  }
  return { merges, unmerges };
}

/** The scratch space of one unmerge: both sides replayed under their own profile ids, then U0-U4. */
class ScratchV2 implements UnmergeScratch {
  readonly namespace: string;
  readonly #state: RedisUnmergeStateV2;
  readonly #redis: RedisClient;
  readonly #tenant: string;
  readonly #real: string;
  readonly #options: UnmergeStateV2Options;
  readonly #apply: Script;
  readonly #features: FeatureStoreV2;
  /** The profile id each side was replayed under. */
  readonly #sides = new Map<Side, string>();
  readonly #replayed = new Set<string>();

  constructor(state: RedisUnmergeStateV2, redis: RedisClient, tenant: string, realNamespace: string, namespace: string, options: UnmergeStateV2Options) {
    this.#state = state;
    this.#redis = redis;
    this.#tenant = tenant;
    this.#real = realNamespace;
    this.namespace = namespace;
    this.#options = options;
    this.#apply = applyProfileScript(redis);
    this.#features = new FeatureStoreV2(redis, namespace, SCRATCH_TTL_SECONDS);
  }

  async replay(side: Side, events: readonly PulseEvent[], features: readonly EventFeature[], now: number, profileId?: string): Promise<void> {
    if (profileId === undefined) throw new Error('unmerge on the per-profile layout: replay needs the side\'s profile id');
    const known = this.#sides.get(side);
    if (known !== undefined && known !== profileId) throw new Error(`unmerge scratch: side ${side} was replayed as ${known}, not ${profileId}`);
    this.#sides.set(side, profileId);
    const pk = profileKeys(this.namespace, this.#tenant, profileId);
    const policy = policyFor(this.#options.policies ?? new Map(), this.#tenant);
    const limits = limitArgs(DEFAULT_IDENTITY_LIMITS);
    // A redo after the profile changed replays only what is new (apply-profile.lua would skip the rest too).
    const fresh = events.filter((e) => !this.#replayed.has(e.messageId));
    for (let i = 0; i < fresh.length; i += CHUNK) {
      const chunk = fresh.slice(i, i + CHUNK);
      // Sent in order on the one connection to the slot (trait policies compare order tokens, but
      // `created` is the first event's time, the events come in time order).
      await Promise.all(chunk.map((e) => this.#apply.run([pk.prefix], applyProfileArgs(policy, limits, SCRATCH_TTL_SECONDS, {
        event: e, birth: true, via: undefined, attach: [], refused: [], merges: [],
      }))));
      await this.#features.record(this.#tenant, chunk.map((e) => ({ profileId, messageId: e.messageId, event: counterName(e), properties: e.properties, at: e.timestamp })), features, now);
      for (const e of chunk) this.#replayed.add(e.messageId);
      await Promise.all(SCRATCH_PARTS.map((part) => this.#redis.expire(pk[part], SCRATCH_TTL_SECONDS)));
    }
  }

  async swap(req: SwapRequest): Promise<SwapOutcome> {
    const { profileId: pid, newProfileId: newPid, split, repoint } = req;
    const state = this.#state;
    const tenant = this.#tenant;
    await this.#redis.zadd(state.journalKey(tenant, pid), 'NX', Date.now(), jobOf(pid, newPid));
    await state.step('U0');
    const real = profileKeys(this.#real, tenant, pid);
    const [consentValue, consentOrder] = await Promise.all([this.#redis.hget(real.traits, req.consentTrait), this.#redis.hget(real.tord, req.consentTrait)]);
    const moved = req.moved ?? [];
    const installed = await state.run(tenant, newPid, [
      'install', pid, req.consentTrait, consentValue ?? '', consentOrder ?? '', this.#options.dedupTtlSeconds,
      split.length, ...split, moved.length, ...moved, repoint.length, ...repoint,
    ], this.namespace);
    if (installed[0] === 'exists') {
      await this.#redis.zrem(state.journalKey(tenant, pid), jobOf(pid, newPid));
      return { kind: 'exists' };
    }
    await state.step('U1');
    const swapped = await state.run(tenant, pid, ['swap', String(req.expectedVersion), newPid, req.consentTrait, split.length, ...split, repoint.length, ...repoint], this.namespace);
    if (swapped[0] !== 'ok') {
      await state.undo(tenant, pid, newPid);
      if (swapped[0] === 'merged') return { kind: 'merged', into: swapped[1] ?? '' };
      if (swapped[0] === 'moved') return { kind: 'moved', identifier: swapped[1] ?? '' };
      return { kind: 'changed' };
    }
    // A consent record P got after U1 read it (outside an event, which would have changed P's version) goes to B too.
    const [, , valueAtSwap = '', orderAtSwap = ''] = swapped;
    if (orderAtSwap !== (consentOrder ?? '')) await state.run(tenant, newPid, ['consent', req.consentTrait, valueAtSwap, orderAtSwap]);
    await state.step('U2');
    await state.finish(tenant, pid, newPid, split, repoint, true);
    return { kind: 'ok', versionA: Number(swapped[1]), versionB: Number(installed[1]) };
  }

  async discard(): Promise<void> {
    const keys: string[] = [];
    for (const pid of this.#sides.values()) {
      const pk = profileKeys(this.namespace, this.#tenant, pid);
      for (const fid of await this.#redis.smembers(pk.fkeys)) keys.push(pk.feature(fid));
      for (const part of SCRATCH_PARTS) keys.push(pk[part]);
    }
    // One slot per profile: no multi-key DEL across them.
    await Promise.all(keys.map((k) => this.#redis.del(k)));
    this.#sides.clear();
    this.#replayed.clear();
  }
}
