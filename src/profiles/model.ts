import type { Identifier } from '../identity/identifier.ts';
import type { JsonObject } from '../json.ts';
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

/** What applying one event did. */
export interface Applied {
  readonly profileId: string;
  readonly version: number;
  /** The messageId had been applied before: nothing changed. */
  readonly duplicate: boolean;
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
