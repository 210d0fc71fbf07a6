import { z } from 'zod';
import { identifierProblem, type Identifier } from '../identity/identifier.ts';
import type { JsonObject } from '../json.ts';
import { recordMessageId } from './connectors/model.ts';
import { parseTimestamp } from './event.ts';

/** The taxonomy name of IAB Tech Lab's Audience Taxonomy 1.1 in a taxonomy map. */
export const IAB_AUDIENCE_1_1 = 'iab_audience_1.1';

/**
 * A small excerpt of IAB Tech Lab's Audience Taxonomy 1.1 (unique id -> condensed name), copied
 * from the taxonomy's published TSV (InteractiveAdvertisingBureau/Taxonomies, "Audience
 * Taxonomies/Audience Taxonomy 1.1.tsv"). The full taxonomy has about 1,600 nodes; maps may use
 * any of its numeric ids, this excerpt only names the common ones in reports.
 */
export const IAB_AUDIENCE_1_1_EXCERPT: Readonly<Record<string, string>> = Object.freeze({
  '1': 'Demographic',
  '2': 'Demographic | Age Range',
  '3': 'Demographic | Age Range | 18-20',
  '4': 'Demographic | Age Range | 21-24',
  '5': 'Demographic | Age Range | 25-29',
  '6': 'Demographic | Age Range | 30-34',
  '7': 'Demographic | Age Range | 35-39',
  '8': 'Demographic | Age Range | 40-44',
  '48': 'Demographic | Gender',
  '49': 'Demographic | Gender | Female',
  '50': 'Demographic | Gender | Male',
  '541': 'Interest | Pets',
  '544': 'Interest | Pets | Dogs',
  '607': 'Interest | Sports',
  '663': 'Interest | Sports | Soccer',
  '687': 'Interest | Technology & Computing',
  '719': 'Interest | Travel',
  '720': 'Interest | Travel | Adventure Travel',
  '727': 'Interest | Travel | Europe Travel',
  '733': 'Interest | Video Gaming',
  '919': 'Purchase Intent* | Clothing and Accessories',
  '930': 'Purchase Intent* | Clothing and Accessories | Footwear',
  '942': 'Purchase Intent* | Consumer Electronics',
  '954': 'Purchase Intent* | Consumer Electronics | Laptops',
  '961': 'Purchase Intent* | Consumer Electronics | Mobile Phones and Accessories',
});

const IAB_ID = /^[1-9][0-9]{0,5}$/;
const TENANT_CATEGORY_ID = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
/** Provider names become part of a trait name and an identifier type (`partner:<provider>`). */
export const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const fieldName = z.string().min(1).max(128);

const taxonomyMapSchema = z.strictObject({
  /** Free text for people: where the map comes from, what it covers. */
  description: z.string().optional(),
  /** `iab_audience_1.1`, or `tenant` for the tenant's own categories (listed in `categories`). */
  taxonomy: z.enum([IAB_AUDIENCE_1_1, 'tenant']),
  /** The provider the map is for; when given, it must be the provider named on import. */
  provider: z.string().regex(PROVIDER_PATTERN, `must match ${PROVIDER_PATTERN.source}`).optional(),
  /** Names of the target categories (required for a tenant taxonomy: its whole list). */
  categories: z.record(z.string(), z.string().min(1).max(256)).optional(),
  /** The provider's segment id -> one or more taxonomy ids. */
  map: z.record(z.string().min(1).max(256), z.union([z.string(), z.array(z.string()).min(1).max(64)])),
  /** Where the provider's records keep the user id, its type and the segment ids. */
  fields: z.strictObject({
    id: fieldName.default('id'),
    idType: fieldName.default('id_type'),
    segments: fieldName.default('segments'),
    timestamp: fieldName.optional(),
  }).default({ id: 'id', idType: 'id_type', segments: 'segments' }),
});

