import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { normalizeAdId } from '../collection/normalize.ts';
import { PulseError } from '../errors.ts';
import { bidRequestProblem, type BidRequestProblem } from './openrtb-check.ts';
import { scanBidRequest as scanBytes, ScanError, type Scanned } from './openrtb-scan.ts';
import { identifierProblem, type Identifier } from '../identity/identifier.ts';
import { decodeGppSections, GPP_EVALUATED_SECTIONS, type PartnerConsentInput, type PartnerDecision } from './partner-consent.ts';

// Only what Pulse reads or writes is checked. The schemas declare the BidRequest type and are the
// reference of the check: parseBidRequest runs bidRequestProblem (openrtb-check.ts), which gives
// the same answers without zod's cost on the EnrichBidRequest hot path, and returns the parsed
// object itself, unknown fields and all (the `Loose` types say so).
const flag = z.literal([0, 1]);
const object = z.object({});
const nonEmpty = z.string().min(1);
const mimes = z.array(z.string()).min(1);

const uidSchema = z.object({ id: z.string(), atype: z.int().optional(), ext: z.object({ rtiPartner: z.string().optional() }).optional() });
const eidSchema = z.object({ source: z.string(), uids: z.array(uidSchema) });

const dataSchema = z.object({
  id: z.string().optional(),
  name: z.string().optional(),
  segment: z.array(object).optional(),
  ext: object.optional(),
});

const userSchema = z.object({
  id: z.string().optional(),
  buyeruid: z.string().optional(),
  consent: z.string().optional(),
  eids: z.array(eidSchema).optional(),
  data: z.array(dataSchema).optional(),
  ext: z.object({ consent: z.string().optional(), eids: z.array(eidSchema).optional() }).optional(),
});

const deviceSchema = z.object({
  ifa: z.string().optional(),
  os: z.string().optional(),
  lmt: flag.optional(),
  ext: z.object({ ifa_type: z.string().optional(), atts: z.int().optional() }).optional(),
});

const regsSchema = z.object({
  coppa: flag.optional(),
  gdpr: flag.optional(),
  us_privacy: z.string().optional(),
  gpp: z.string().optional(),
  gpp_sid: z.array(z.int()).optional(),
  ext: z.object({ gdpr: flag.optional(), us_privacy: z.string().optional() }).optional(),
});

const MEDIA = ['banner', 'video', 'audio', 'native'] as const;

const impSchema = z.object({
  id: nonEmpty,
  banner: object.optional(),
  video: z.object({ mimes }).optional(),
  audio: z.object({ mimes }).optional(),
  native: z.object({ request: z.string() }).optional(),
  ext: z.object({ data: object.optional() }).optional(),
}).check((ctx) => {
  if (!MEDIA.some((m) => ctx.value[m] !== undefined)) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: `needs at least one of ${MEDIA.join(', ')}` });
  }
});

