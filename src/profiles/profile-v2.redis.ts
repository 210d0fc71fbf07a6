import type { PulseEvent } from '../collection/event.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import type { Json, JsonObject } from '../json.ts';
import type { RedisClient, Script } from '../infra/redis.ts';
import type { FactsInput } from '../segments/rule.ts';
import { planIdentity, type OwnerSnapshot } from './identity-plan.ts';
import { identifierOwner, profileIdFor, profileKeys, tenantKeys } from './keys.ts';
import { DEFAULT_LEASE_MS, MergeRunner, type MergeRunnerOptions } from './merge.redis.ts';
import { profileSlotScript } from './profile-slot.ts';
import { byPriority, counterName, orderToken, type Applied, type Merge, type ProfileView, type RefusedMerge, type TraitChange } from './model.ts';
import {
  computedWrites, decodeComputed, decodeCounts, decodeTraits, DEFAULT_IDENTITY_LIMITS, eventSource, limitArgs, policyFor, policyTable, traitWrites,
  type IdentityLimits, type ProfilePolicies, type TenantProfilePolicy,
} from './policy.ts';
import type { ProfileStore } from './store.ts';

/*
 * Profiles on the per-profile layout (src/profiles/per-profile-layout.md §1-3, steps 4-5): a profile's keys
 * share the hash tag `{<tenant>:<pid>}`, identifier keys have a tag of their own, so resolving,
 * applying and claiming are separate round trips to different slots (§2.2):
 *
 *   R1 GET the event's id keys (+ R1b each owner's identity, tombstones followed, frozen ones
 *   waited for or finished) → planIdentity (the walk of apply-event.lua) → each planned merge
 *   through MergeRunner (merge.redis.ts), older survives → apply-profile.lua on the survivor with
 *   the merges, attach and refusals → R3 SET NX the attached identifiers.
 *
 * The plan is a hint the scripts check: `moved`/`stale` answers, a merge that did not happen now
 * and a lost claim plan the event again (bounded). A merge the survivor refuses is planned again
 * as a refusal. After a lost claim the profile the event is on starts the next plan, so it is
 * merged with the claim's winner (or gives the identifier up, merge-release.lua); the event stays
 * counted once since `:seen` travels with merges, and its stored answer gains the merges. A merge
 * into a profile of the event's group that a crash left unfinished is finished (completeMerge) when
 * it is the event's own (a redelivery) or older than the lease; the sweeper does the rest.
 */

/** What apply-profile.lua is told about one event, besides the policy and limits. */
export interface ApplyProfileInput {
  readonly event: PulseEvent;
  /** A new profile: `created` is set. */
  readonly birth: boolean;
  /** The identifier the profile was found by; undefined for a birth or to skip the check. */
  readonly via: Identifier | undefined;
  readonly attach: readonly Identifier[];
  readonly refused: readonly RefusedMerge[];
  readonly merges: readonly Merge[];
  /**
   * This processor applied the event already (on this profile or one it absorbed since) and planned
   * again after a lost claim: on the `dup` answer `refused` is added to what is stored for it too.
   */
  readonly amend?: boolean;
}

/** apply-profile.lua (with the profile-slot prelude) on a connection. */
export function applyProfileScript(redis: RedisClient): Script {
  return profileSlotScript(redis, 'pulseApplyProfile', new URL('./apply-profile.lua', import.meta.url));
}

/** ARGV of apply-profile.lua for one event. */
export function applyProfileArgs(policy: TenantProfilePolicy, limits: readonly string[], dedupTtlSeconds: number, input: ApplyProfileInput): (string | number)[] {
  const e = input.event;
  const writes = traitWrites(policy, e.traits);
  const computed = computedWrites(policy, e);
  return [
    e.messageId, orderToken(e), String(e.timestamp), input.birth ? '1' : '0', input.via === undefined ? '' : identifierKey(input.via),
    dedupTtlSeconds, counterName(e), eventSource(e), input.amend === true ? '1' : '0', ...limits, ...policyTable(policy),
    input.attach.length, ...input.attach.map(identifierKey),
    input.refused.length, ...input.refused.flatMap((r) => [r.reason, identifierKey(r.identifier), r.other]),
    input.merges.length, ...input.merges.flatMap((m) => [m.survivor, m.merged, m.identifiers.map(identifierKey).sort().join('\n')]),
    writes.length / 2, ...writes, computed.length / 3, ...computed,
  ];
}

