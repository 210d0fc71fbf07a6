import type { TCModel } from '@iabtcf/core';
import type { Principal } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import type { AudienceAnswer } from '../gen/pulse/v1/AudienceAnswer.ts';
import type { AudienceSegment as AudienceSegmentMessage } from '../gen/pulse/v1/AudienceSegment.ts';
import type { DataSharingServiceHandlers } from '../gen/pulse/v1/DataSharingService.ts';
import type { SharingAgreement as SharingAgreementMessage } from '../gen/pulse/v1/SharingAgreement.ts';
import type { TargetingServiceHandlers } from '../gen/pulse/v1/TargetingService.ts';
import { requireIdentifiers, type Identifier } from '../identity/identifier.ts';
import { bidiStream, unary, type HandlerContext } from '../infra/grpc-server.ts';
import { decodeTcString, type TcDecoder } from '../privacy/consent.ts';
import { enrichBytes, identifiersOf, privacySignals, scanBidRequest, type PrivacySignals } from './openrtb.ts';
import { partnerMayReceive, type PartnerConsentInput, type PartnerDecision } from './partner-consent.ts';
import { DEFAULT_TARGETING_SETTINGS, type TargetingSettings } from './settings.ts';
import { checkTaxonomy, sharedOnly, sharingAgreement, type SharingAgreement, type SharingChange, type SharingStore } from './sharing.ts';
import type { AudienceReader, AudienceRecord, AudienceSegment } from './store.ts';

/** What the targeting handlers need. */
export interface TargetingDeps {
  /** Audience lookups (the near-cache in front of Redis). */
  readonly reader: AudienceReader;
  /** The partner's agreement, possibly cached. */
  readonly agreement: (tenant: string, partner: string) => Promise<SharingAgreement>;
  /** The tenant's settings (PULSE_TARGETING); DEFAULT_TARGETING_SETTINGS when absent. */
  readonly settings?: (tenant: string) => TargetingSettings;
}

const NOTHING = Object.freeze({ profileId: '', segments: [] });

/** Most lookups one BatchGetAudience message may carry. */
export const MAX_BATCH_LOOKUPS = 10_000;