/** A validated map from a provider's segment ids onto one taxonomy. */
export interface TaxonomyMap {
  readonly taxonomy: typeof IAB_AUDIENCE_1_1 | 'tenant';
  readonly provider: string | undefined;
  readonly categories: Readonly<Record<string, string>>;
  readonly map: ReadonlyMap<string, readonly string[]>;
  readonly fields: { readonly id: string; readonly idType: string; readonly segments: string; readonly timestamp: string | undefined };
}

/**
 * Parses a taxonomy map (JSON), reporting every problem with its place: target ids must be IAB
 * Audience Taxonomy 1.1 unique ids (numeric strings) or, for a tenant taxonomy, ids listed in its
 * `categories`.
 */
export function parseTaxonomyMap(json: string): { ok: true; taxonomy: TaxonomyMap } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const parsed = taxonomyMapSchema.safeParse(data);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'taxonomy map'}: ${i.message}`) };
  const t = parsed.data;
  const problems: string[] = [];
  const categories = t.categories ?? (t.taxonomy === IAB_AUDIENCE_1_1 ? IAB_AUDIENCE_1_1_EXCERPT : undefined);
  if (t.taxonomy === 'tenant' && t.categories === undefined) problems.push('categories: required for a tenant taxonomy (its category ids and names)');
  for (const id of Object.keys(t.categories ?? {})) {
    if (t.taxonomy === IAB_AUDIENCE_1_1 && !IAB_ID.test(id)) problems.push(`categories.${id}: not an IAB Audience Taxonomy 1.1 id (a number)`);
    if (t.taxonomy === 'tenant' && !TENANT_CATEGORY_ID.test(id)) problems.push(`categories.${id}: must match ${TENANT_CATEGORY_ID.source}`);
  }
  const map = new Map<string, readonly string[]>();
  for (const [external, target] of Object.entries(t.map)) {
    const ids = [...new Set(typeof target === 'string' ? [target] : target)];
    for (const id of ids) {
      if (t.taxonomy === IAB_AUDIENCE_1_1 && !IAB_ID.test(id)) problems.push(`map.${external}: ${JSON.stringify(id)} is not an IAB Audience Taxonomy 1.1 id (a number)`);
      else if (t.taxonomy === 'tenant' && !Object.hasOwn(t.categories ?? {}, id)) problems.push(`map.${external}: ${JSON.stringify(id)} is not one of the tenant's categories`);
      else if (t.taxonomy === IAB_AUDIENCE_1_1 && t.categories !== undefined && !Object.hasOwn(t.categories, id)) problems.push(`map.${external}: ${JSON.stringify(id)} is not in the map's categories`);
    }
    map.set(external, ids);
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    taxonomy: { taxonomy: t.taxonomy, provider: t.provider, categories: categories ?? {}, map, fields: { ...t.fields, timestamp: t.fields.timestamp } },
  };
}

/** A provider's segment ids onto the taxonomy: the sorted, distinct taxonomy ids and the ids no entry maps. */
export function mapSegments(taxonomy: TaxonomyMap, external: readonly string[]): { mapped: string[]; unmapped: string[] } {
  const mapped = new Set<string>();
  const unmapped: string[] = [];
  for (const id of external) {
    const targets = taxonomy.map.get(id);
    if (targets === undefined) unmapped.push(id);
    else for (const t of targets) mapped.add(t);
  }
  const order = taxonomy.taxonomy === IAB_AUDIENCE_1_1 ? (a: string, b: string) => Number(a) - Number(b) : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { mapped: [...mapped].sort(order), unmapped: [...new Set(unmapped)] };
}

/** The trait that holds a provider's audiences (last write wins for the whole list, per provider). */
export function audienceTrait(provider: string): string {
  return `audiences_3p_${provider.replaceAll('-', '_')}`;
}

/** One third-party record: a user identifier and the provider's segment ids. */
export interface AudienceRecord {
  readonly identifier: Identifier;
  readonly segments: readonly string[];
  readonly timestamp: number | undefined;
}

