import type { PulseEvent } from '../collection/event.ts';
import type { Identifier } from '../identity/identifier.ts';
import type { JsonObject } from '../json.ts';
import type { FactsInput } from '../segments/rule.ts';
import type { Applied, ProfileView } from './model.ts';

/** What the profile context needs from its state store (Redis in practice). */
export interface ProfileStore {
  /** Applies events in order, each atomically and at most once per messageId. */
  applyEvents(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]>;
  /** Facts for segment evaluation, with the version they were read at. */
  facts(tenant: string, profileIds: readonly string[]): Promise<Map<string, { facts: FactsInput; version: number }>>;
  /** The profile of the first identifier that has one. */
  resolve(tenant: string, identifiers: readonly Identifier[]): Promise<string | undefined>;
  /** The live profile; a merged-away id reads as the profile it was merged into. */
  get(tenant: string, profileId: string): Promise<ProfileView | undefined>;
  /** The most recent merges the guardrails refused, newest first. */
  refusedMerges(tenant: string, limit: number): Promise<JsonObject[]>;
}
