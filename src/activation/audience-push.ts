import { z } from 'zod';
import { PARTNER_PATTERN, TENANT_PATTERN } from '../auth/keys.ts';
import type { Json } from '../json.ts';
import { DEFAULT_REQUIRED_PURPOSES, partnerMayReceive } from '../targeting/partner-consent.ts';
import type { TcDecoder } from '../privacy/consent.ts';

/** A partner endpoint that receives a tenant's segment enter/exit changes in HTTP batches. */
export interface PushPartner {
  readonly tenant: string;
  /** Partner id: names its ID-sync entries (`/v1/sync?partner=`) and its delivery status. */
  readonly partner: string;
  /** Batches are POSTed here as JSON. */
  readonly url: string;
  /** Sent as the `authorization` header when set. */
  readonly authorization: string | undefined;
  /** The partner's IAB TCF vendor id: checked against each person's TC string. */
  readonly iabVendorId: number | undefined;
  readonly requiredPurposes: readonly number[];
  /** Only these segments are shared with the partner; undefined: all. */
  readonly segments: readonly string[] | undefined;
  readonly batchSize: number;
}

const partnerSchema = z.object({
  tenant: z.string().regex(TENANT_PATTERN),
  partner: z.string().regex(PARTNER_PATTERN),
  url: z.url({ protocol: /^https?$/ }),
  authorization: z.string().min(1).optional(),
  iabVendorId: z.int().min(1).max(65535).optional(),
  requiredPurposes: z.array(z.int().min(1).max(11)).optional(),
  segments: z.array(z.string().min(1)).optional(),
  batchSize: z.int().min(1).max(10_000).optional(),
}).strict();

/** Parses PULSE_AUDIENCE_PUSH (a JSON array of partners), reporting every problem with its place. */
export function parsePushPartners(json: string): { ok: true; partners: PushPartner[] } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const r = z.array(partnerSchema).safeParse(data);
  if (!r.success) return { ok: false, problems: r.error.issues.map((i) => `${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`) };
  const seen = new Set<string>();
  const problems: string[] = [];
  const partners = r.data.map((p, i): PushPartner => {
    const key = `${p.tenant}/${p.partner}`;
    if (seen.has(key)) problems.push(`[${i}]: partner ${p.partner} of tenant ${p.tenant} is listed twice`);
    seen.add(key);
    return {
      tenant: p.tenant, partner: p.partner, url: p.url, authorization: p.authorization, iabVendorId: p.iabVendorId,
      requiredPurposes: p.requiredPurposes ?? DEFAULT_REQUIRED_PURPOSES, segments: p.segments, batchSize: p.batchSize ?? 500,
    };
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, partners };
}

/** A segment change as published on `<namespace>.changes.<tenant>.segment`. */
export interface SegmentChange {
  readonly kind: 'enter' | 'exit';
  readonly segmentId: string;
  readonly profileId: string;
  readonly at: string;
}

/** The change in a message, or undefined when the message is not one (it is then skipped). */
export function parseSegmentChange(data: Uint8Array): SegmentChange | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    const { kind, segmentId, profileId, at } = v;
    if ((kind === 'enter' || kind === 'exit') && typeof segmentId === 'string' && typeof profileId === 'string' && typeof at === 'string') {
      return { kind, segmentId, profileId, at };
    }
  } catch {
    // not JSON: skipped like any other foreign message
  }
  return undefined;
}

/** What Pulse knows of a person for a partner: the partner's user ids and the stored consent. */
export interface PushSubject {
  readonly partnerUids: readonly string[];
  /** The `$consent` trait (ConsentRecord) when the person has one. */
  readonly consent: Json | undefined;
}

/** One line of an upload: add the partner's user to a segment, or remove them. */
export interface PushUpdate {
  readonly uid: string;
  readonly segment: string;
  readonly action: 'add' | 'remove';
  readonly at: string;
}

/** Why changes were left out of a batch. */
export interface PushSkipped {
  readonly notShared: number;
  readonly noSync: number;
  readonly noConsent: number;
}

/**
 * The upload for one partner: each change of a shared segment becomes an add/remove per partner
 * user id of the person; people without a synced id, or whose consent does not cover the
 * partner (its vendor id and purposes), are left out and counted.
 */
export function buildUpload(partner: PushPartner, changes: readonly SegmentChange[], subjects: ReadonlyMap<string, PushSubject>, decode?: TcDecoder): { updates: PushUpdate[]; skipped: PushSkipped } {
  const updates: PushUpdate[] = [];
  let notShared = 0;
  let noSync = 0;
  let noConsent = 0;
  const allowed = new Map<string, boolean>();
  for (const c of changes) {
    if (partner.segments !== undefined && !partner.segments.includes(c.segmentId)) { notShared++; continue; }
    const subject = subjects.get(c.profileId);
    if (subject === undefined || subject.partnerUids.length === 0) { noSync++; continue; }
    let ok = allowed.get(c.profileId);
    if (ok === undefined) {
      const record = subject.consent;
      const signals = typeof record === 'object' && record !== null && !Array.isArray(record) ? record : {};
      ok = partnerMayReceive({
        tcString: typeof signals['tcString'] === 'string' ? signals['tcString'] : undefined,
        gdprApplies: typeof signals['gdprApplies'] === 'boolean' ? signals['gdprApplies'] : undefined,
        vendorId: partner.iabVendorId, requiredPurposes: partner.requiredPurposes, decode,
      }).allowed;
      allowed.set(c.profileId, ok);
    }
    if (!ok) { noConsent++; continue; }
    for (const uid of subject.partnerUids) updates.push({ uid, segment: c.segmentId, action: c.kind === 'enter' ? 'add' : 'remove', at: c.at });
  }
  return { updates, skipped: { notShared, noSync, noConsent } };
}

/** Delay after the n-th failed attempt of an upload (1 s doubling, at most 1 min). */
export function retryDelayMs(attempt: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
}
