import type { Identifier } from '../identity/identifier.ts';

/** A person's audience as the hot path reads it. */
export interface Audience {
  readonly profileId: string;
  readonly segments: readonly { readonly id: string; readonly name: string }[];
}

/** What targeting needs: one read per lookup. */
export interface AudienceReader {
  /** The audience of the first identifier that has a profile; undefined for an unknown person. */
  audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined>;
}
