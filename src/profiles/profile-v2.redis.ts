import type { PulseEvent } from '../collection/event.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../identity/identifier.ts';
import type { Json, JsonObject } from '../json.ts';
import type { RedisClient, Script } from '../infra/redis.ts';
import type { FactsInput } from '../segments/rule.ts';
import { planIdentity, type OwnerSnapshot } from './identity-plan.ts';
import { identifierOwner, profileIdFor, profileKeys, tenantKeys } from './keys.ts';
import { profileSlotScript } from './profile-slot.ts';
import { byPriority, counterName, orderToken, type Applied, type Merge, type ProfileView, type RefusedMerge, type TraitChange } from './model.ts';
import {
  computedWrites, decodeComputed, decodeCounts, decodeTraits, DEFAULT_IDENTITY_LIMITS, eventSource, limitArgs, policyFor, policyTable, traitWrites,
  type IdentityLimits, type ProfilePolicies, type TenantProfilePolicy,
} from './policy.ts';
import type { ProfileStore } from './store.ts';

/*
 * Profiles on the per-profile layout (src/profiles/per-profile-layout.md §1-2, step 4): a profile's keys share
 * the hash tag `{<tenant>:<pid>}`, identifier keys have a tag of their own, so resolving, applying
 * and claiming are separate round trips to different slots. Merges across profiles are step 5:
 * until then an event that needs one throws.
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
    dedupTtlSeconds, counterName(e), eventSource(e), ...limits, ...policyTable(policy),
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

/** What a component of a batch knows: identifier owners (null: nobody) and profile snapshots. */
interface View {
  readonly owners: Map<string, string | null>;
  readonly profiles: Map<string, OwnerSnapshot>;
}

/** Tries of one event after `moved` or `stale` answers (§2.2 step 7). */
const MAX_TRIES = 5;
/** Tombstones followed from one identifier key; the bound only guards against a corrupted cycle. */
const MAX_HOPS = 64;

/** Profiles and identity on the per-profile layout, for event streams that merge no profiles. */
export class RedisProfileStoreV2 implements ProfileStore {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #dedupTtlSeconds: number;
  readonly #apply: Script;
  readonly #policies: ProfilePolicies;
  readonly #limits: IdentityLimits;
  readonly #limitArgs: string[];