/** apply-profile.lua's answer. */
export type ApplyProfileResult =
  | { readonly status: 'moved'; readonly into: string }
  | { readonly status: 'stale' }
  | { readonly status: 'new' | 'dup'; readonly applied: Applied; readonly claim: readonly Identifier[] };

/** Reads apply-profile.lua's answer into apply-event.lua's terms (see RedisProfileStore). */
export function readApplyProfile(raw: unknown): ApplyProfileResult {
  const r = raw as [string, ...unknown[]];
  if (r[0] === 'moved') return { status: 'moved', into: r[1] as string };
  if (r[0] === 'stale') return { status: 'stale' };
  const [status, profileId, version, changed, merges, refused, claim] = r as [
    'new' | 'dup', string, string, [string, string][], [string, string, string][], [string, string, string][], string[],
  ];
  return {
    status,
    claim: claim.map(parseIdentifierKey),
    applied: {
      profileId,
      version: Number(version),
      duplicate: status === 'dup',
      traitChanges: changed.map(([trait, value]): TraitChange => ({ trait, value: JSON.parse(value) as Json })),
      merges: merges.map(([survivor, merged, moved]): Merge => ({
        survivor, merged, identifiers: moved === '' ? [] : moved.split('\n').map(parseIdentifierKey),
      })),
      refused: refused.map(([reason, idf, other]): RefusedMerge => ({ reason, identifier: parseIdentifierKey(idf), other })),
    },
  };
}

/** A merge a live profile has accepted (`:absorbing`): the loser, the event that linked them, when. */
interface Acceptance {
  readonly loser: string;
  readonly mid: string;
  readonly at: number;
}

/**
 * What a component of a batch knows: identifier owners (null: nobody), snapshots of live
 * profiles and the merges each has accepted and not finished.
 */
interface View {
  readonly owners: Map<string, string | null>;
  readonly profiles: Map<string, OwnerSnapshot>;
  readonly absorbing: Map<string, readonly Acceptance[]>;
}

function newView(): View {
  return { owners: new Map(), profiles: new Map(), absorbing: new Map() };
}

/**
 * A component's own view: what the batch's view knows of the component's identifiers and of their
 * owners, copied (the component changes it as it goes). Only those: a batch of 50,000 events holds
 * thousands of components, and a copy of the whole batch's view each would be quadratic (a heap
 * exhausted at 4 GB in the bench). Whatever a component needs beyond it is read when needed.
 */
function componentView(from: View, identifiers: readonly Identifier[]): View {
  const view = newView();
  for (const idf of identifiers) {
    const key = identifierKey(idf);
    const owner = from.owners.get(key);
    if (owner === undefined) continue;
    view.owners.set(key, owner);
    if (owner === null) continue;
    const snapshot = from.profiles.get(owner);
    if (snapshot !== undefined) view.profiles.set(owner, snapshot);
    const absorbing = from.absorbing.get(owner);
    if (absorbing !== undefined) view.absorbing.set(owner, absorbing);
  }
  return view;
}

/**
 * Plans of one event (§2.2 step 7): `moved`, `stale`, a lost claim and a merge that did not happen
 * now (younger, moved, gone, busy, aborted) plan again. Above 5 since four processors racing on one
 * person meet each other's merges a few times before one wins.
 */
const MAX_TRIES = 10;
/** Tombstones followed from one identifier key; the bound only guards against a corrupted cycle. */
const MAX_HOPS = 64;
/** How long a frozen profile is given to its merge's driver before this processor finishes the merge itself. */
const DEFAULT_HELP_AFTER_MS = 200;
/** The default bucket count (PULSE_REDIS_BUCKETS): where merge journals go. */
const DEFAULT_BUCKETS = 64;

/** MergeRunnerOptions the store passes on; the policy and limits are the store's own. */
export interface StoreMergeOptions extends Omit<MergeRunnerOptions, 'policy' | 'limits' | 'buckets'> {
  /** The tenants' bucket count (PULSE_REDIS_BUCKETS; default 64). */
  readonly buckets?: number;
  /**
   * How long a profile found frozen is left to the merge that froze it before this store finishes
   * that merge with completeMerge (default 200 ms). Finishing a frozen merge is always right (it
   * is past its point of no return and every step is idempotent), so this only saves doing the
   * same work twice while its driver is alive.
   */
  readonly helpAfterMs?: number;
}

