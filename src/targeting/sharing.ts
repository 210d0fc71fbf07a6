import { PARTNER_PATTERN } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import { SEGMENT_ID_PATTERN } from '../segments/rule.ts';

/** Which of a tenant's segments one partner may receive. */
export interface SharingAgreement {
  readonly partner: string;
  /** Every segment, present and future. */
  readonly all: boolean;
  /** The shared segments when `all` is false (sorted, without duplicates). */
  readonly segmentIds: readonly string[];
}

/** A recorded change of an agreement: who changed what, from what to what. */
export interface SharingChange {
  readonly tenant: string;
  readonly partner: string;
  readonly before: SharingAgreement;
  readonly after: SharingAgreement;
  /** Fingerprint of the key that made the change. */
  readonly keyId: string;
  readonly at: number;
}

/** What a partner without an agreement gets: nothing. */
export function noSharing(partner: string): SharingAgreement {
  return { partner, all: false, segmentIds: [] };
}

/**
 * A validated agreement: the partner id and each segment id checked (they become Redis keys and
 * audit rows), ids de-duplicated and sorted; `all` ignores the list.
 * @throws PulseError INVALID_ARGUMENT naming the field.
 */
export function sharingAgreement(input: { partner: string; all: boolean; segmentIds: readonly string[] }): SharingAgreement {
  if (!PARTNER_PATTERN.test(input.partner)) {
    throw new PulseError('INVALID_ARGUMENT', `partner: must match ${PARTNER_PATTERN.source}`, { field: 'partner' });
  }
  if (input.all) return { partner: input.partner, all: true, segmentIds: [] };
  input.segmentIds.forEach((id, i) => {
    if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `segment_ids[${i}]: not a segment id (${SEGMENT_ID_PATTERN.source})`, { field: `segment_ids[${i}]` });
  });
  return { partner: input.partner, all: false, segmentIds: [...new Set(input.segmentIds)].sort() };
}

/** Whether an agreement lets its partner receive segment `id`. */
export function shares(agreement: SharingAgreement, id: string): boolean {
  return agreement.all || agreement.segmentIds.includes(id);
}

/** The segments of a list that an agreement shares (undefined agreement: first-party, all). */
export function sharedOnly<S extends { readonly id: string }>(agreement: SharingAgreement | undefined, segments: readonly S[]): readonly S[] {
  if (agreement === undefined || agreement.all) return segments;
  const allowed = new Set(agreement.segmentIds);
  return segments.filter((s) => allowed.has(s.id));
}

/** Segment ids an agreement change adds and removes (`*` stands for every segment). */
export function sharingDiff(before: SharingAgreement, after: SharingAgreement): { added: string[]; removed: string[] } {
  const ids = (a: SharingAgreement): Set<string> => new Set(a.all ? ['*'] : a.segmentIds);
  const b = ids(before);
  const a = ids(after);
  return { added: [...a].filter((x) => !b.has(x)).sort(), removed: [...b].filter((x) => !a.has(x)).sort() };
}

/** Where agreements live, with every change recorded. */
export interface SharingStore {
  /** The partner's agreement; one without an agreement shares nothing. */
  get(tenant: string, partner: string): Promise<SharingAgreement>;
  list(tenant: string): Promise<SharingAgreement[]>;
  /** Stores the agreement and returns the change (before/after). */
  set(tenant: string, agreement: SharingAgreement, keyId: string): Promise<SharingChange>;
  /** Maps a segment to an IAB Audience Taxonomy node (the `segtaxonomy` hash); '' removes it. */
  setTaxonomy(tenant: string, segmentId: string, taxonomyId: string): Promise<void>;
}

const TAXONOMY_ID = /^[0-9A-Za-z_.-]{1,32}$/;

/** Checks a segment id and taxonomy node id; INVALID_ARGUMENT names the field. */
export function checkTaxonomy(segmentId: string, taxonomyId: string): void {
  if (!SEGMENT_ID_PATTERN.test(segmentId)) throw new PulseError('INVALID_ARGUMENT', `segment_id: not a segment id (${SEGMENT_ID_PATTERN.source})`, { field: 'segment_id' });
  if (taxonomyId !== '' && !TAXONOMY_ID.test(taxonomyId)) throw new PulseError('INVALID_ARGUMENT', `taxonomy_id: must match ${TAXONOMY_ID.source}`, { field: 'taxonomy_id' });
}
