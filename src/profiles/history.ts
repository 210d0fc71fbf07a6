import type { PulseEvent } from '../collection/event.ts';
import { identifierKey } from '../identity/identifier.ts';
import { chDateTime } from '../warehouse/schema.ts';
import type { Applied } from './model.ts';
import { eventSource } from './policy.ts';

/** The message published on `<namespace>.changes.<tenant>.profile` for one merge. */
export interface MergeMessage {
  readonly kind: 'merge';
  readonly survivor: string;
  readonly merged: string;
  /** `type:id` of the identifiers that moved. */
  readonly identifiers: readonly string[];
  /** The time of the event that linked the two profiles (ISO-8601). */
  readonly at: string;
  readonly messageId: string;
  readonly reason: string;
}

/** Why two profiles were merged: an event carried identifiers of both. */
export const MERGE_REASON = 'an event carried identifiers of both profiles';

/** Pure: the merge messages of applied events, in order. */
export function mergeMessages(events: readonly PulseEvent[], results: readonly Applied[]): MergeMessage[] {
  return results.flatMap((r, i) => {
    const e = events[i];
    if (e === undefined) return [];
    return r.merges.map((m) => ({
      kind: 'merge' as const, survivor: m.survivor, merged: m.merged, identifiers: m.identifiers.map(identifierKey),
      at: new Date(e.timestamp).toISOString(), messageId: e.messageId, reason: MERGE_REASON,
    }));
  });
}

/** Pure: `profile_merges` rows, one per merge and one per refused link. */
export function mergeRows(tenant: string, events: readonly PulseEvent[], results: readonly Applied[]): Record<string, unknown>[] {
  return results.flatMap((r, i) => {
    const e = events[i];
    if (e === undefined) return [];
    const at = chDateTime(e.timestamp);
    return [
      ...r.merges.map((m) => ({
        tenant, survivor: m.survivor, merged: m.merged, identifiers: m.identifiers.map(identifierKey), message_id: e.messageId, at, outcome: 'merged', reason: MERGE_REASON,
      })),
      ...r.refused.map((x) => ({
        tenant, survivor: r.profileId, merged: x.other, identifiers: [identifierKey(x.identifier)], message_id: e.messageId, at, outcome: 'refused', reason: x.reason,
      })),
    ];
  });
}

/** Pure: `trait_history` rows, one per trait an event changed, with its provenance. */
export function traitHistoryRows(tenant: string, events: readonly PulseEvent[], results: readonly Applied[]): Record<string, unknown>[] {
  return results.flatMap((r, i) => {
    const e = events[i];
    if (e === undefined) return [];
    const keyId = e.context['keyId'];
    return r.traitChanges.map((c) => ({
      tenant, profile_id: r.profileId, trait: c.trait, value: JSON.stringify(c.value), source: eventSource(e),
      key_id: typeof keyId === 'string' ? keyId : '', message_id: e.messageId, at: chDateTime(e.timestamp),
    }));
  });
}
