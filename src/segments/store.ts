import type { JsonObject } from '../json.ts';
import type { EventFeature, FeatureData } from './features.ts';
import type { SegmentDefinition } from './model.ts';

/** A membership change written by the store. */
export interface MembershipChange {
  readonly kind: 'enter' | 'exit';
  readonly segmentId: string;
  readonly profileId: string;
}

/** What a fenced membership write did. */
export interface FencedWrite {
  readonly changes: MembershipChange[];
  readonly stale: boolean;
}

/**
 * How a membership write schedules the profile's next time-based re-evaluation (the `due` zset):
 * `lower` only brings an earlier time forward (an evaluation of some segments cannot know the
 * others' times), `set` replaces it (every segment was evaluated; undefined removes it).
 */
export interface MembershipWrite {
  /** Evaluation time: among writes at the same profile version the latest evaluation wins. */
  readonly at: number;
  readonly schedule: 'lower' | 'set';
  readonly nextChange: number | undefined;
  /** Set when every current segment was evaluated: the definitions fingerprint they came from. */
  readonly definitions: string | undefined;
}

/** A profile claimed from the `due` zset, with the time it was due. */
export interface DueProfile {
  readonly profileId: string;
  readonly due: number;
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
   * written (lower version, or same version evaluated earlier) is ignored, schedule included.
   * Returns what changed.
   */
  writeMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<MembershipChange[]>;
  /**
   * writeMembership, telling a write the fence ignored (`stale`: the profile changed since the
   * evaluation read it, or an evaluation at a later time was written, possibly of other segments)
   * from one that changed nothing. A writer of some segments only (a backfill) evaluates again.
   */
  tryWriteMembership(tenant: string, profileId: string, version: number, membership: readonly [string, boolean][], write?: MembershipWrite): Promise<FencedWrite>;
  /**
   * Takes up to `limit` profiles due at `now` and pushes them `leaseMs` ahead, atomically, so
   * two processors never take the same one; a claimer that dies leaves it due again at the lease end.
   */
  claimDue(tenant: string, now: number, limit: number, leaseMs: number): Promise<DueProfile[]>;
  /** Last seen, last full evaluation and membership of profiles, pipelined. */
  signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, ProfileSignals>>;
  /** Remembers a tenant that has segments, for the segment clock. */
  addTenant(tenant: string): Promise<void>;
  /** Tenants that may have profiles due. */
  tenants(): Promise<string[]>;
}

/** One applied event as the features store sees it. */
export interface FeatureEvent {
  readonly profileId: string;
  readonly messageId: string;
  /** The name as counted (track name, `$page`, `$identify` ...). */
  readonly event: string;
  readonly properties: JsonObject;
  /** Event time, epoch ms. */
  readonly at: number;
}

/** What an evaluation reads about a profile besides traits, counts and features. */
export interface ProfileSignals {
  readonly lastSeen: number | undefined;
  /** Fingerprint of the definitions the last full evaluation used (see MembershipWrite). */
  readonly evaluated: string | undefined;
  /** Segments the profile is in now. */
  readonly segments: ReadonlySet<string>;
}

/**
 * The tenant's profile index: every profile id ever indexed (backfills walk it, Estimate samples
 * it) and what a profile's stored membership and last event say. One set under the tenant's tag in
 * the `tenant` layout (RedisSegmentDefinitions), split over buckets in the `profile` layout
 * (RedisMembershipStoreV2).
 */
export interface ProfileIndex {
  /** Adds profiles to the index (idempotent). */
  indexProfiles(tenant: string, profileIds: readonly string[]): Promise<void>;
  /** Profiles in the index, merged-away ones included until they are swept. */
  indexSize(tenant: string): Promise<number>;
  /** A uniform sample without replacement of `n` indexed profiles, each with whether it is live. */
  sampleProfiles(tenant: string, n: number): Promise<{ id: string; live: boolean }[]>;
  /** Every live indexed profile, in batches of about `batch`. */
  scanProfiles(tenant: string, batch: number): AsyncGenerator<string[]>;
  /** Last seen and stored membership of profiles. */
  signals(tenant: string, profileIds: readonly string[]): Promise<Map<string, { readonly lastSeen: number | undefined; readonly segments: ReadonlySet<string> }>>;
}

/** Per-profile event features: occurrences (zsets) and all-time totals. */
export interface FeatureStore {
  /** Records the occurrences `events` make of `features`; idempotent per messageId. */
  record(tenant: string, events: readonly FeatureEvent[], features: readonly EventFeature[], now: number): Promise<void>;
  /** Reads `features` of each profile (occurrences inside each horizon at `now`, totals), pipelined; features with no data are absent. */
  read(tenant: string, profileIds: readonly string[], features: readonly EventFeature[], now: number): Promise<Map<string, Map<string, FeatureData>>>;
}

/** One membership change as history (ClickHouse `<ns>.segment_membership`). */
export interface MembershipRecord extends MembershipChange {
  readonly version: number;
  readonly at: number;
}

/** Appends membership changes to the history. */
export interface MembershipHistory {
  write(tenant: string, records: readonly MembershipRecord[]): Promise<void>;
}