/** gRPC TargetingService: decode, look up, filter for the calling partner, encode. */
export function targetingHandlers(ctx: HandlerContext, deps: TargetingDeps): TargetingServiceHandlers {
  const settingsOf = deps.settings ?? (() => DEFAULT_TARGETING_SETTINGS);
  const decode = boundedDecoder(10_000);

  /** One lookup's record from the reader (after a near-cache miss). */
  const fetchRecord = async (tenant: string, identifiers: readonly Identifier[]): Promise<AudienceRecord | undefined> =>
    (await deps.reader.records(tenant, [identifiers]))[0];

  /** The caller's agreement: undefined for first-party keys, which see every segment. */
  const agreementOf = (principal: Principal): Promise<SharingAgreement | undefined> =>
    (principal.partner === undefined ? Promise.resolve(undefined) : deps.agreement(principal.tenant, principal.partner.id));

  /**
   * What a caller may receive of one record under the request's privacy signals. A partner that
   * may receive nothing of the person (no consent, nothing shared) does not learn the profile id.
   */
  const visible = (principal: Principal, agreement: SharingAgreement | undefined, record: AudienceRecord | undefined, consent: RequestConsent): { profileId: string; segments: readonly AudienceSegment[] } => {
    if (record === undefined) return NOTHING;
    if (principal.partner === undefined) return record;
    if (!decide(principal, record, consent, settingsOf(principal.tenant), decode).allowed) return NOTHING;
    const segments = sharedOnly(agreement, record.segments);
    return segments.length === 0 ? NOTHING : { profileId: record.profileId, segments };
  };

  return {
    GetAudience: unary(ctx, 'GetAudience', 'targeting:read', async (req, principal) => {
      const identifiers = requireIdentifiers(req.identifiers);
      // A near-cache hit needs no await; first-party keys have no agreement to wait for.
      let record = deps.reader.cached?.(principal.tenant, identifiers);
      let agreement: SharingAgreement | undefined;
      if (principal.partner === undefined) record ??= await fetchRecord(principal.tenant, identifiers);
      else [record, agreement] = await Promise.all([record ?? fetchRecord(principal.tenant, identifiers), agreementOf(principal)]);
      const out = visible(principal, agreement, record, { tcString: req.tcString, gdpr: req.gdpr });
      return { profileId: out.profileId, segments: out.segments.map(segmentMessage) };
    }),

    BatchGetAudience: bidiStream(ctx, 'BatchGetAudience', 'targeting:read', async (req, principal) => {
      if (req.lookups.length > MAX_BATCH_LOOKUPS) throw new PulseError('INVALID_ARGUMENT', `lookups: at most ${MAX_BATCH_LOOKUPS} per message`, { field: 'lookups' });
      const answers: AudienceAnswer[] = new Array<AudienceAnswer>(req.lookups.length);
      const valid: { index: number; identifiers: Identifier[] }[] = [];
      req.lookups.forEach((lookup, i) => {
        try {
          valid.push({ index: i, identifiers: requireIdentifiers(lookup.identifiers, `lookups[${i}].identifiers`) });
        } catch (err) {
          answers[i] = { id: lookup.id, profileId: '', segments: [], error: err instanceof PulseError ? err.message : 'invalid lookup' };
        }
      });
      const [records, agreement] = await Promise.all([
        valid.length === 0 ? [] : deps.reader.records(principal.tenant, valid.map((v) => v.identifiers)),
        agreementOf(principal),
      ]);
      valid.forEach((v, j) => {
        const lookup = req.lookups[v.index];
        const out = visible(principal, agreement, records[j], { tcString: lookup?.tcString ?? '', gdpr: lookup?.gdpr });
        answers[v.index] = { id: lookup?.id ?? '', profileId: out.profileId, segments: out.segments.map(segmentMessage), error: '' };
      });
      return { answers };
    }, { cost: (req) => Math.max(1, req.lookups.length), items: (req) => req.lookups.length }),

    EnrichBidRequest: unary(ctx, 'EnrichBidRequest', 'targeting:read', async (req, principal) => {
      const read = scanBidRequest(req.openrtbJson);
      const { request } = read;
      const signals = privacySignals(request);
      const partner = principal.partner;
      const { identifiers } = identifiersOf(request, { exchange: partner?.id, buyer: partner?.id });
      const unchanged = { openrtbJson: req.openrtbJson, enriched: false };
      if (identifiers.length === 0) return unchanged;
      const record = deps.reader.cached?.(principal.tenant, identifiers) ?? await fetchRecord(principal.tenant, identifiers);
      if (record === undefined) return unchanged;
      const settings = settingsOf(principal.tenant);
      let decision: PartnerDecision;
      let segments: readonly AudienceSegment[] = record.segments;
      if (partner === undefined) {
        // The tenant's own use: consent was enforced when the data was collected; what the
        // request itself forbids (COPPA, a US opt-out, GPP sections Pulse cannot read) still holds.
        decision = partnerMayReceive(requestConsent(signals, undefined, false, undefined, settings, decode));
      } else {
        const stored = signals.tcString === undefined ? record.storedConsent : undefined;
        decision = partnerMayReceive(requestConsent(signals, signals.tcString ?? stored?.tcString, signals.gdprApplies ?? stored?.gdprApplies, partner.iabVendorId, settings, decode));
        if (decision.allowed) segments = sharedOnly(await agreementOf(principal), record.segments);
      }
      // Segments filtered for a partner are a new list per call; a first-party caller's are the
      // cached record's own list, so enrichBytes reuses their JSON bytes.
      const enriched = enrichBytes(read, { segments }, { decision, dataName: settings.dataName, segtax: settings.segtax, targetingKeyPrefix: 'pulse' });
      return enriched === undefined ? unchanged : { openrtbJson: enriched, enriched: true };
    }),
  };
}

