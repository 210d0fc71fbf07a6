import { PulseError } from '../errors.ts';

/** Ids of inventory, placements and deals: the same alphabet as outcome ids, so they join. */
export const INVENTORY_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** Most placements one site or app may register. */
export const MAX_PLACEMENTS = 500;
/** Most formats per placement and deals per placement. */
export const MAX_FORMATS = 20;
export const MAX_DEALS = 200;
/** Largest floor accepted (CPM): anything above is a unit mistake (micros, cents). */
export const MAX_FLOOR_CPM = 10_000;

/** A creative format a placement accepts. */
export type PlacementFormat = { readonly type: 'banner'; readonly w: number; readonly h: number } | { readonly type: 'video' } | { readonly type: 'native' };

/** A private-marketplace deal on a placement, with its floor (CPM in the placement's currency). */
export interface DealFloor {
  readonly id: string;
  readonly floor: number;
}

/** An ad slot of a site or app. */
export interface Placement {
  readonly id: string;
  readonly formats: readonly PlacementFormat[];
  readonly floor: number;
  readonly currency: string;
  readonly deals: readonly DealFloor[];
}

/** A site (by domain) or an app (by bundle) with its placements. */
export interface Inventory {
  readonly id: string;
  readonly kind: 'site' | 'app';
  /** The site's domain; '' for apps without one. */
  readonly domain: string;
  /** The app's bundle or store id; '' for sites. */
  readonly bundle: string;
  readonly name: string;
  readonly placements: readonly Placement[];
}

