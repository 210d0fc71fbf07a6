import type { Identifier } from '../identity/identifier.ts';

/** One segment as targeting returns it. */
export interface AudienceSegment {
  readonly id: string;
  readonly name: string;
  /** The segment's node in IAB Audience Taxonomy 1.1; absent when not mapped. */
  readonly taxonomyId?: string;
}

/** A person's audience as the hot path reads it. */
export interface Audience {
  readonly profileId: string;
  readonly segments: readonly AudienceSegment[];
}

/** An audience with the consent stored on the profile (the `$consent` trait), for partner decisions. */
export interface AudienceRecord extends Audience {
  readonly storedConsent: { readonly tcString: string; readonly gdprApplies: boolean } | undefined;
}

/** What targeting needs: one read per lookup, many lookups per round trip. */
export interface AudienceReader {
  /** The audience of the first identifier that has a profile; undefined for an unknown person. */
  audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined>;
  /** The record of each lookup (identifiers in priority order), in order, in one round trip. */
  records(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<(AudienceRecord | undefined)[]>;
  /**
   * The record of one lookup when it is at hand without I/O (a cache hit), else undefined; the
   * hot path's way around a promise and the lookup arrays. Absent: nothing is at hand.
   */
  cached?(tenant: string, identifiers: readonly Identifier[]): AudienceRecord | undefined;
}