/** The TC string and GDPR flag a request carries (empty / unset: none). */
interface RequestConsent {
  readonly tcString: string;
  readonly gdpr: number | undefined;
}

/**
 * partnerMayReceive's input for a bid request: its signals with the TC string, GDPR flag and
 * vendor that apply. Spelled out rather than spread from `signals`: a spread with overrides was
 * ~10% of the EnrichBidRequest handler's CPU.
 */
function requestConsent(signals: PrivacySignals, tcString: string | undefined, gdprApplies: boolean | undefined, vendorId: number | undefined, settings: TargetingSettings, decode: TcDecoder): PartnerConsentInput {
  return {
    tcString, gdprApplies, vendorId, requiredPurposes: settings.requiredPurposes, decode,
    coppa: signals.coppa, usPrivacy: signals.usPrivacy, gppUncheckedSections: signals.gppUncheckedSections,
  };
}

/** The partner decision of a lookup: the request's TC string, else the profile's stored one. */
function decide(principal: Principal, record: AudienceRecord, consent: RequestConsent, settings: TargetingSettings, decode: TcDecoder): PartnerDecision {
  const carried = consent.tcString !== '';
  const stored = carried ? undefined : record.storedConsent;
  const gdprApplies = consent.gdpr === undefined ? stored?.gdprApplies : consent.gdpr === 1;
  return partnerMayReceive({
    tcString: carried ? consent.tcString : stored?.tcString,
    gdprApplies, vendorId: principal.partner?.iabVendorId, requiredPurposes: settings.requiredPurposes, decode,
  });
}

function segmentMessage(s: AudienceSegment): AudienceSegmentMessage {
  return { id: s.id, name: s.name, taxonomyId: s.taxonomyId ?? '' };
}

/** A TC string decoder that remembers the last `max` strings (bidders repeat a user's string). */
function boundedDecoder(max: number): TcDecoder {
  const seen = new Map<string, TCModel | undefined>();
  return (s) => {
    if (seen.has(s)) return seen.get(s);
    const model = decodeTcString(s);
    if (seen.size >= max) seen.delete(seen.keys().next().value ?? '');
    seen.set(s, model);
    return model;
  };
}

/** What the data-sharing handlers need. */
export interface SharingDeps {
  readonly store: SharingStore;
  /** Records a change (warehouse audit row) and announces it (change feed); both before answering. */
  readonly record: (change: SharingChange) => Promise<void>;
  readonly taxonomyChanged: (tenant: string, segmentId: string, taxonomyId: string) => Promise<void>;
}

/** gRPC DataSharingService (scope `admin`). */
export function sharingHandlers(ctx: HandlerContext, deps: SharingDeps): DataSharingServiceHandlers {
  return {
    SetSharing: unary(ctx, 'SetSharing', 'admin', async (req, principal) => {
      const agreement = sharingAgreement({ partner: req.partner, all: req.all, segmentIds: req.segmentIds });
      const change = await deps.store.set(principal.tenant, agreement, principal.keyId);
      await deps.record(change);
      return agreementMessage(change.after);
    }),
    ListSharing: unary(ctx, 'ListSharing', 'admin', async (_req, principal) => ({
      agreements: (await deps.store.list(principal.tenant)).map(agreementMessage),
    })),
    SetSegmentTaxonomy: unary(ctx, 'SetSegmentTaxonomy', 'admin', async (req, principal) => {
      checkTaxonomy(req.segmentId, req.taxonomyId);
      await deps.store.setTaxonomy(principal.tenant, req.segmentId, req.taxonomyId);
      await deps.taxonomyChanged(principal.tenant, req.segmentId, req.taxonomyId);
      return {};
    }),
  };
}

function agreementMessage(a: SharingAgreement): SharingAgreementMessage {
  return { partner: a.partner, all: a.all, segmentIds: [...a.segmentIds] };
}
