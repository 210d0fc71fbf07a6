// The EnrichBidRequest hot path's check of a parsed BidRequest. It answers exactly what
// `bidRequestSchema` (openrtb.ts, zod) answers — the same first problem, at the same place, in the
// same words — at a fraction of the cost: the zod parse was ~6.5 µs of a ~13 µs parse of a 1.3 KB
// request, on a path whose whole budget is a few tens of µs (bench/README.md, EnrichBidRequest).
// The zod schema stays the declaration (types, documentation) and the oracle:
// test/unit/openrtb-check.test.ts compares both on thousands of mutated fixtures.

/** The first problem of a request: where (from the request's root) and what. */
export interface BidRequestProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const MEDIA = ['banner', 'video', 'audio', 'native'] as const;
const MEDIA_MESSAGE = `needs at least one of ${MEDIA.join(', ')}`;

/** A problem found `key` levels down; each level on the way back prepends its key. */
class Found {
  readonly path: (string | number)[] = [];
  constructor(readonly message: string) {}
  at(key: string | number): Found {
    this.path.unshift(key);
    return this;
  }
}

type Obj = Record<string, unknown>;
type Check = (value: unknown) => Found | undefined;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function requiredMissing(v: unknown): Found | undefined {
  return v === undefined ? new Found('is required') : undefined;
}

const optionalString: Check = (v) => (v === undefined || typeof v === 'string' ? undefined : new Found('must be a string'));
const requiredString: Check = (v) => requiredMissing(v) ?? optionalString(v);
const nonEmptyString: Check = (v) => requiredString(v) ?? (v === '' ? new Found('must not be empty') : undefined);
const optionalFlag: Check = (v) => (v === undefined || v === 0 || v === 1 ? undefined : new Found('must be 0 or 1'));
const optionalObject: Check = (v) => (v === undefined || isObject(v) ? undefined : new Found('must be an object'));

function integer(v: unknown): Found | undefined {
  if (typeof v !== 'number') return new Found(v === undefined ? 'is required' : 'must be a number');
  if (!Number.isInteger(v)) return new Found('must be an integer');
  return Number.isSafeInteger(v) ? undefined : new Found('must be a safe integer');
}
const optionalInteger: Check = (v) => (v === undefined ? undefined : integer(v));

/** `fields` of an optional object, in order: the first problem of the first field that has one. */
function fieldsOf(v: unknown, fields: readonly (readonly [string, Check])[], required = false): Found | undefined {
  if (v === undefined) return required ? new Found('is required') : undefined;
  if (!isObject(v)) return new Found('must be an object');
  for (const [key, check] of fields) {
    const found = check(v[key]);
    if (found !== undefined) return found.at(key);
  }
  return undefined;
}

/** An optional array whose items pass `item` (and, with `nonEmpty`, has one at least). */
function arrayOf(v: unknown, item: Check, options: { required?: boolean; nonEmpty?: boolean } = {}): Found | undefined {
  if (v === undefined) return options.required === true ? new Found('is required') : undefined;
  if (!Array.isArray(v)) return new Found('must be an array');
  for (let i = 0; i < v.length; i++) {
    const found = item(v[i]);
    if (found !== undefined) return found.at(i);
  }
  return options.nonEmpty === true && v.length === 0 ? new Found('must not be empty') : undefined;
}

const requiredObject: Check = (v) => (isObject(v) ? undefined : new Found(v === undefined ? 'is required' : 'must be an object'));
const objects: Check = (v) => arrayOf(v, requiredObject);
const mimes: Check = (v) => arrayOf(v, requiredString, { required: true, nonEmpty: true });

const UID: readonly (readonly [string, Check])[] = [
  ['id', requiredString],
  ['atype', optionalInteger],
  ['ext', (v) => fieldsOf(v, [['rtiPartner', optionalString]])],
];
const EID: readonly (readonly [string, Check])[] = [
  ['source', requiredString],
  ['uids', (v) => arrayOf(v, (u) => fieldsOf(u, UID, true), { required: true })],
];
const eids: Check = (v) => arrayOf(v, (e) => fieldsOf(e, EID, true));
const DATA: readonly (readonly [string, Check])[] = [
  ['id', optionalString],
  ['name', optionalString],
  ['segment', objects],
  ['ext', optionalObject],
];
const USER: readonly (readonly [string, Check])[] = [
  ['id', optionalString],
  ['buyeruid', optionalString],
  ['consent', optionalString],
  ['eids', eids],
  ['data', (v) => arrayOf(v, (d) => fieldsOf(d, DATA, true))],
  ['ext', (v) => fieldsOf(v, [['consent', optionalString], ['eids', eids]])],
];
const DEVICE: readonly (readonly [string, Check])[] = [
  ['ifa', optionalString],
  ['os', optionalString],
  ['lmt', optionalFlag],
  ['ext', (v) => fieldsOf(v, [['ifa_type', optionalString], ['atts', optionalInteger]])],
];
const REGS: readonly (readonly [string, Check])[] = [
  ['coppa', optionalFlag],
  ['gdpr', optionalFlag],
  ['us_privacy', optionalString],
  ['gpp', optionalString],
  ['gpp_sid', (v) => arrayOf(v, integer)],
  ['ext', (v) => fieldsOf(v, [['gdpr', optionalFlag], ['us_privacy', optionalString]])],
];
const IMP: readonly (readonly [string, Check])[] = [
  ['id', nonEmptyString],
  ['banner', optionalObject],
  ['video', (v) => fieldsOf(v, [['mimes', mimes]])],
  ['audio', (v) => fieldsOf(v, [['mimes', mimes]])],
  ['native', (v) => fieldsOf(v, [['request', requiredString]])],
  ['ext', (v) => fieldsOf(v, [['data', optionalObject]])],
];

function impression(v: unknown): Found | undefined {
  const found = fieldsOf(v, IMP, true);
  if (found !== undefined) return found;
  const imp = v as Obj;
  return imp['banner'] === undefined && imp['video'] === undefined && imp['audio'] === undefined && imp['native'] === undefined
    ? new Found(MEDIA_MESSAGE) : undefined;
}

const REQUEST: readonly (readonly [string, Check])[] = [
  ['id', nonEmptyString],
  ['imp', (v) => arrayOf(v, impression, { required: true, nonEmpty: true })],
  ['site', optionalObject],
  ['app', optionalObject],
  ['dooh', optionalObject],
  ['user', (v) => fieldsOf(v, USER)],
  ['device', (v) => fieldsOf(v, DEVICE)],
  ['regs', (v) => fieldsOf(v, REGS)],
];

/**
 * The first problem of a parsed JSON object as an OpenRTB 2.6 BidRequest (see parseBidRequest
 * for what is checked), or undefined when there is none.
 */
export function bidRequestProblem(request: Obj): BidRequestProblem | undefined {
  const found = fieldsOf(request, REQUEST, true);
  if (found !== undefined) return found;
  const placements = (['site', 'app', 'dooh'] as const).filter((k) => request[k] !== undefined);
  const second = placements[1];
  if (second !== undefined) return { path: [second], message: `${placements.join(' and ')} are mutually exclusive` };
  const imps = request['imp'] as Obj[];
  if (imps.length > 1) {
    const seen = new Set<string>();
    for (let i = 0; i < imps.length; i++) {
      const id = imps[i]?.['id'] as string;
      if (seen.has(id)) return { path: ['imp', i, 'id'], message: `duplicate impression id ${JSON.stringify(id)}` };
      seen.add(id);
    }
  }
  return undefined;
}