/** Inventory as decoded from the wire (empty strings / zeros for absent fields). */
export interface InventoryInput {
  readonly id: string;
  readonly kind: string;
  readonly domain: string;
  readonly bundle: string;
  readonly name: string;
  readonly placements: readonly {
    readonly id: string;
    readonly formats: readonly { readonly banner?: { readonly w: number; readonly h: number } | null; readonly video?: boolean; readonly native?: boolean; readonly format?: string }[];
    readonly floor: number;
    readonly currency: string;
    readonly deals: readonly { readonly id: string; readonly floor: number }[];
  }[];
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
// Android package names (com.example.app), iOS bundle ids, and numeric App Store ids all fit.
const BUNDLE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const ISO_4217 = /^[A-Z]{3}$/;

function invalid(field: string, message: string): PulseError {
  return new PulseError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

function requireId(v: string, field: string): string {
  if (!INVENTORY_ID_PATTERN.test(v)) throw invalid(field, 'required: 1-200 printable ASCII characters without spaces');
  return v;
}

function requireFloor(v: number, field: string): number {
  if (!Number.isFinite(v) || v < 0 || v > MAX_FLOOR_CPM) throw invalid(field, `a CPM between 0 and ${MAX_FLOOR_CPM}`);
  return v;
}

function validateFormat(f: InventoryInput['placements'][number]['formats'][number], field: string): PlacementFormat {
  if (f.format === 'banner' && f.banner) {
    const { w, h } = f.banner;
    if (!Number.isInteger(w) || w < 1 || w > 10_000) throw invalid(`${field}.banner.w`, 'width in pixels, 1-10000');
    if (!Number.isInteger(h) || h < 1 || h > 10_000) throw invalid(`${field}.banner.h`, 'height in pixels, 1-10000');
    return { type: 'banner', w, h };
  }
  if (f.format === 'video' && f.video === true) return { type: 'video' };
  if (f.format === 'native' && f.native === true) return { type: 'native' };
  throw invalid(field, 'one of banner {w, h}, video: true or native: true');
}

/**
 * The inventory, validated and normalised (domain lower-cased, currency defaulted to USD, banner
 * sizes de-duplicated); throws INVALID_ARGUMENT naming the first offending field.
 */
export function validateInventory(input: InventoryInput): Inventory {
  const id = requireId(input.id, 'id');
  if (input.kind !== 'site' && input.kind !== 'app') throw invalid('kind', 'SITE or APP');
  const domain = input.domain.trim().toLowerCase();
  if (input.kind === 'site' ? !DOMAIN.test(domain) : domain !== '' && !DOMAIN.test(domain)) {
    throw invalid('domain', `${input.kind === 'site' ? 'required for sites: ' : ''}a domain name such as news.example.com`);
  }
  if (input.kind === 'site' && input.bundle !== '') throw invalid('bundle', 'only for apps');
  if (input.kind === 'app' && !BUNDLE.test(input.bundle)) throw invalid('bundle', 'required for apps: a bundle or store id such as com.example.app');
  if (input.name.length > 200) throw invalid('name', 'at most 200 characters');
  if (input.placements.length === 0) throw invalid('placements', 'at least one placement');
  if (input.placements.length > MAX_PLACEMENTS) throw invalid('placements', `at most ${MAX_PLACEMENTS}`);
  const placementIds = new Set<string>();
  const placements = input.placements.map((p, i): Placement => {
    const field = `placements[${i}]`;
    const pid = requireId(p.id, `${field}.id`);
    if (placementIds.has(pid)) throw invalid(`${field}.id`, `placement ${pid} is listed twice`);
    placementIds.add(pid);
    if (p.formats.length === 0) throw invalid(`${field}.formats`, 'at least one format');
    if (p.formats.length > MAX_FORMATS) throw invalid(`${field}.formats`, `at most ${MAX_FORMATS}`);
    const formats = new Map<string, PlacementFormat>();
    p.formats.forEach((f, j) => {
      const format = validateFormat(f, `${field}.formats[${j}]`);
      formats.set(format.type === 'banner' ? `banner:${format.w}x${format.h}` : format.type, format);
    });
    const floor = requireFloor(p.floor, `${field}.floor`);
    if (p.currency !== '' && !ISO_4217.test(p.currency)) throw invalid(`${field}.currency`, 'ISO 4217 code, e.g. USD');
    if (p.deals.length > MAX_DEALS) throw invalid(`${field}.deals`, `at most ${MAX_DEALS}`);
    const dealIds = new Set<string>();
    const deals = p.deals.map((d, j): DealFloor => {
      const dealId = requireId(d.id, `${field}.deals[${j}].id`);
      if (dealIds.has(dealId)) throw invalid(`${field}.deals[${j}].id`, `deal ${dealId} is listed twice`);
      dealIds.add(dealId);
      return { id: dealId, floor: requireFloor(d.floor, `${field}.deals[${j}].floor`) };
    });
    return { id: pid, formats: [...formats.values()], floor, currency: p.currency === '' ? 'USD' : p.currency, deals };
  });
  return { id, kind: input.kind, domain, bundle: input.kind === 'app' ? input.bundle : '', name: input.name, placements };
}

/** Wins observed for an audience or a deal: count and sum of clearing prices (CPM). */
export interface WinStats {
  readonly wins: number;
  readonly priceSum: number;
}

/** Where an estimated eCPM came from. */
export type ValueSource = 'observed' | 'placement' | 'floor';

/** A segment's standing for a placement. */
export interface SegmentMatch {
  readonly segmentId: string;
  readonly name: string;
  readonly reach: number;
  readonly ecpm: number;
  readonly valueSource: ValueSource;
  readonly wins: number;
  /** reach × eCPM / 1000: what one impression to each member would be worth. */
  readonly score: number;
}

/** A deal's standing for a placement. */
export interface DealMatch {
  readonly dealId: string;
  readonly floor: number;
  readonly ecpm: number;
  readonly valueSource: ValueSource;
  readonly wins: number;
  readonly reach: number;
  readonly aboveFloor: boolean;
}

const ecpmOf = (s: WinStats) => s.priceSum / s.wins;

/**
 * Segments ranked for a placement. Value (eCPM) is the average clearing price of wins on the
 * placement by the segment's members; a segment with no such win takes the placement's eCPM over
 * all wins, and a placement with no win its floor. Score = reach × eCPM / 1000 (expected revenue
 * of one impression per member); ties go to the larger reach, then the id.
 */
export function rankSegments(
  placement: Placement,
  segments: readonly { readonly id: string; readonly name: string; readonly reach: number; readonly won: WinStats }[],
  placementWins: WinStats,
  limit: number,
): SegmentMatch[] {
  const fallback: { ecpm: number; valueSource: ValueSource } = placementWins.wins > 0
    ? { ecpm: ecpmOf(placementWins), valueSource: 'placement' }
    : { ecpm: placement.floor, valueSource: 'floor' };
  return segments
    .map((s): SegmentMatch => {
      const value = s.won.wins > 0 ? { ecpm: ecpmOf(s.won), valueSource: 'observed' as const } : fallback;
      return { segmentId: s.id, name: s.name, reach: s.reach, wins: s.won.wins, ...value, score: (s.reach * value.ecpm) / 1000 };
    })
    .sort((a, b) => b.score - a.score || b.reach - a.reach || a.segmentId.localeCompare(b.segmentId))
    .slice(0, limit);
}

/**
 * The placement's deals ranked: value is the average clearing price of the deal's wins, or its
 * floor when none was observed. Deals whose value clears their floor come first (a deal trading
 * below its floor signals a floor nobody pays), then by eCPM, then by id.
 */
export function rankDeals(placement: Placement, stats: ReadonlyMap<string, WinStats & { readonly profiles: number }>): DealMatch[] {
  return placement.deals
    .map((d): DealMatch => {
      const s = stats.get(d.id);
      const observed = s !== undefined && s.wins > 0;
      const ecpm = observed ? ecpmOf(s) : d.floor;
      return {
        dealId: d.id, floor: d.floor, ecpm, valueSource: observed ? 'observed' : 'floor', wins: s?.wins ?? 0, reach: s?.profiles ?? 0, aboveFloor: ecpm >= d.floor,
      };
    })
    .sort((a, b) => Number(b.aboveFloor) - Number(a.aboveFloor) || b.ecpm - a.ecpm || a.dealId.localeCompare(b.dealId));
}

/** One SSP report row's counts, as the warehouse aggregates them. */
export interface SspCounts {
  readonly ssp: string;
  readonly placementId: string;
  readonly day: string;
  readonly requests: number;
  readonly bids: number;
  readonly wins: number;
  readonly impressions: number;
  readonly winPriceSum: number;
}

/** An SSP report row with its rates. */
export interface SspRow extends SspCounts {
  /** wins / requests (0 without requests). */
  readonly fillRate: number;
  /** wins / bids (0 without bids). */
  readonly winRate: number;
  /** Average clearing price of the wins (0 without wins). */
  readonly ecpm: number;
  /** Sum of clearing prices / 1000. */
  readonly revenue: number;
}

/** Rates of a report row; a zero denominator gives 0, not NaN. */
export function sspRow(c: SspCounts): SspRow {
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return { ...c, fillRate: ratio(c.wins, c.requests), winRate: ratio(c.wins, c.bids), ecpm: ratio(c.winPriceSum, c.wins), revenue: c.winPriceSum / 1000 };
}

/** Longest report period accepted. */
export const MAX_REPORT_DAYS = 366;

/** Checks a report period [from, to): both given, from < to, at most MAX_REPORT_DAYS. */
export function validatePeriod(from: number | undefined, to: number | undefined): { from: number; to: number } {
  if (from === undefined || !Number.isFinite(from)) throw invalid('from', 'required');
  if (to === undefined || !Number.isFinite(to)) throw invalid('to', 'required');
  if (to <= from) throw invalid('to', 'must be after from');
  if (to - from > MAX_REPORT_DAYS * 86_400_000) throw invalid('to', `at most ${MAX_REPORT_DAYS} days after from`);
  return { from, to };
}