const HASHED = new Set(['email_sha256', 'phone_sha256']);

/**
 * Reads a third-party record: the id and its type (the record's own, else `defaultIdType`,
 * else `partner:<provider>`) and the segment ids (a list, or text separated by | , ; or spaces).
 */
export function readAudienceRecord(record: Readonly<Record<string, unknown>>, taxonomy: TaxonomyMap, provider: string, defaultIdType: string | undefined): { ok: true; record: AudienceRecord } | { ok: false; reason: string } {
  const f = taxonomy.fields;
  const rawId = record[f.id];
  const rawType = record[f.idType];
  let id = typeof rawId === 'number' ? String(rawId) : typeof rawId === 'string' ? rawId.trim() : '';
  const type = typeof rawType === 'string' && rawType.trim() !== '' ? rawType.trim() : defaultIdType ?? `partner:${provider}`;
  if (id === '') return { ok: false, reason: `${f.id}: missing` };
  if (HASHED.has(type)) id = id.toLowerCase();
  const problem = identifierProblem({ type, id });
  if (problem !== undefined) return { ok: false, reason: `${f.id}: ${problem}` };
  const raw = record[f.segments];
  let segments: string[];
  if (Array.isArray(raw)) segments = raw.filter((s) => typeof s === 'string' || typeof s === 'number').map((s) => String(s).trim());
  else if (typeof raw === 'string') segments = raw.split(/[|,;\s]+/);
  else if (typeof raw === 'number') segments = [String(raw)];
  else return { ok: false, reason: `${f.segments}: missing (a list of segment ids)` };
  segments = segments.filter((s) => s !== '');
  let timestamp: number | undefined;
  if (f.timestamp !== undefined) {
    const t = record[f.timestamp];
    timestamp = typeof t === 'string' || typeof t === 'number' ? parseTimestamp(t) : undefined;
    if (timestamp === undefined) return { ok: false, reason: `${f.timestamp}: not a date` };
  }
  return { ok: true, record: { identifier: { type, id }, segments, timestamp } };
}

/**
 * The identify event that sets a person's audiences from one provider. Its messageId depends on
 * the provider, the person, the data set's date and the audiences, so importing the same data
 * set again changes nothing, while a newer data set overwrites the list (last write wins by time).
 */
export function audienceEvent(provider: string, taxonomy: TaxonomyMap, record: AudienceRecord, mapped: readonly string[], asOf: number): JsonObject {
  const at = record.timestamp ?? asOf;
  return {
    type: 'identify',
    messageId: recordMessageId(`3p-${provider}`, `${record.identifier.type}:${record.identifier.id}`, `${at}|${mapped.join(',')}`),
    timestamp: new Date(at).toISOString(),
    traits: { [audienceTrait(provider)]: [...mapped] },
    context: { channel: 'partner', externalIds: [{ type: record.identifier.type, id: record.identifier.id }], thirdParty: { provider, taxonomy: taxonomy.taxonomy } },
  };
}

/**
 * Counts the provider ids no entry maps, bounded: the first `limit` distinct ids are counted
 * exactly, later new ones only in the total, so a data set full of unknown ids cannot exhaust memory.
 */
export class UnmappedTally {
  readonly #counts = new Map<string, number>();
  readonly #limit: number;
  occurrences = 0;
  overflow = 0;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  add(ids: readonly string[]): void {
    for (const id of ids) {
      this.occurrences++;
      const n = this.#counts.get(id);
      if (n !== undefined) this.#counts.set(id, n + 1);
      else if (this.#counts.size < this.#limit) this.#counts.set(id, 1);
      else this.overflow++;
    }
  }

  /** Distinct unmapped ids seen (a lower bound once the limit was reached). */
  get distinct(): number {
    return this.#counts.size;
  }

  /** The most frequent unmapped ids. */
  top(n: number): { id: string; count: number }[] {
    return [...this.#counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([id, count]) => ({ id, count }));
  }
}
