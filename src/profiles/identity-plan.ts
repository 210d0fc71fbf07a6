import { identifierKey, type Identifier } from '../identity/identifier.ts';
import { byPriority, type Merge, type RefusedMerge } from './model.ts';
import type { IdentityLimits } from './policy.ts';

/**
 * Identity resolution planned in TypeScript: the walk of apply-event.lua (lines 239-277) over a
 * snapshot instead of live Redis, for the per-profile layout (src/profiles/per-profile-layout.md §2.2) where
 * resolving, merging and applying are no longer one atomic script. Pure: no Redis, no clock. The
 * plan is a hint that the per-slot scripts check again, but for the same state it makes the
 * decisions apply-event.lua makes.
 */

/** What was read about one profile that owns an identifier of the event. */
export interface OwnerSnapshot {
  /** `created` in epoch milliseconds; undefined when unset (apply-event.lua reads that as 0). */
  readonly created: number | undefined;
  /** Its identifiers (`:ids`). */
  readonly identifiers: readonly Identifier[];
  /** Profiles an unmerge split from it, or from a profile it absorbed (`:nomerge`). */
  readonly nomerge: readonly string[];
  /**
   * Every profile it absorbed, transitively (`:merged` in the per-profile layout; on the tenant
   * layout, the tombstones whose `merged_into` chain ends at it).
   */
  readonly merged: readonly string[];
}

/** The state the plan is made against. */
export interface IdentityWorld {
  /** The live owner of each identifier that has one, keyed by identifierKey (`type:id`). */
  readonly owners: ReadonlyMap<string, string>;
  /** A snapshot of every owner of an event's identifier, even a single one (see planIdentity). */
  readonly profiles: ReadonlyMap<string, OwnerSnapshot>;
}

/** A merge the guardrails allow: `merged` is absorbed into `survivor`. */
export interface PlannedMerge extends Merge {
  /** The event's identifier whose owner joined the group with this merge. */
  readonly via: Identifier;
}

/** What the processor knows beyond the world, when it plans an event again (§2.2 steps 6-7). */
export interface PlanOptions {
  /**
   * The live profile the event is on already: this processor applied it there and then lost a
   * claim (another profile took one of its identifiers meanwhile). It starts the group, so the
   * walk links it with the owners of the event's identifiers (lost ones included) or refuses them.
   */
  readonly start?: string;
  /**
   * Identifiers (identifierKey) whose owner may not join the group, with the reason: merges the
   * survivor's atomic check (merge-accept.lua) refused although this snapshot allowed them.
   */
  readonly refuse?: ReadonlyMap<string, string>;
}

/** What to do with an event's identifiers. */
export interface IdentityPlan {
  /** The first owner to join the group, and the identifier it was found by; undefined when none joined or the plan had a `start`. */
  readonly anchor: { readonly profile: string; readonly via: Identifier } | undefined;
  /**
   * The profile the event lands on: the group's survivor after every merge. Undefined means
   * birth: a new profile, because nobody owned an identifier or the guardrails refused every owner.
   */
  readonly profile: string | undefined;
  /** Accepted merges, in walk order, each pairwise into the group's survivor so far. */
  readonly merges: readonly PlannedMerge[];
  /** Identifiers nobody owns, to add to `profile` (or the new one), in walk order. */
  readonly attach: readonly Identifier[];
  /**
   * What the guardrails refused, in walk order, as apply-event.lua reports it: a refused merge
   * names the owner in `other`; a refused new identifier has `other` empty and stays unowned.
   */
  readonly refused: readonly RefusedMerge[];
}

/** How many identifiers of each type a list holds. */
export function typeCounts(ids: Iterable<Identifier>): Map<string, number> {
  const out = new Map<string, number>();
  for (const idf of ids) out.set(idf.type, (out.get(idf.type) ?? 0) + 1);
  return out;
}

/**
 * Why adding `add` (type counts, `addTotal` in all) to a group holding `base` (`baseTotal` in
 * all) breaks a guardrail, or undefined: `max_identifiers <n>` first, then `limit <type> <n>`.
 * With several types over their limits apply-event.lua names the first in Lua's table order,
 * which is not defined; this names the first in `limits.perType` order.
 */
export function guardrailRefusal(
  limits: IdentityLimits, base: ReadonlyMap<string, number>, baseTotal: number, add: ReadonlyMap<string, number>, addTotal: number,
): string | undefined {
  if (baseTotal + addTotal > limits.maxIdentifiers) return `max_identifiers ${limits.maxIdentifiers}`;
  for (const [type, limit] of Object.entries(limits.perType)) {
    const n = add.get(type);
    if (n !== undefined && (base.get(type) ?? 0) + n > limit) return `limit ${type} ${limit}`;
  }
  return undefined;
}

/** Orders strings by their UTF-8 bytes, as Lua's `<` and table.sort do under Redis's C locale. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Whether `a` survives a merge with `b`: the smaller `created` (unset counts as 0), ties to the smaller pid. */
export function isOlder(a: { readonly pid: string; readonly created: number | undefined }, b: { readonly pid: string; readonly created: number | undefined }): boolean {
  const ca = a.created ?? 0;
  const cb = b.created ?? 0;
  if (ca !== cb) return ca < cb;
  return byteOrder(a.pid, b.pid) < 0;
}

/** A profile during the walk: the snapshot, changed by the merges planned so far. */
interface Walked {
  created: number | undefined;
  readonly ids: Map<string, Identifier>;
  readonly nomerge: Set<string>;
  readonly merged: Set<string>;
}

