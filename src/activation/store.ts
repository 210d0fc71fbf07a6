import type { CapImpression, FrequencyCap } from './frequency.ts';

/** One impression to count toward caps. */
export interface ImpressionRecord {
  readonly impressionId: string;
  /** Whom it counts for: `p:<profileId>`, or `i:<type>:<id>` for identifiers without a profile. */
  readonly subjects: readonly string[];
  /** What was shown: `campaign:<id>`, `creative:<id>` (see targetKey). */
  readonly targets: readonly string[];
  readonly channel: string;
  readonly at: number;
}

/** What frequency capping needs from its state store (Redis in practice). */
export interface FrequencyStore {
  setCap(tenant: string, cap: FrequencyCap): Promise<void>;
  listCaps(tenant: string): Promise<FrequencyCap[]>;
  deleteCap(tenant: string, id: string): Promise<boolean>;
  /** Counts each impression at most once per impression id; true for those counted now. */
  recordImpressions(tenant: string, records: readonly ImpressionRecord[], now: number): Promise<boolean[]>;
  /** The subjects' impressions of each target since `since` (exclusive), by target. */
  impressions(tenant: string, subjects: readonly string[], targets: readonly string[], since: number): Promise<Map<string, CapImpression[]>>;
}
