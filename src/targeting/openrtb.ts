import { z } from 'zod';
import { normalizeAdId } from '../collection/normalize.ts';
import { PulseError } from '../errors.ts';
import { identifierKey, identifierProblem, type Identifier } from '../identity/identifier.ts';
import { decodeGppSections, GPP_EVALUATED_SECTIONS, type PartnerConsentInput, type PartnerDecision } from './partner-consent.ts';

// Only what Pulse reads or writes is typed; every object is loose so unknown fields are kept.
const flag = z.literal([0, 1]);
const object = z.looseObject({});
const nonEmpty = z.string().min(1);
const mimes = z.array(z.string()).min(1);

const uidSchema = z.looseObject({ id: z.string(), atype: z.int().optional(), ext: z.looseObject({ rtiPartner: z.string().optional() }).optional() });
const eidSchema = z.looseObject({ source: z.string(), uids: z.array(uidSchema) });

const dataSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  segment: z.array(object).optional(),
  ext: object.optional(),
});

const userSchema = z.looseObject({
  id: z.string().optional(),
  buyeruid: z.string().optional(),
  consent: z.string().optional(),
  eids: z.array(eidSchema).optional(),
  data: z.array(dataSchema).optional(),
  ext: z.looseObject({ consent: z.string().optional(), eids: z.array(eidSchema).optional() }).optional(),
});

const deviceSchema = z.looseObject({
  ifa: z.string().optional(),
  os: z.string().optional(),
  lmt: flag.optional(),
  ext: z.looseObject({ ifa_type: z.string().optional(), atts: z.int().optional() }).optional(),
});

const regsSchema = z.looseObject({
  coppa: flag.optional(),
  gdpr: flag.optional(),
  us_privacy: z.string().optional(),
  gpp: z.string().optional(),
  gpp_sid: z.array(z.int()).optional(),
  ext: z.looseObject({ gdpr: flag.optional(), us_privacy: z.string().optional() }).optional(),
});

const MEDIA = ['banner', 'video', 'audio', 'native'] as const;

const impSchema = z.looseObject({
  id: nonEmpty,
  banner: object.optional(),
  video: z.looseObject({ mimes }).optional(),
  audio: z.looseObject({ mimes }).optional(),
  native: z.looseObject({ request: z.string() }).optional(),
  ext: z.looseObject({ data: object.optional() }).optional(),
}).check((ctx) => {
  if (!MEDIA.some((m) => ctx.value[m] !== undefined)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: `needs at least one of ${MEDIA.join(', ')}` });
  }
});

const bidRequestSchema = z.looseObject({
  id: nonEmpty,
  imp: z.array(impSchema).min(1),
  site: object.optional(),
  app: object.optional(),
  dooh: object.optional(),
  user: userSchema.optional(),
  device: deviceSchema.optional(),
  regs: regsSchema.optional(),
}).check((ctx) => {
  const placements = (['site', 'app', 'dooh'] as const).filter((k) => ctx.value[k] !== undefined);
  const second = placements[1];
  if (second !== undefined) {
    ctx.issues.push({ code: 'custom', input: ctx.value, path: [second], message: `${placements.join(' and ')} are mutually exclusive` });
  }
  const seen = new Set<string>();
  ctx.value.imp.forEach((imp, i) => {
    if (seen.has(imp.id)) ctx.issues.push({ code: 'custom', input: imp.id, path: ['imp', i, 'id'], message: `duplicate impression id ${JSON.stringify(imp.id)}` });
    seen.add(imp.id);
  });
});

/**
 * An OpenRTB 2.6 BidRequest: the fields Pulse reads are typed, every other field is kept as it
 * came (the `[k: string]: unknown` of each object), so a request round-trips.
 */
export type BidRequest = z.infer<typeof bidRequestSchema>;

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const ENCODER = new TextEncoder();

/**
 * Parses an OpenRTB 2.6 BidRequest from JSON bytes. Checks the spec's required fields (`id`,
 * `imp` with at least one impression, `imp.id` unique, a banner/video/audio/native object in each
 * impression, `video.mimes`, `audio.mimes`, `native.request`), that at most one of site, app and
 * dooh is present, and the types of the fields Pulse reads. Unknown fields are kept.
 * @throws PulseError INVALID_ARGUMENT naming the first offending field (`imp[0].video.mimes`),
 *   or `body` when the bytes are not UTF-8 JSON of an object.
 */