/**
 * Whether profiles `a` and `b` were split by an unmerge and must not fuse again: one's `nomerge`
 * names the other or a profile the other absorbed (apply-event.lua `apart`, which follows
 * `merged_into` from each stored id).
 */
export function splitApart(
  a: { readonly pid: string; readonly nomerge: Iterable<string>; readonly merged: Iterable<string> },
  b: { readonly pid: string; readonly nomerge: Iterable<string>; readonly merged: Iterable<string> },
): boolean {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const lives = new Set([y.pid, ...y.merged]);
    for (const n of x.nomerge) if (lives.has(n)) return true;
  }
  return false;
}

/**
 * Plans the identity walk of apply-event.lua for an event's identifiers. They are taken in
 * byPriority order; each owner not yet in the group joins it (the first anchors it, later ones
 * merge pairwise, the older profile surviving) unless a guardrail refuses it: per-type limits and
 * `max_identifiers` over the group's identifiers so far plus the owner's, then `unmerged` when an
 * unmerge split the two. Each identifier nobody owns is attached unless it would break a limit.
 *
 * Counts come from the owners' own identifiers, so the world must hold a snapshot of every owner,
 * even a lone one: an owner already over a limit (lowered since) is refused and the event births.
 */
export function planIdentity(identifiers: readonly Identifier[], world: IdentityWorld, limits: IdentityLimits, options: PlanOptions = {}): IdentityPlan {
  const owners = new Map(world.owners);
  const profiles = new Map<string, Walked>();
  const state = (pid: string): Walked => {
    let p = profiles.get(pid);
    if (p === undefined) {
      const s = world.profiles.get(pid);
      if (s === undefined) throw new Error(`identity plan: no snapshot of profile ${pid}, which owns an identifier of the event`);
      p = {
        created: s.created, ids: new Map(s.identifiers.map((i) => [identifierKey(i), i])), nomerge: new Set(s.nomerge), merged: new Set(s.merged),
      };
      profiles.set(pid, p);
    }
    return p;
  };
  // apply-event.lua `merge`: the loser's ids now resolve to the survivor, which takes its sets too.
  const merge = (survivor: string, loser: string, via: Identifier): PlannedMerge => {
    const s = state(survivor);
    const l = state(loser);
    for (const [key, idf] of l.ids) {
      // An identifier the loser lists but another profile owns (a lost claim) stays that profile's.
      if (owners.get(key) === loser) owners.set(key, survivor);
      s.ids.set(key, idf);
    }
    for (const n of l.nomerge) s.nomerge.add(n);
    for (const m of [loser, ...l.merged]) s.merged.add(m);
    if (l.created !== undefined && (s.created === undefined || l.created < s.created)) s.created = l.created;
    const moved = [...l.ids.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, idf]) => idf);
    // The loser keeps only `merged_into`: an identifier still naming it (a corrupt world) sees an empty profile, as in Lua.
    profiles.set(loser, { created: undefined, ids: new Map(), nomerge: new Set(), merged: new Set() });
    return { survivor, merged: loser, identifiers: moved, via };
  };

  let group: string | undefined;
  let anchor: IdentityPlan['anchor'];
  // The group's identifiers and their counts. An identifier two profiles list (a lost claim) counts
  // once; one the event carries twice is checked and counted twice, as apply-event.lua does.
  const held = new Set<string>();
  const counts = new Map<string, number>();
  let total = 0;
  const take = (ids: Iterable<[string, Identifier]>): void => {
    for (const [key, idf] of ids) {
      held.add(key);
      counts.set(idf.type, (counts.get(idf.type) ?? 0) + 1);
      total++;
    }
  };
  const merges: PlannedMerge[] = [];
  const attach: Identifier[] = [];
  const refused: RefusedMerge[] = [];
  // Identifiers the start lists whose claim is still to be made: claimed, counted already.
  const unclaimed = new Set<string>();
  if (options.start !== undefined) {
    group = options.start;
    take(state(group).ids);
    for (const key of held) if (!owners.has(key)) unclaimed.add(key);
  }
  for (const idf of byPriority(identifiers)) {
    const key = identifierKey(idf);
    const owner = owners.get(key);
    if (owner === undefined) {
      if (unclaimed.delete(key)) {
        attach.push(idf);
        continue;
      }
      const why = guardrailRefusal(limits, counts, total, new Map([[idf.type, 1]]), 1);
      if (why !== undefined) {
        refused.push({ reason: why, identifier: idf, other: '' });
      } else {
        attach.push(idf);
        take([[key, idf]]);
      }
      continue;
    }
    // An identifier already in the group needs nothing.
    if (owner === group) continue;
    const o = state(owner);
    const brings = [...o.ids].filter(([k]) => !held.has(k));
    const add = typeCounts(brings.map(([, x]) => x));
    let why = guardrailRefusal(limits, counts, total, add, brings.length);
    if (why === undefined && group !== undefined) {
      const g = state(group);
      if (splitApart({ pid: group, nomerge: g.nomerge, merged: g.merged }, { pid: owner, nomerge: o.nomerge, merged: o.merged })) why = 'unmerged';
    }
    if (why === undefined && group !== undefined) why = options.refuse?.get(key);
    if (why !== undefined) {
      refused.push({ reason: why, identifier: idf, other: owner });
      continue;
    }
    if (group === undefined) {
      group = owner;
      anchor = { profile: owner, via: idf };
    } else {
      const ownerFirst = isOlder({ pid: owner, created: o.created }, { pid: group, created: state(group).created });
      const [s, l] = ownerFirst ? [owner, group] : [group, owner];
      merges.push(merge(s, l, idf));
      group = s;
    }
    take(brings);
  }
  return { anchor, profile: group, merges, attach, refused };
}
