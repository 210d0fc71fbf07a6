import type { Identifier } from '../identity/identifier.ts';
import type { Json, JsonObject } from '../json.ts';
import type { PulseEvent } from '../collection/event.ts';

/** A profile as read back. Times are epoch milliseconds. */
export interface ProfileView {
  readonly id: string;
  readonly identifiers: readonly Identifier[];
  readonly traits: JsonObject;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly eventCounts: Readonly<Record<string, number>>;
  readonly version: number;
}

/** Two profiles an event linked: `merged` now lives on in `survivor` (the older profile). */
export interface Merge {
  readonly survivor: string;
  readonly merged: string;
  /** The identifiers moved from the merged profile. */
  readonly identifiers: readonly Identifier[];
}

/** A link a guardrail refused: the identifier stays where it was (or unlinked). */
export interface RefusedMerge {
  /** e.g. `limit user_id 1` or `max_identifiers 100`. */
  readonly reason: string;
  readonly identifier: Identifier;
  /** The profile that holds the identifier; empty when it had none. */
  readonly other: string;
}

/** A trait whose stored value an event changed, with the value now stored. */
export interface TraitChange {
  readonly trait: string;
  readonly value: Json;
}

/** What applying one event did. */
export interface Applied {
  readonly profileId: string;
  readonly version: number;
  /** The messageId had been applied before: nothing changed. */
  readonly duplicate: boolean;
  readonly traitChanges: readonly TraitChange[];
  readonly merges: readonly Merge[];
  readonly refused: readonly RefusedMerge[];
}

/**
 * The counter an event increments: track events by name, other types as `$<type>` so rules can
 * count page views (`$page`) or identifies alike.
 */
export function counterName(e: PulseEvent): string {
  return e.type === 'track' ? e.event : `$${e.type}`;
}

/**
 * Token ordering writes by event time, then messageId: comparing tokens as strings orders
 * events the same way in every processor, which makes last-write-wins commutative.
 */
export function orderToken(e: PulseEvent): string {
  return `${String(Math.max(0, e.timestamp)).padStart(15, '0')}|${e.messageId}`;
}

/** Identifiers in lookup priority: user_id, then hashed PII and device ids, then the rest. */
export function byPriority(ids: readonly Identifier[]): Identifier[] {
  const rank = (t: string): number => ['user_id', 'email_sha256', 'phone_sha256', 'idfa', 'gaid'].indexOf(t) >>> 0;
  return [...ids].sort((a, b) => rank(a.type) - rank(b.type));
}

/**
 * The results with every profile id that a later merge of the same list moved replaced by the
 * profile it lives on in, so nothing downstream writes to a merged-away profile.
 */
export function throughMerges(results: readonly Applied[]): Applied[] {
  const into = new Map<string, string>();
  for (const r of results) for (const m of r.merges) into.set(m.merged, m.survivor);
  if (into.size === 0) return [...results];
  const live = (pid: string): string => {
    let p = pid;
    for (let hops = 0; hops < results.length && into.has(p); hops++) p = into.get(p) ?? p;
    return p;
  };
  return results.map((r) => ({ ...r, profileId: live(r.profileId) }));
}