export function parseBidRequest(bytes: Uint8Array): BidRequest {
  let data: unknown;
  try {
    data = JSON.parse(UTF8.decode(bytes));
  } catch (err) {
    throw new PulseError('INVALID_ARGUMENT', 'body: not valid UTF-8 JSON', { field: 'body', cause: err });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new PulseError('INVALID_ARGUMENT', 'body: must be a JSON object (an OpenRTB BidRequest)', { field: 'body' });
  }
  const result = bidRequestSchema.safeParse(data, { error: issueMessage });
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue === undefined || issue.path.length === 0 ? 'body' : fieldPath(issue.path);
    throw new PulseError('INVALID_ARGUMENT', `${field}: ${issue?.message ?? 'invalid'}`, { field });
  }
  // The original object, not zod's copy: key order and every unknown field stay as they came.
  return data as BidRequest;
}

/** The request as JSON bytes. */
export function serialize(request: BidRequest): Uint8Array {
  return ENCODER.encode(JSON.stringify(request));
}

function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'is required';
      const expected = issue.expected === 'int' ? 'an integer' : issue.expected === 'array' || issue.expected === 'object' ? `an ${issue.expected}` : `a ${issue.expected}`;
      return `must be ${expected}`;
    }
    case 'invalid_value':
      return issue.input === undefined ? 'is required' : `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'too_small':
      return 'must not be empty';
    default:
      return undefined;
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out;
}

/**
 * Whose ids `user.id` and `user.buyeruid` are: OpenRTB ids are namespaced by the system that set
 * them, so each becomes `partner:<name>` only when that name is known.
 * - `exchange`: the exchange that set `user.id` (the calling SSP, or the exchange a calling DSP
 *   got the request from);
 * - `buyer`: the buyer whose id `user.buyeruid` is (the calling DSP).
 */
export interface IdentifierContext {
  readonly exchange?: string | undefined;
  readonly buyer?: string | undefined;
}

/** The identifiers to resolve a bid request's user from, and why other ids were not used. */
export interface RequestIdentifiers {
  readonly identifiers: Identifier[];
  readonly ignored: { readonly field: string; readonly reason: string }[];
}

/** At most as many identifiers as one lookup takes (requireIdentifiers). */
export const MAX_REQUEST_IDENTIFIERS = 32;

/**
 * Well-known `user.eids[].source` domains and the partner names Pulse gives them; other sources
 * become `partner:<source with every character outside [a-z0-9_-] replaced by _>`.
 */
export const EID_SOURCES: Readonly<Record<string, string>> = Object.freeze({
  'liveramp.com': 'liveramp',
  'id5-sync.com': 'id5',
  'adserver.org': 'ttd',
  'uidapi.com': 'uid2',
  'euid.eu': 'euid',
  'criteo.com': 'criteo',
  'pubcid.org': 'sharedid',
  'crwdcntrl.net': 'lotame',
  'intentiq.com': 'intentiq',
  'netid.de': 'netid',
  'quantcast.com': 'quantcast',
  'yahoo.com': 'yahoo',
  'zeotap.com': 'zeotap',
  'utiq.com': 'utiq',
});

/** The partner name of an eids source, or undefined when nothing usable is left of it. */
export function eidPartner(source: string, uid?: { readonly ext?: { readonly rtiPartner?: string | undefined } | undefined }): string | undefined {
  const domain = source.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/^www\./, '').replace(/\/.*$/, '');
  // The Trade Desk's eids carried UID2 under its own source before uidapi.com existed.
  if (domain === 'adserver.org' && uid?.ext?.rtiPartner === 'UID2') return 'uid2';
  const known = EID_SOURCES[domain];
  if (known !== undefined) return known;
  const name = domain.replace(/[^a-z0-9_-]/g, '_').replace(/^[_-]+/, '').slice(0, 32);
  return name === '' ? undefined : name;
}

const ZEROED_AD_ID = /^[0-]+$/;
const SESSION_IFA_TYPES = new Set(['sessionid', 'ppid', 'sspid']);

/**
 * The Pulse identifiers of a bid request's user, in this order, without duplicates and at most
 * MAX_REQUEST_IDENTIFIERS:
 * - `device.ifa` as `idfa` (device.os iOS/iPadOS/tvOS, or device.ext.ifa_type `idfa`) or `gaid`
 *   (Android, or ifa_type `aaid`/`gaid`), lowercased; not when device.lmt = 1, App Tracking
 *   Transparency is restricted or denied (device.ext.atts 1 or 2), the IFA is zeroed or not a
 *   UUID, or ifa_type names a session, publisher or SSP id (or a CTV id Pulse has no type for);
 * - `user.buyeruid` as `partner:<buyer>` and `user.id` as `partner:<exchange>` (IdentifierContext);
 * - `user.eids[].uids[].id` (then the 2.5 `user.ext.eids`) as `partner:<eidPartner(source)>`.
 * Ids that fail identifierProblem are skipped; every skipped id is listed in `ignored`.
 */
export function identifiersOf(request: BidRequest, context: IdentifierContext = {}): RequestIdentifiers {
  const identifiers: Identifier[] = [];
  const ignored: { field: string; reason: string }[] = [];
  const seen = new Set<string>();
  const add = (field: string, type: string, id: string): void => {
    const problem = identifierProblem({ type, id });
    if (problem !== undefined) return void ignored.push({ field, reason: problem });
    const key = identifierKey({ type, id });
    if (seen.has(key)) return;
    if (identifiers.length >= MAX_REQUEST_IDENTIFIERS) return void ignored.push({ field, reason: `more than ${MAX_REQUEST_IDENTIFIERS} identifiers` });
    seen.add(key);
    identifiers.push({ type, id });
  };

  const device = request.device;
  if (device?.ifa !== undefined && device.ifa !== '') {
    const type = adIdType(device);
    const atts = device.ext?.atts;
    const id = normalizeAdId(device.ifa);
    if (device.lmt === 1) ignored.push({ field: 'device.ifa', reason: 'limit ad tracking (device.lmt = 1)' });
    else if (type.reason !== undefined) ignored.push({ field: 'device.ifa', reason: type.reason });
    else if (type.type === 'idfa' && (atts === 1 || atts === 2)) ignored.push({ field: 'device.ifa', reason: `App Tracking Transparency ${atts === 1 ? 'restricted' : 'denied'} (device.ext.atts = ${atts})` });
    else if (id === undefined) ignored.push({ field: 'device.ifa', reason: 'not a UUID' });
    else if (ZEROED_AD_ID.test(id)) ignored.push({ field: 'device.ifa', reason: 'zeroed (tracking limited)' });
    else add('device.ifa', type.type, id);
  }

  const user = request.user;
  const namespaced = (field: string, id: string | undefined, partner: string | undefined, role: string): void => {
    if (id === undefined || id === '') return;
    if (partner === undefined) return void ignored.push({ field, reason: `no ${role} named: the id has no namespace` });
    add(field, `partner:${partner}`, id);
  };
  namespaced('user.buyeruid', user?.buyeruid, context.buyer, 'buyer');
  namespaced('user.id', user?.id, context.exchange, 'exchange');

  const eids = (list: readonly z.infer<typeof eidSchema>[] | undefined, base: string): void => {
    list?.forEach((eid, i) => eid.uids.forEach((uid, j) => {
      const field = `${base}[${i}].uids[${j}].id`;
      const partner = eidPartner(eid.source, uid);
      if (partner === undefined) ignored.push({ field, reason: `source ${JSON.stringify(eid.source.slice(0, 64))} gives no partner name` });
      else add(field, `partner:${partner}`, uid.id);
    }));
  };
  eids(user?.eids, 'user.eids');
  eids(user?.ext?.eids, 'user.ext.eids');
  return { identifiers, ignored };
}

function adIdType(device: NonNullable<BidRequest['device']>): { type: 'idfa' | 'gaid'; reason?: undefined } | { type?: undefined; reason: string } {
  const ifaType = device.ext?.ifa_type?.toLowerCase();
  if (ifaType === 'idfa') return { type: 'idfa' };
  if (ifaType === 'aaid' || ifaType === 'gaid') return { type: 'gaid' };
  if (ifaType !== undefined && SESSION_IFA_TYPES.has(ifaType)) return { reason: `device.ext.ifa_type ${ifaType} is not a device advertising id` };
  if (ifaType !== undefined && ifaType !== 'dpid') return { reason: `device.ext.ifa_type ${JSON.stringify(ifaType.slice(0, 32))} has no Pulse identifier type` };
  const os = (device.os ?? '').toLowerCase();
  if (os === 'ios' || os === 'ipados' || os === 'tvos') return { type: 'idfa' };
  if (os.startsWith('android')) return { type: 'gaid' };
  return { reason: `device.os ${JSON.stringify(os.slice(0, 32))} has no advertising id type Pulse knows` };
}

/**
 * The privacy signals of a bid request, shaped to be spread into partnerMayReceive together with
 * the partner's vendor id and required purposes.
 */
export interface PrivacySignals extends PartnerConsentInput {
  readonly gdprApplies: boolean | undefined;
  readonly tcString: string | undefined;
  readonly coppa: boolean;
  readonly usPrivacy: string | undefined;
  /** GPP sections that apply (regs.gpp_sid, or the sections of regs.gpp without it). */
  readonly gppSections: readonly number[];
  readonly gppUncheckedSections: readonly number[];
  /** device.lmt = 1, or ATT restricted/denied: no device-id-based lookup (see identifiersOf). */
  readonly limitAdTracking: boolean;
}

/**
 * The privacy signals of a bid request, from the 2.6 fields and their 2.5 `ext` forms:
 * - GDPR applies when regs.gdpr or regs.ext.gdpr is 1 or GPP section 2 (TCF EU v2) applies;
 *   it does not when one of them is 0 and nothing says 1; otherwise it is unsignalled.
 * - The TC string: user.consent, else user.ext.consent, else the TCF EU v2 section of regs.gpp.
 * - US Privacy: regs.us_privacy, else regs.ext.us_privacy, else GPP section 6 (US Privacy v1).
 * - GPP sections that apply other than 2 and 6 (US national/state, Canada...), and 6 without a
 *   US Privacy string, are `gppUncheckedSections`: Pulse does not decode them, so they refuse.
 * - COPPA: regs.coppa = 1.
 */
export function privacySignals(request: BidRequest): PrivacySignals {
  const regs = request.regs;
  const sections = regs?.gpp === undefined || regs.gpp === '' ? undefined : decodeGppSections(regs.gpp);
  const gppSections = [...new Set(regs?.gpp_sid?.filter((n) => n > 0) ?? [...(sections?.keys() ?? [])].filter((n) => n !== 3 && n !== 4))];
  const flags = [regs?.gdpr, regs?.ext?.gdpr];
  const gdprApplies = flags.includes(1) || gppSections.includes(2) ? true : flags.includes(0) ? false : undefined;
  const nonEmptyOr = (...values: (string | undefined)[]): string | undefined => values.find((v) => v !== undefined && v !== '');
  const tcString = nonEmptyOr(request.user?.consent, request.user?.ext?.consent, sections?.get(2));
  const usPrivacy = nonEmptyOr(regs?.us_privacy, regs?.ext?.us_privacy, sections?.get(6));
  const gppUncheckedSections = gppSections.filter((n) => !GPP_EVALUATED_SECTIONS.includes(n) || (n === 6 && usPrivacy === undefined));
  const atts = request.device?.ext?.atts;
  return {
    gdprApplies, tcString, coppa: regs?.coppa === 1, usPrivacy, gppSections, gppUncheckedSections,
    limitAdTracking: request.device?.lmt === 1 || atts === 1 || atts === 2,
  };
}

/** IAB Tech Lab's segtax for Audience Taxonomy 1.1. */
export const SEGTAX_IAB_AUDIENCE_1_1 = 4;

/** What enrichment adds: the profile's segments (those shared with the partner). */
export interface EnrichAudience {
  readonly segments: readonly {
    readonly id: string;
    readonly name: string;
    /** The segment's node in IAB Audience Taxonomy 1.1, when it is mapped to one. */
    readonly taxonomyId?: string | undefined;
  }[];
}

/** How a tenant's segments are written into bid requests. */
export interface EnrichOptions {
  /** The partner's consent decision (partnerMayReceive): a refusal leaves the request unchanged. */
  readonly decision: PartnerDecision;
  /** `user.data[].name`: the data provider's name (e.g. the tenant's domain). */
  readonly dataName: string;
  /** `user.data[].id`: the data provider's id; defaults to dataName. */
  readonly providerId?: string | undefined;
  /**
   * `user.data[].ext.segtax` of the tenant's own segments: a vendor-specific taxonomy id from IAB
   * Tech Lab's segtax registry (500 and above) or the value the tenant configured.
   */
  readonly segtax: number;
  /** Prefix of the per-impression targeting key: `imp[].ext.data.<prefix>_segs`. */
  readonly targetingKeyPrefix: string;
  /** Whether segment names go with the ids (default true). */
  readonly segmentNames?: boolean | undefined;
}

const TARGETING_PREFIX = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * The request enriched with an audience, or the same object when there is nothing to add (an
 * unknown user, no segments) or the partner may not receive it. Never mutates `request`:
 * - `user.data[]` gains `{id, name, segment: [{id, name}], ext: {segtax}}` with the tenant's
 *   segments and, when some map to IAB Audience Taxonomy 1.1, `{..., segment: [{id: <node>}],
 *   ext: {segtax: 4}}`; existing entries are kept, except earlier Pulse entries (same name,
 *   segtax `segtax` or 4), which are replaced: enriching again gives the newest audience only;
 * - each impression gets `ext.data.<prefix>_segs`: the segment ids, as ad-server key-values.
 * @throws PulseError INVALID_ARGUMENT naming a malformed option.
 */
export function enrich(request: BidRequest, audience: EnrichAudience | undefined, options: EnrichOptions): BidRequest {
  checkOptions(options);
  if (!options.decision.allowed || audience === undefined || audience.segments.length === 0) return request;
  const { dataName, segtax } = options;
  const id = options.providerId ?? dataName;
  const withNames = options.segmentNames ?? true;
  const added: z.infer<typeof dataSchema>[] = [{
    id, name: dataName,
    segment: audience.segments.map((s) => (withNames ? { id: s.id, name: s.name } : { id: s.id })),
    ext: { segtax },
  }];
  const taxonomyIds = [...new Set(audience.segments.flatMap((s) => (s.taxonomyId === undefined || s.taxonomyId === '' ? [] : [s.taxonomyId])))];
  if (taxonomyIds.length > 0) added.push({ id, name: dataName, segment: taxonomyIds.map((t) => ({ id: t })), ext: { segtax: SEGTAX_IAB_AUDIENCE_1_1 } });
  const ours = new Set<unknown>([segtax, SEGTAX_IAB_AUDIENCE_1_1]);
  const kept = (request.user?.data ?? []).filter((d) => !(d.name === dataName && ours.has(d.ext?.['segtax'])));
  const key = `${options.targetingKeyPrefix}_segs`;
  const ids = audience.segments.map((s) => s.id);
  return {
    ...request,
    user: { ...request.user, data: [...kept, ...added] },
    imp: request.imp.map((imp) => ({ ...imp, ext: { ...imp.ext, data: { ...imp.ext?.data, [key]: [...ids] } } })),
  };
}

function checkOptions(options: EnrichOptions): void {
  const bad = (field: string, problem: string): never => {
    throw new PulseError('INVALID_ARGUMENT', `${field}: ${problem}`, { field });
  };
  if (options.dataName.length === 0 || options.dataName.length > 256) bad('dataName', 'must be 1-256 characters');
  if (options.providerId !== undefined && (options.providerId.length === 0 || options.providerId.length > 256)) bad('providerId', 'must be 1-256 characters');
  if (!Number.isInteger(options.segtax) || options.segtax < 1) bad('segtax', 'must be a positive integer');
  if (options.segtax === SEGTAX_IAB_AUDIENCE_1_1) bad('segtax', `${SEGTAX_IAB_AUDIENCE_1_1} is IAB Audience Taxonomy 1.1, which Pulse writes from segments' taxonomy ids`);
  if (!TARGETING_PREFIX.test(options.targetingKeyPrefix)) bad('targetingKeyPrefix', `must match ${TARGETING_PREFIX.source}`);
}