export interface ProfileStoreV2Options {
  readonly policies?: ProfilePolicies;
  readonly limits?: IdentityLimits;
  /** How merges are run: bucket count, lease, publishing `merge:<L>`, `gone` for bucket indexes. */
  readonly merge?: StoreMergeOptions;
}

/** How often the store met the races of §2.2 (counters for metrics and tests; they only grow). */
export interface ProfileStoreV2Stats {
  /** apply-profile.lua answered `moved` (or a frozen profile's `dup` that had to be amended). */
  moved: number;
  /** apply-profile.lua answered `stale`. */
  stale: number;
  /** Claims another profile won. */
  lostClaims: number;
  /** Merges done through MergeRunner (this store's `merged` outcomes). */
  merged: number;
  /** Merges the survivor refused although the plan allowed them. */
  mergeRefused: number;
  /** Merges that did not happen now (younger, moved, gone, busy, aborted). */
  mergeRetries: number;
  /** Frozen profiles met, and those this store finished the merge of. */
  frozen: number;
  finishedFrozen: number;
  /** Identifiers given up after a lost claim (merge-release.lua). */
  released: number;
  /** Merges a crash left unfinished (this event's, or past their lease) that this store finished or took back. */
  finishedCrashed: number;
}

/** What one event's application has done so far, across its plans. */
interface Progress {
  /** Merges performed (or finished) for it, in order. */
  readonly merges: Merge[];
  /** Merges merge-accept.lua refused although the plan allowed them, by the identifier that linked them. */
  readonly refuse: Map<string, string>;
  /** Losers whose unfinished merge into a profile of the group this call tried to finish. */
  readonly helped: Set<string>;
  /** The profile this call applied the event on, when a claim was lost afterwards: the next plan starts there. */
  on: string | undefined;
  /** The answer of that application. */
  first: Applied | undefined;
  /** `stale` answers so far. */
  stale: number;
}