  /** The options of RedisProfileStore. */
  constructor(redis: RedisClient, namespace: string, dedupTtlSeconds: number, options: { policies?: ProfilePolicies; limits?: IdentityLimits } = {}) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#dedupTtlSeconds = dedupTtlSeconds;
    this.#policies = options.policies ?? new Map();
    this.#limits = options.limits ?? DEFAULT_IDENTITY_LIMITS;
    this.#limitArgs = limitArgs(this.#limits);
    this.#apply = applyProfileScript(redis);
  }

  /**
   * Events that share an identifier form a component, applied in order against a local view;
   * components run concurrently (§2.2).
   */
  async applyEvents(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]> {
    const policy = policyFor(this.#policies, tenant);
    const out = new Array<Applied>(events.length);
    await Promise.all(components(events).map(async (indexes) => {
      const view: View = { owners: new Map(), profiles: new Map() };
      for (const i of indexes) {
        const e = events[i];
        if (e !== undefined) out[i] = await this.#applyOne(tenant, policy, view, e);
      }
    }));
    return out;
  }

  async #applyOne(tenant: string, policy: TenantProfilePolicy, view: View, e: PulseEvent): Promise<Applied> {
    const ids = byPriority(e.identifiers);
    let stale = 0;
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      await this.#resolveInto(tenant, view, ids);
      const owners = new Map<string, string>();
      for (const [k, v] of view.owners) if (v !== null) owners.set(k, v);
      const plan = planIdentity(ids, { owners, profiles: view.profiles }, this.#limits);
      if (plan.merges.length > 0) throw new Error('merge across profiles needs step 5');
      const birth = plan.profile === undefined;
      const pid = plan.profile ?? profileIdFor(tenant, e.messageId);
      const result = readApplyProfile(await this.#apply.run([profileKeys(this.#namespace, tenant, pid).prefix], applyProfileArgs(policy, this.#limitArgs, this.#dedupTtlSeconds, {
        event: e, birth, via: stale < 2 ? plan.anchor?.via : undefined, attach: plan.attach, refused: plan.refused, merges: [],
      })));
      if (result.status === 'moved') throw new Error('merge across profiles needs step 5');
      if (result.status === 'stale') {
        // The id key names a profile that does not hold the identifier: resolve again once, then apply anyway.
        forget(view, ids, pid);
        stale++;
        continue;
      }
      await this.#claim(tenant, pid, result.claim);
      this.#remember(view, pid, e, birth, result);
      if (result.status === 'new') await this.#recordRefusals(tenant, e, pid, result.applied.refused);
      return result.applied;
    }
    throw new Error(`event ${e.messageId}: its profile went stale or moved ${MAX_TRIES} times`);
  }

  /** R1: the owners of identifiers the view does not know, then the snapshot of each owner. */
  async #resolveInto(tenant: string, view: View, ids: readonly Identifier[]): Promise<void> {
    const unknown = ids.filter((i) => !view.owners.has(identifierKey(i)));
    const found = await Promise.all(unknown.map((i) => this.#redis.get(identifierOwner(this.#namespace, tenant, i))));
    const pending = new Map<string, Promise<{ pid: string; snapshot: OwnerSnapshot }>>();
    await Promise.all(unknown.map(async (idf, n) => {
      const owner = found[n] ?? null;
      if (owner === null || view.profiles.has(owner)) {
        // Known profiles are live ones: the view already holds their snapshot.
        view.owners.set(identifierKey(idf), owner);
        return;
      }
      let read = pending.get(owner);
      if (read === undefined) {
        read = this.#snapshot(tenant, owner);
        pending.set(owner, read);
      }
      const { pid, snapshot } = await read;
      view.owners.set(identifierKey(idf), pid);
      if (!view.profiles.has(pid)) view.profiles.set(pid, snapshot);
    }));
  }

  /** R1b: what planIdentity needs of a profile, after following tombstones to the live one. */
  async #snapshot(tenant: string, owner: string): Promise<{ pid: string; snapshot: OwnerSnapshot }> {
    let pid = owner;
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      const pk = profileKeys(this.#namespace, tenant, pid);
      const [[state, into, created], ids, nomerge, merged] = await Promise.all([
        this.#redis.hmget(pk.hash, 'state', 'into', 'created'), this.#redis.smembers(pk.ids), this.#redis.smembers(pk.nomerge), this.#redis.smembers(pk.merged),
      ]);
      if (state === 'merged' && into !== null && into !== undefined) {
        pid = into;
        continue;
      }
      if (state === 'frozen') throw new Error('merge across profiles needs step 5');
      return {
        pid,
        snapshot: { created: created === null || created === undefined ? undefined : Number(created), identifiers: ids.map(parseIdentifierKey), nomerge, merged },
      };
    }
    throw new Error(`profile ${owner}: more than ${MAX_HOPS} tombstones`);
  }

  /** R3: `SET NX` the id keys of the identifiers the profile now holds; one owned by another profile needs a merge. */
  async #claim(tenant: string, pid: string, claim: readonly Identifier[]): Promise<void> {
    const before = await Promise.all(claim.map((i) => this.#redis.set(identifierOwner(this.#namespace, tenant, i), pid, 'NX', 'GET')));
    if (before.some((owner) => owner !== null && owner !== pid)) throw new Error('merge across profiles needs step 5');
  }

  /** The view after an event: its identifiers resolve to the profile, which holds the claimed ones. */
  #remember(view: View, pid: string, e: PulseEvent, birth: boolean, result: ApplyProfileResult & { status: 'new' | 'dup' }): void {
    if (result.status === 'dup') {
      // What the profile holds now is not known from a redelivery's answer: read it again when needed.
      forget(view, e.identifiers, pid);
      return;
    }
    const before = view.profiles.get(pid);
    view.profiles.set(pid, {
      created: before?.created ?? (birth ? e.timestamp : undefined),
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

/** Drops what the view knows of an event's identifiers and of a profile, so they are read again. */
function forget(view: View, ids: readonly Identifier[], pid: string): void {
  for (const idf of ids) view.owners.delete(identifierKey(idf));
  view.profiles.delete(pid);
}

/** The indexes of events that share identifiers (transitively), each component in batch order. */
export function components(events: readonly PulseEvent[]): number[][] {
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
    for (const idf of e.identifiers) {
      const key = identifierKey(idf);
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
