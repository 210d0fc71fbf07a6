import type { SegmentDefinition } from './model.ts';

/** A membership change written by the store. */
export interface MembershipChange {
  readonly kind: 'enter' | 'exit';
  readonly segmentId: string;
  readonly profileId: string;
}

/** What the segment context needs from its state store. */
export interface SegmentStore {
  /** ALREADY_EXISTS when the id is taken. */
  create(tenant: string, def: SegmentDefinition): Promise<void>;
  get(tenant: string, id: string): Promise<SegmentDefinition | undefined>;
  list(tenant: string): Promise<SegmentDefinition[]>;
  /** False when there was no such segment. */
  delete(tenant: string, id: string): Promise<boolean>;
  /**
   * Writes membership evaluated at profile `version`; an evaluation older than the newest
   * written is ignored. Returns what changed.
   */
  writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][]): Promise<MembershipChange[]>;
}