const bidRequestSchema = z.object({
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

/** `T` with every object open to other fields, as JSON objects are. */
type Loose<T> = T extends readonly (infer U)[] ? Loose<U>[]
  : T extends object ? (string extends keyof T ? Record<string, unknown> : { [K in keyof T]: Loose<T[K]> } & Record<string, unknown>) : T;

/**
 * An OpenRTB 2.6 BidRequest: the fields Pulse reads are typed, every other field is kept as it
 * came (the `[k: string]: unknown` of each object), so a request round-trips.
 */
export type BidRequest = Loose<z.infer<typeof bidRequestSchema>>;
type BidData = Loose<z.infer<typeof dataSchema>>;
type BidEid = Loose<z.infer<typeof eidSchema>>;

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
    data = JSON.parse(utf8(bytes));
  } catch (err) {
    throw notJson(err);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw notAnObject();
  // bidRequestProblem answers what bidRequestSchema would, several times faster (openrtb-check.ts).
  const problem = bidRequestProblem(data as Record<string, unknown>);
  if (problem !== undefined) throw problemError(problem);
  // The original object itself: key order and every unknown field stay as they came.
  return data as BidRequest;
}

/** A request as scanBidRequest reads it. */
export interface ScannedBidRequest {
  /** The fields the schema reads, as JSON.parse would give them; everything else left out. */
  readonly request: BidRequest;
  readonly scanned: Scanned;
}

/**
 * parseBidRequest's checks in one pass over the bytes, without parsing the request: the same
 * errors, and what enrichBytes needs (the EnrichBidRequest hot path).
 * @throws PulseError INVALID_ARGUMENT as parseBidRequest does.
 */
export function scanBidRequest(bytes: Uint8Array): ScannedBidRequest {
  let scanned: Scanned;
  try {
    scanned = scanBytes(bytes);
  } catch (err) {
    if (err instanceof ScanError && err.reason === 'not-object') throw notAnObject();
    if (err instanceof ScanError) throw notJson(err);
    throw err;
  }
  const problem = bidRequestProblem(scanned.skeleton);
  if (problem !== undefined) throw problemError(problem);
  return { request: scanned.skeleton as BidRequest, scanned };
}

function notJson(cause: unknown): PulseError {
  return new PulseError('INVALID_ARGUMENT', 'body: not valid UTF-8 JSON', { field: 'body', cause });
}

function notAnObject(): PulseError {
  return new PulseError('INVALID_ARGUMENT', 'body: must be a JSON object (an OpenRTB BidRequest)', { field: 'body' });
}

function problemError(problem: BidRequestProblem): PulseError {
  const field = problem.path.length === 0 ? 'body' : fieldPath(problem.path);
  return new PulseError('INVALID_ARGUMENT', `${field}: ${problem.message}`, { field });
}

/**
 * The first problem `bidRequestSchema` (zod) finds in a parsed request: the reference that
 * bidRequestProblem, which parseBidRequest uses, must agree with (test/unit/openrtb-check.test.ts).
 */
export function schemaProblem(data: Record<string, unknown>): BidRequestProblem | undefined {
  const result = bidRequestSchema.safeParse(data, { error: issueMessage });
  if (result.success) return undefined;
  const issue = result.error.issues[0];
  return { path: issue?.path.filter((p) => typeof p !== 'symbol') ?? [], message: issue?.message ?? 'invalid' };
}

/** The text of UTF-8 bytes without a leading byte order mark; throws on invalid UTF-8. */
function utf8(bytes: Uint8Array): string {
  if (!isUtf8(bytes)) throw new TypeError('invalid UTF-8');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The request as JSON bytes. */
export function serialize(request: BidRequest): Buffer {
  return Buffer.from(JSON.stringify(request), 'utf8');
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
      return issue.origin === 'array' || issue.origin === 'string' ? 'must not be empty' : 'must be a safe integer';
    case 'too_big':
      return 'must be a safe integer';
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

const KNOWN_SOURCES = new Map(Object.entries(EID_SOURCES));
/** Partner names of sources seen lately (bid requests repeat a handful; null: none); cleared when full. */
const sourceNames = new Map<string, string | null>();
const SOURCE_NAMES_MAX = 1024;

/** The partner name of an eids source, or undefined when nothing usable is left of it. */
export function eidPartner(source: string, uid?: { readonly ext?: { readonly rtiPartner?: string | undefined } | undefined }): string | undefined {
  // The Trade Desk's eids carried UID2 under its own source before uidapi.com existed.
  if (uid?.ext?.rtiPartner === 'UID2' && sourceDomain(source) === 'adserver.org') return 'uid2';
  const known = sourceNames.get(source);
  if (known !== undefined) return known ?? undefined;
  const domain = sourceDomain(source);
  const name = KNOWN_SOURCES.get(domain) ?? domain.replace(/[^a-z0-9_-]/g, '_').replace(/^[_-]+/, '').slice(0, 32);
  if (sourceNames.size >= SOURCE_NAMES_MAX) sourceNames.clear();
  sourceNames.set(source, name === '' ? null : name);
  return name === '' ? undefined : name;
}

/** Identifier types `partner:<name>` of names seen lately: the same string each time (its hash is kept). */
const partnerTypes = new Map<string, string>();

function partnerType(name: string): string {
  let type = partnerTypes.get(name);
  if (type === undefined) {
    if (partnerTypes.size >= SOURCE_NAMES_MAX) partnerTypes.clear();
    partnerTypes.set(name, (type = `partner:${name}`));
  }
  return type;
}

function sourceDomain(source: string): string {
  return source.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/^www\./, '').replace(/\/.*$/, '');
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
  // Module-level helpers rather than closures: this runs on every EnrichBidRequest, and each
  // closure created per call is an allocation (and a `name` definition under tsx).
  const out: RequestIdentifiers = { identifiers: [], ignored: [] };
  const device = request.device;
  if (device?.ifa !== undefined && device.ifa !== '') {
    const type = adIdType(device);
    const atts = device.ext?.atts;
    const id = normalizeAdId(device.ifa);
    if (device.lmt === 1) out.ignored.push({ field: 'device.ifa', reason: 'limit ad tracking (device.lmt = 1)' });
    else if (type.reason !== undefined) out.ignored.push({ field: 'device.ifa', reason: type.reason });
    else if (type.type === 'idfa' && (atts === 1 || atts === 2)) out.ignored.push({ field: 'device.ifa', reason: `App Tracking Transparency ${atts === 1 ? 'restricted' : 'denied'} (device.ext.atts = ${atts})` });
    else if (id === undefined) out.ignored.push({ field: 'device.ifa', reason: 'not a UUID' });
    else if (ZEROED_AD_ID.test(id)) out.ignored.push({ field: 'device.ifa', reason: 'zeroed (tracking limited)' });
    else ignoreUnless(out, 'device.ifa', addIdentifier(out, type.type, id));
  }
  const user = request.user;
  addNamespaced(out, 'user.buyeruid', user?.buyeruid, context.buyer, 'buyer');
  addNamespaced(out, 'user.id', user?.id, context.exchange, 'exchange');
  addEids(out, user?.eids, 'user.eids');
  addEids(out, user?.ext?.eids, 'user.ext.eids');
  return { identifiers: out.identifiers, ignored: out.ignored };
}

/** Adds an identifier unless it is invalid, a duplicate or one too many; why it was not used. */
function addIdentifier(out: RequestIdentifiers, type: string, id: string): string | undefined {
  const idf = { type, id };
  const problem = identifierProblem(idf);
  if (problem !== undefined) return problem;
  // A scan of at most MAX_REQUEST_IDENTIFIERS: cheaper than hashing a `type:id` key per id.
  for (const seen of out.identifiers) if (seen.id === id && seen.type === type) return undefined;
  if (out.identifiers.length >= MAX_REQUEST_IDENTIFIERS) return `more than ${MAX_REQUEST_IDENTIFIERS} identifiers`;
  out.identifiers.push(idf);
  return undefined;
}

function ignoreUnless(out: RequestIdentifiers, field: string, reason: string | undefined): void {
  if (reason !== undefined) out.ignored.push({ field, reason });
}

function addNamespaced(out: RequestIdentifiers, field: string, id: string | undefined, partner: string | undefined, role: string): void {
  if (id === undefined || id === '') return;
  if (partner === undefined) out.ignored.push({ field, reason: `no ${role} named: the id has no namespace` });
  else ignoreUnless(out, field, addIdentifier(out, partnerType(partner), id));
}

function addEids(out: RequestIdentifiers, list: readonly BidEid[] | undefined, base: string): void {
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) {
    const eid = list[i];
    if (eid === undefined) continue;
    for (let j = 0; j < eid.uids.length; j++) {
      const uid = eid.uids[j];
      if (uid === undefined) continue;
      const partner = eidPartner(eid.source, uid);
      // The field is spelled out only for an id that is not used.
      const reason = partner === undefined ? `source ${JSON.stringify(eid.source.slice(0, 64))} gives no partner name` : addIdentifier(out, partnerType(partner), uid.id);
      if (reason !== undefined) out.ignored.push({ field: `${base}[${i}].uids[${j}].id`, reason });
    }
  }
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
  const sids = regs?.gpp_sid ?? (sections === undefined ? undefined : [...sections.keys()].filter((n) => n !== 3 && n !== 4));
  const gppSections = sids === undefined || sids.length === 0 ? NO_SECTIONS : [...new Set(regs?.gpp_sid === undefined ? sids : sids.filter((n) => n > 0))];
  const gdpr = regs?.gdpr;
  const extGdpr = regs?.ext?.gdpr;
  const gdprApplies = gdpr === 1 || extGdpr === 1 || gppSections.includes(2) ? true : gdpr === 0 || extGdpr === 0 ? false : undefined;
  const tcString = firstNonEmpty(request.user?.consent, request.user?.ext?.consent, sections?.get(2));
  const usPrivacy = firstNonEmpty(regs?.us_privacy, regs?.ext?.us_privacy, sections?.get(6));
  const gppUncheckedSections = gppSections.length === 0 ? NO_SECTIONS : gppSections.filter((n) => !GPP_EVALUATED_SECTIONS.includes(n) || (n === 6 && usPrivacy === undefined));
  const atts = request.device?.ext?.atts;
  return {
    gdprApplies, tcString, coppa: regs?.coppa === 1, usPrivacy, gppSections, gppUncheckedSections,
    limitAdTracking: request.device?.lmt === 1 || atts === 1 || atts === 2,
  };
}

const NO_SECTIONS: readonly number[] = Object.freeze([]);

function firstNonEmpty(a: string | undefined, b: string | undefined, c: string | undefined): string | undefined {
  return a !== undefined && a !== '' ? a : b !== undefined && b !== '' ? b : c !== undefined && c !== '' ? c : undefined;
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
  const add = additions(audience, options);
  if (add === undefined) return request;
  const kept = (request.user?.data ?? []).filter((d) => !isOurs(d, options));
  return {
    ...request,
    user: { ...request.user, data: [...kept, ...add.data] },
    imp: request.imp.map((imp) => ({ ...imp, ext: { ...imp.ext, data: { ...imp.ext?.data, [add.key]: [...add.ids] } } })),
  };
}

/** What enrich adds: `user.data` entries and, in each impression, `ext.data[key] = ids`. */
interface Additions {
  readonly data: readonly BidData[];
  readonly key: string;
  readonly ids: readonly string[];
}

/** What enrich adds for an audience, or undefined when it adds nothing (checks the options first). */
function additions(audience: EnrichAudience | undefined, options: EnrichOptions): Additions | undefined {
  checkOptions(options);
  if (!options.decision.allowed || audience === undefined || audience.segments.length === 0) return undefined;
  const { dataName, segtax } = options;
  const id = options.providerId ?? dataName;
  const withNames = options.segmentNames ?? true;
  const data: BidData[] = [{
    id, name: dataName,
    segment: audience.segments.map((s) => (withNames ? { id: s.id, name: s.name } : { id: s.id })),
    ext: { segtax },
  }];
  const taxonomyIds = new Set<string>();
  for (const s of audience.segments) if (s.taxonomyId !== undefined && s.taxonomyId !== '') taxonomyIds.add(s.taxonomyId);
  if (taxonomyIds.size > 0) data.push({ id, name: dataName, segment: [...taxonomyIds].map((t) => ({ id: t })), ext: { segtax: SEGTAX_IAB_AUDIENCE_1_1 } });
  return { data, key: `${options.targetingKeyPrefix}_segs`, ids: audience.segments.map((s) => s.id) };
}

/** An earlier Pulse entry of `user.data` (same name, the tenant's segtax or 4): enrich replaces it. */
function isOurs(d: BidData, options: EnrichOptions): boolean {
  return d.name === options.dataName && isOurSegtax(d.ext?.['segtax'], options.segtax);
}

/** The additions of one audience as JSON bytes, kept while the audience's segment list is the same object (near-cache hits). */
interface AdditionsBytes {
  readonly options: EnrichOptions;
  readonly additions: Additions;
  /** The `user.data` entries, comma-separated, without brackets. */
  readonly entries: Buffer;
  /** `"<key>":[ids]`, the impression's `ext.data` member. */
  readonly member: Buffer;
}
const additionsBytes = new WeakMap<object, AdditionsBytes>();

function sameOptions(a: EnrichOptions, b: EnrichOptions): boolean {
  return a === b || (a.decision.allowed === b.decision.allowed && a.dataName === b.dataName && a.providerId === b.providerId
    && a.segtax === b.segtax && a.targetingKeyPrefix === b.targetingKeyPrefix && a.segmentNames === b.segmentNames);
}

function additionsOf(audience: EnrichAudience | undefined, options: EnrichOptions): AdditionsBytes | undefined {
  const cached = audience === undefined ? undefined : additionsBytes.get(audience.segments);
  if (cached !== undefined && sameOptions(cached.options, options)) return cached;
  const add = additions(audience, options);
  if (add === undefined || audience === undefined) return undefined;
  const made = {
    options, additions: add,
    entries: Buffer.from(JSON.stringify(add.data).slice(1, -1), 'utf8'),
    member: Buffer.from(`${JSON.stringify(add.key)}:${JSON.stringify(add.ids)}`, 'utf8'),
  };
  additionsBytes.set(audience.segments, made);
  return made;
}

const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const NONE = Buffer.alloc(0);
const COMMA = text(',');
const USER_DATA = text(',"user":{"data":[');
const CLOSE_ARRAY_OBJECT = text(']}');
const DATA_ARRAY = text('"data":[');
const COMMA_DATA_ARRAY = text(',"data":[');
const CLOSE_ARRAY = text(']');
const EXT_DATA = text('"ext":{"data":{');
const COMMA_EXT_DATA = text(',"ext":{"data":{');
const CLOSE_TWO_OBJECTS = text('}}');
const DATA_OBJECT = text('"data":{');
const COMMA_DATA_OBJECT = text(',"data":{');
const CLOSE_OBJECT = text('}');

/** Byte strings inserted into a request's bytes, each before an offset. */
class Insertions {
  readonly #at: number[] = [];
  readonly #parts: Buffer[][] = [];

  add(at: number, ...parts: Buffer[]): void {
    this.#at.push(at);
    this.#parts.push(parts);
  }

  /** `bytes` from `start` with the insertions copied in. */
  apply(bytes: Buffer, start: number): Buffer {
    const at = this.#at;
    const parts = this.#parts;
    // Insertion sort by offset: a handful of entries, nearly in order already.
    for (let i = 1; i < at.length; i++) {
      for (let j = i; j > 0 && (at[j - 1] as number) > (at[j] as number); j--) {
        [at[j - 1], at[j]] = [at[j] as number, at[j - 1] as number];
        [parts[j - 1], parts[j]] = [parts[j] as Buffer[], parts[j - 1] as Buffer[]];
      }
    }
    let length = bytes.length - start;
    for (const list of parts) for (const p of list) length += p.length;
    const out = Buffer.allocUnsafe(length);
    let from = start;
    let to = 0;
    for (let i = 0; i < at.length; i++) {
      const offset = at[i] as number;
      to += bytes.copy(out, to, from, offset);
      for (const p of parts[i] as Buffer[]) to += p.copy(out, to);
      from = offset;
    }
    bytes.copy(out, to, from);
    return out;
  }
}

/**
 * enrich() as JSON bytes: the request's own bytes (scanBidRequest) with the additions copied in
 * where they go, at a fraction of the cost of serializing the enriched object; the same JSON value
 * as serialize(enrich(...)) (tested on every fixture). A request that carries earlier Pulse
 * entries or targeting keys, which enrich replaces, is parsed and serialized from enrich's
 * object instead. Undefined when enrich would return the request unchanged.
 * @throws PulseError INVALID_ARGUMENT naming a malformed option.
 */
export function enrichBytes(read: ScannedBidRequest, audience: EnrichAudience | undefined, options: EnrichOptions): Buffer | undefined {
  const add = additionsOf(audience, options);
  if (add === undefined) return undefined;
  const { request, scanned } = read;
  const { key } = add.additions;
  const { root } = scanned;
  const imps = root.members['imp']?.items ?? [];
  if (request.user?.data?.some((d) => isOurs(d, options)) === true || imps.some((imp) => imp?.members['ext']?.members['data']?.keys.includes(key) === true)) {
    return serialize(enrich(parseBidRequest(scanned.bytes), audience, options));
  }
  const out = new Insertions();
  const user = root.members['user'];
  const userData = user?.members['data'];
  if (user === undefined) out.add(root.close, USER_DATA, add.entries, CLOSE_ARRAY_OBJECT);
  else if (userData === undefined) out.add(user.close, user.count === 0 ? DATA_ARRAY : COMMA_DATA_ARRAY, add.entries, CLOSE_ARRAY);
  else out.add(userData.close, userData.count === 0 ? NONE : COMMA, add.entries);
  for (const imp of imps) {
    // Every impression is an object (scanBidRequest checked), so each has a mark.
    if (imp === undefined) throw new Error('scanBidRequest left an impression without its place');
    const ext = imp.members['ext'];
    const data = ext?.members['data'];
    if (ext === undefined) out.add(imp.close, imp.count === 0 ? EXT_DATA : COMMA_EXT_DATA, add.member, CLOSE_TWO_OBJECTS);
    else if (data === undefined) out.add(ext.close, ext.count === 0 ? DATA_OBJECT : COMMA_DATA_OBJECT, add.member, CLOSE_OBJECT);
    else out.add(data.close, data.count === 0 ? NONE : COMMA, add.member);
  }
  return out.apply(scanned.bytes, scanned.start);
}

function isOurSegtax(value: unknown, segtax: number): boolean {
  return value === segtax || value === SEGTAX_IAB_AUDIENCE_1_1;
}

function bad(field: string, problem: string): never {
  throw new PulseError('INVALID_ARGUMENT', `${field}: ${problem}`, { field });
}

function checkOptions(options: EnrichOptions): void {
  if (options.dataName.length === 0 || options.dataName.length > 256) bad('dataName', 'must be 1-256 characters');
  if (options.providerId !== undefined && (options.providerId.length === 0 || options.providerId.length > 256)) bad('providerId', 'must be 1-256 characters');
  if (!Number.isInteger(options.segtax) || options.segtax < 1) bad('segtax', 'must be a positive integer');
  if (options.segtax === SEGTAX_IAB_AUDIENCE_1_1) bad('segtax', `${SEGTAX_IAB_AUDIENCE_1_1} is IAB Audience Taxonomy 1.1, which Pulse writes from segments' taxonomy ids`);
  if (!TARGETING_PREFIX.test(options.targetingKeyPrefix)) bad('targetingKeyPrefix', `must match ${TARGETING_PREFIX.source}`);
}