/** Profiles and identity on the per-profile layout: merges run the cross-slot protocol of merge.redis.ts. */
export class RedisProfileStoreV2 implements ProfileStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #apply: Script;
  readonly #release: Script;
  readonly #policies: ProfilePolicies;
  readonly #limits: IdentityLimits;
  readonly #limitArgs: string[];
  readonly #merge: StoreMergeOptions;
  readonly #runners = new Map<string, MergeRunner>();
  readonly stats: ProfileStoreV2Stats = {
    moved: 0, stale: 0, lostClaims: 0, merged: 0, mergeRefused: 0, mergeRetries: 0, frozen: 0, finishedFrozen: 0, released: 0, finishedCrashed: 0,
  };

  /** The options of RedisProfileStore, and how merges are run. */
  constructor(redis: RedisClient, namespace: string, dedupTtlSeconds: number, options: ProfileStoreV2Options = {}) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#policies = options.policies ?? new Map();
    this.#limits = options.limits ?? DEFAULT_IDENTITY_LIMITS;
    this.#limitArgs = limitArgs(this.#limits);
    this.#merge = options.merge ?? {};
    this.#apply = applyProfileScript(redis);
    this.#release = profileSlotScript(redis, 'pulseMergeRelease', new URL('./merge-release.lua', import.meta.url));
  }

  /** The tenant's MergeRunner (its policy decides how traits combine). */
  runner(tenant: string): MergeRunner {
    let r = this.#runners.get(tenant);
    if (r === undefined) {
      const { leaseMs, chunkBytes, publish, gone, afterStep } = this.#merge;
      r = new MergeRunner(this.#redis, this.#namespace, {
        buckets: this.#merge.buckets ?? DEFAULT_BUCKETS, policy: policyFor(this.#policies, tenant), limits: this.#limits,
        ...leaseMs === undefined ? {} : { leaseMs }, ...chunkBytes === undefined ? {} : { chunkBytes },
        ...publish === undefined ? {} : { publish }, ...gone === undefined ? {} : { gone }, ...afterStep === undefined ? {} : { afterStep },
      });
      this.#runners.set(tenant, r);
    }
    return r;
  }

  /**
   * Events that share an identifier form a component, applied in order against a local view;
   * components run concurrently (§2.2). If one fails, the others still finish before it is thrown.
   */
  async applyEvents(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]> {
    const policy = policyFor(this.#policies, tenant);
    const out = new Array<Applied>(events.length);
    // R1 for the whole batch, so events whose identifiers differ but name one profile share a component too.
    // With it, whether a profile was born for an event before (a crash between its birth and its claims).
    const seen = newView();
    const [reborn] = await Promise.all([
      Promise.all(events.map(async (e) => await this.#redis.hexists(profileKeys(this.#namespace, tenant, profileIdFor(tenant, e.messageId)).hash, 'created') === 1)),
      this.#resolveInto(tenant, seen, events.flatMap((e) => e.identifiers)),
    ]);
    const profilesOf = (e: PulseEvent): string[] => e.identifiers.flatMap((i) => {
      const pid = seen.owners.get(identifierKey(i));
      return pid === null || pid === undefined ? [] : [pid];
    });
    const settled = await Promise.allSettled(components(events, profilesOf).map(async (indexes) => {
      const view = componentView(seen, indexes.flatMap((i) => events[i]?.identifiers ?? []));
      for (const i of indexes) {
        const e = events[i];
        if (e !== undefined) out[i] = await this.#applyOne(tenant, policy, view, e, reborn[i] === true);
      }
    }));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return out;
  }

  /**
   * One event: resolve, plan, merge, apply on the survivor, claim; planned again (§2.2 step 7) when
   * a script answers `moved` or `stale`, a merge did not happen now, or a claim was lost.
   */
  async #applyOne(tenant: string, policy: TenantProfilePolicy, view: View, e: PulseEvent, reborn: boolean): Promise<Applied> {
    const ids = byPriority(e.identifiers);
    const runner = this.runner(tenant);
    // A profile born for this event before (a crash between its birth and its claims) holds it: the plan starts there.
    const progress: Progress = {
      merges: [], refuse: new Map(), helped: new Set(), on: reborn ? profileIdFor(tenant, e.messageId) : undefined, first: undefined, stale: 0,
    };
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      if (attempt > 0) await pause(attempt);
      const done = await this.#attempt(tenant, policy, view, e, ids, runner, progress);
      if (done !== undefined) return done;
    }
    throw new Error(`event ${e.messageId}: its profile moved, went stale, lost a claim or met a merge in flight ${MAX_TRIES} times`);
  }

  /** One plan of an event, carried out; undefined when it has to be planned again. */
  async #attempt(
    tenant: string, policy: TenantProfilePolicy, view: View, e: PulseEvent, ids: readonly Identifier[], runner: MergeRunner, progress: Progress,
  ): Promise<Applied | undefined> {
    await this.#resolveInto(tenant, view, ids);
    const start = progress.on === undefined ? undefined : await this.#know(tenant, view, progress.on);
    const owners = new Map<string, string>();
    for (const [k, v] of view.owners) if (v !== null) owners.set(k, v);
    const plan = planIdentity(ids, { owners, profiles: view.profiles }, this.#limits, { ...start === undefined ? {} : { start }, refuse: progress.refuse });
    // What the profiles the event lands on list (read before the merges): a refused identifier among
    // them is one whose claim was lost (now, or before a crash), to give up.
    const group = [start, plan.profile, ...plan.merges.flatMap((m) => [m.survivor, m.merged])];
    const listed = new Set(group.flatMap((p) => (p === undefined ? [] : view.profiles.get(p)?.identifiers.map(identifierKey) ?? [])));

    // Merges into a profile of the group that a crash left unfinished (§3.5): this event's own (a
    // redelivery) or older than the lease. Finished merges of this event go in its answer.
    const lease = this.#merge.leaseMs ?? DEFAULT_LEASE_MS;
    let finished = false;
    for (const p of new Set(group.filter((x): x is string => x !== undefined))) {
      for (const a of view.absorbing.get(p) ?? []) {
        if (progress.helped.has(a.loser) || (a.mid !== e.messageId && Date.now() - a.at < lease)) continue;
        progress.helped.add(a.loser);
        const done = await runner.completeMerge(tenant, a.loser);
        if (done.status === 'finished' && a.mid === e.messageId && !progress.merges.some((m) => m.merged === a.loser)) progress.merges.push(done.merge);
        if (done.status === 'finished' || done.status === 'aborted') {
          this.stats.finishedCrashed++;
          forgetProfile(view, p);
          forgetProfile(view, a.loser);
          finished = true;
        }
      }
    }
    if (finished) {
      forget(view, ids);
      return undefined;
    }

    // Step 5 of §10: each planned merge through the protocol, in walk order.
    const survivors = new Set<string>();
    for (const m of plan.merges) {
      const known = survivors.has(m.merged) ? undefined : view.profiles.get(m.merged);
      const outcome = await runner.merge(tenant, { survivor: m.survivor, loser: m.merged, messageId: e.messageId, ...(known === undefined ? {} : { known }) });
      forgetProfile(view, m.survivor);
      forgetProfile(view, m.merged);
      if (outcome.status === 'merged') {
        this.stats.merged++;
        progress.merges.push(outcome.merge);
        survivors.add(m.survivor);
        continue;
      }
      // The survivor's atomic check disagrees with the snapshot: plan again with its refusal.
      if (outcome.status === 'refused') {
        this.stats.mergeRefused++;
        progress.refuse.set(identifierKey(m.via), outcome.reason);
      } else {
        this.stats.mergeRetries++;
      }
      forget(view, ids);
      return undefined;
    }

    const birth = plan.profile === undefined;
    const pid = plan.profile ?? profileIdFor(tenant, e.messageId);
    const amend = progress.first !== undefined;
    const result = readApplyProfile(await this.#apply.run([profileKeys(this.#namespace, tenant, pid).prefix], applyProfileArgs(policy, this.#limitArgs, this.#dedupTtlSeconds, {
      event: e, birth, via: progress.stale < 2 ? plan.anchor?.via : undefined, attach: plan.attach, refused: plan.refused, merges: progress.merges, amend,
    })));
    if (result.status === 'moved' || (result.status === 'dup' && result.applied.profileId !== pid && (amend || progress.merges.length > 0))) {
      // A tombstone, or frozen into another profile (whose merge the next resolve waits for or finishes).
      this.stats.moved++;
      if (birth) progress.on = pid;
      forgetProfile(view, pid);
      forget(view, ids);
      return undefined;
    }
    if (result.status === 'stale') {
      // The id key names a profile that does not hold the identifier: resolve again once, then apply anyway.
      forgetProfile(view, pid);
      forget(view, ids);
      this.stats.stale++;
      progress.stale++;
      return undefined;
    }
    if (result.status === 'new') progress.first = result.applied;
    const lost = await this.#claim(tenant, pid, result.claim);
    if (lost) {
      // §2.2 step 6: another profile took an identifier meanwhile; the event links the two.
      this.stats.lostClaims++;
      progress.on = pid;
      forgetProfile(view, pid);
      forget(view, ids);
      return undefined;
    }
    // Identifiers the profile lists but whose claim was lost to a profile it may not merge with.
    const release = plan.refused.filter((r) => r.other !== '' && listed.has(identifierKey(r.identifier)));
    for (const r of release) await this.#releaseId(tenant, pid, r.identifier, r.other);
    this.#remember(view, pid, e, birth, result, start !== undefined || progress.merges.length > 0 || release.length > 0);
    const applied = progress.first === undefined ? result.applied : { ...result.applied, duplicate: false };
    if (progress.first !== undefined) await this.#recordRefusals(tenant, e, applied.profileId, applied.refused);
    return applied;
  }

  /** R1: the owners of identifiers the view does not know, then the snapshot of each owner. */
  async #resolveInto(tenant: string, view: View, ids: readonly Identifier[]): Promise<void> {
    const unknown = [...new Map(ids.filter((i) => !view.owners.has(identifierKey(i))).map((i) => [identifierKey(i), i])).values()];
    const found = await Promise.all(unknown.map((i) => this.#redis.get(identifierOwner(this.#namespace, tenant, i))));
    const pending = new Map<string, Promise<string>>();
    await Promise.all(unknown.map(async (idf, n) => {
      const owner = found[n] ?? null;
      if (owner === null) {
        view.owners.set(identifierKey(idf), null);
        return;
      }
      let read = pending.get(owner);
      if (read === undefined) {
        read = this.#know(tenant, view, owner);
        pending.set(owner, read);
      }
      view.owners.set(identifierKey(idf), await read);
    }));
  }

  /** The live profile `owner` is or lives on in, its snapshot in the view (known profiles are live ones). */
  async #know(tenant: string, view: View, owner: string): Promise<string> {
    if (view.profiles.has(owner)) return owner;
    const { pid, snapshot, absorbing } = await this.#snapshot(tenant, owner);
    if (!view.profiles.has(pid)) {
      view.profiles.set(pid, snapshot);
      view.absorbing.set(pid, absorbing);
    }
    return pid;
  }

  /**
   * R1b: what planIdentity needs of a profile, after following tombstones to the live one. A
   * frozen profile is being merged: its driver is given helpAfterMs, then the merge is finished here.
   */
  async #snapshot(tenant: string, owner: string): Promise<{ pid: string; snapshot: OwnerSnapshot; absorbing: Acceptance[] }> {
    let pid = owner;
    let frozenSince: number | undefined;
    for (let hops = 0; hops < MAX_HOPS + 100; hops++) {
      const pk = profileKeys(this.#namespace, tenant, pid);
      const [[state, into, created], ids, nomerge, merged, absorbing] = await Promise.all([
        this.#redis.hmget(pk.hash, 'state', 'into', 'created'), this.#redis.smembers(pk.ids), this.#redis.smembers(pk.nomerge), this.#redis.smembers(pk.merged),
        this.#redis.hgetall(pk.absorbing),
      ]);
      if (state === 'merged' && typeof into === 'string') {
        pid = into;
        frozenSince = undefined;
        continue;
      }
      if (state === 'frozen') {
        if (frozenSince === undefined) this.stats.frozen++;
        frozenSince ??= Date.now();
        if (Date.now() - frozenSince < (this.#merge.helpAfterMs ?? DEFAULT_HELP_AFTER_MS)) {
          await sleep(5);
        } else {
          this.stats.finishedFrozen++;
          await this.runner(tenant).completeMerge(tenant, pid);
        }
        continue;
      }
      return {
        pid,
        snapshot: { created: created === null || created === undefined ? undefined : Number(created), identifiers: ids.map(parseIdentifierKey), nomerge, merged },
        absorbing: Object.entries(absorbing).map(([loser, json]) => {
          const a = JSON.parse(json) as { mid?: unknown; at?: unknown };
          return { loser, mid: typeof a.mid === 'string' ? a.mid : '', at: typeof a.at === 'number' ? a.at : 0 };
        }),
      };
    }
    throw new Error(`profile ${owner}: more than ${MAX_HOPS} tombstones or frozen too long`);
  }

  /** R3: `SET NX` the id keys of the identifiers the profile now holds. Whether another profile holds one. */
  async #claim(tenant: string, pid: string, claim: readonly Identifier[]): Promise<boolean> {
    const before = await Promise.all(claim.map((i) => this.#redis.set(identifierOwner(this.#namespace, tenant, i), pid, 'NX', 'GET')));
    return before.some((owner) => owner !== null && owner !== pid);
  }

  /** §2.2 step 6: `pid` gives up an identifier whose claim `owner` won, on the profile it lives on in. */
  async #releaseId(tenant: string, pid: string, idf: Identifier, owner: string): Promise<void> {
    let at = pid;
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      const r = await this.#release.run([profileKeys(this.#namespace, tenant, at).prefix], [identifierKey(idf), owner]) as string[];
      if (r[0] === 'released') this.stats.released++;
      if (r[0] !== 'moved') return;
      at = (await this.#snapshot(tenant, at)).pid;
    }
  }

  /**
   * The view after an event: its identifiers resolve to the profile, which holds the claimed ones.
   * After merges or a lost claim (`reread`) the profile is read again when needed instead.
   */
  #remember(view: View, pid: string, e: PulseEvent, birth: boolean, result: ApplyProfileResult & { status: 'new' | 'dup' }, reread: boolean): void {
    const before = view.profiles.get(pid);
    if (result.status === 'dup' || reread || (before === undefined && !birth)) {
      // What the profile holds now is not known from the answer: read it again when needed.
      forgetProfile(view, pid);
      forget(view, e.identifiers);
      return;
    }
    view.profiles.set(pid, {
      created: before?.created ?? e.timestamp,
      identifiers: [...before?.identifiers ?? [], ...result.claim.filter((i) => !before?.identifiers.some((b) => identifierKey(b) === identifierKey(i)))],
      nomerge: before?.nomerge ?? [],
      merged: before?.merged ?? [],
    });
    for (const idf of result.claim) view.owners.set(identifierKey(idf), pid);
  }

  /** Refused links go to the tenant's `merges:refused` list, newest first, as apply-event.lua records them. */
  async #recordRefusals(tenant: string, e: PulseEvent, pid: string, refused: readonly RefusedMerge[]): Promise<void> {
    if (refused.length === 0) return;
    const key = tenantKeys(this.#namespace, tenant).refusedMerges;
    await this.#redis.lpush(key, ...refused.map((r) => JSON.stringify({
      at: e.timestamp, messageId: e.messageId, profile: pid, identifier: identifierKey(r.identifier), other: r.other, reason: r.reason,
    })));
    await this.#redis.ltrim(key, 0, 999);
  }

  async facts(tenant: string, profileIds: readonly string[]): Promise<Map<string, { facts: FactsInput; version: number }>> {
    const read = await Promise.all(profileIds.map(async (pid) => {
      const pk = profileKeys(this.#namespace, tenant, pid);
      const [traits, counts, version, computed] = await Promise.all([
        this.#redis.hgetall(pk.traits), this.#redis.hgetall(pk.counts), this.#redis.hget(pk.hash, 'version'), this.#redis.hgetall(pk.computed),
      ]);
      return [pid, { facts: { traits: { ...decodeTraits(traits), ...decodeComputed(computed) }, eventCounts: decodeCounts(counts) }, version: Number(version ?? 0) }] as const;
    }));
    return new Map(read);
  }

  async resolve(tenant: string, identifiers: readonly Identifier[]): Promise<string | undefined> {
    const found = await Promise.all(byPriority(identifiers).map((i) => this.#redis.get(identifierOwner(this.#namespace, tenant, i))));
    const owner = found.find((p): p is string => p !== null);
    return owner === undefined ? undefined : this.#live(tenant, owner);
  }

  /** The profile a pid lives on in: itself, or where its tombstones lead. */
  async #live(tenant: string, profileId: string): Promise<string> {
    let pid = profileId;
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      const [state, into] = await this.#redis.hmget(profileKeys(this.#namespace, tenant, pid).hash, 'state', 'into');
      if (state !== 'merged' || into === null || into === undefined) return pid;
      pid = into;
    }
    return pid;
  }

  async get(tenant: string, profileId: string): Promise<ProfileView | undefined> {
    const id = await this.#live(tenant, profileId);
    const pk = profileKeys(this.#namespace, tenant, id);
    const [meta, ids, traits, counts, computed] = await Promise.all([
      this.#redis.hgetall(pk.hash), this.#redis.smembers(pk.ids), this.#redis.hgetall(pk.traits), this.#redis.hgetall(pk.counts), this.#redis.hgetall(pk.computed),
    ]);
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

  async refusedMerges(tenant: string, limit: number): Promise<JsonObject[]> {
    const raw = await this.#redis.lrange(tenantKeys(this.#namespace, tenant).refusedMerges, 0, Math.max(0, limit - 1));
    return raw.map((r) => JSON.parse(r) as JsonObject);
  }
}

/** Drops what the view knows of an event's identifiers, so they are resolved again. */
function forget(view: View, ids: readonly Identifier[]): void {
  for (const idf of ids) view.owners.delete(identifierKey(idf));
}

/** Drops what the view knows of a profile, and which identifiers it owns, so they are read again. */
function forgetProfile(view: View, pid: string): void {
  view.profiles.delete(pid);
  view.absorbing.delete(pid);
  for (const [k, v] of view.owners) if (v === pid) view.owners.delete(k);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Before plan `attempt` (> 0) of an event: a short, growing, jittered pause, so racing processors fall out of step. */
function pause(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(40, 2 ** attempt));
}

/**
 * The indexes of events that share identifiers (transitively), each component in batch order; with
 * `profilesOf`, also events whose identifiers name the same profile.
 */
export function components(events: readonly PulseEvent[], profilesOf: (e: PulseEvent) => readonly string[] = () => []): number[][] {
  const parent = events.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] ?? r;
    for (let x = i; parent[x] !== r;) {
      const next = parent[x] ?? r;
      parent[x] = r;
      x = next;
    }
    return r;
  };
  const first = new Map<string, number>();
  events.forEach((e, i) => {
    for (const key of [...e.identifiers.map(identifierKey), ...profilesOf(e).map((pid) => `profile ${pid}`)]) {
      const j = first.get(key);
      if (j === undefined) first.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, number[]>();
  events.forEach((_, i) => {
    const r = find(i);
    const g = groups.get(r);
    if (g === undefined) groups.set(r, [i]);
    else g.push(i);
  });
  return [...groups.values()];
}
