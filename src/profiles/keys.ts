import { createHash } from 'node:crypto';
import { PARTNER_PATTERN, TENANT_PATTERN } from '../auth/keys.ts';
import { CONNECTOR_ID_PATTERN } from '../collection/connectors/model.ts';
import { MAX_REDIS_BUCKETS, NAMESPACE_PATTERN } from '../config/config.ts';
import { PulseError } from '../errors.ts';
import { identifierKey, identifierProblem, type Identifier } from '../identity/identifier.ts';
import { SEGMENT_ID_PATTERN } from '../segments/rule.ts';

/*
 * Every Redis key Pulse builds in TypeScript comes from this module, so the layout is written down
 * once. Lua scripts receive a prefix in KEYS[] and build their keys inside; the names below match
 * theirs.
 *
 * Two layouts (src/profiles/per-profile-layout.md §1, PULSE_REDIS_LAYOUT):
 * - `tenant` (v1, what every store uses): tenantKeys, every key of a tenant under
 *   `<namespace>:{<tenant>}:`, one hash slot per tenant.
 * - `profile` (v2): profileKeys, identifierTag, bucketOf/bucketKeys and profileIdFor at the end of
 *   this file. Nothing a running Pulse does uses them yet (PULSE_REDIS_LAYOUT is read, not acted
 *   on): the v2 stores being built on them are not wired into the processor or the APIs.
 * In both, every key starts with `<namespace>:`, so `SCAN MATCH <namespace>:*` finds them all.
 *
 * Validation: namespace and tenant are checked here (so is every id that has a pattern of its own:
 * connector, segment and partner ids). The other parts come from checked sources: profile ids
 * from Redis itself (UUIDs the scripts were given) or are filtered before (inventory), identifiers
 * from identifierProblem (normalization, requireIdentifiers), message ids from event validation,
 * feature ids are hashes, frequency subjects and targets from frequency.ts (ACTIVATION_ID_PATTERN).
 */

/**
 * The Redis key prefix of one tenant: `<namespace>:{<tenant>}:`. The hash tag keeps a tenant's
 * keys in one slot so identity and profile updates stay atomic on Redis Cluster; namespace and
 * tenant are validated here, so no unchecked value ever becomes part of a key prefix.
 */
export function tenantPrefix(namespace: string, tenant: string): string {
  return tagged(namespace, tenant, '');
}

/** `<namespace>:{<tenant><rest>}:`, namespace and tenant validated (`rest` is built here, checked). */
function tagged(namespace: string, tenant: string, rest: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant ${JSON.stringify(tenant)}`);
  return `${namespace}:{${tenant}${rest}}:`;
}

/** `<namespace>:tenants`: the set of tenants with segments (read by the segment clock); no hash tag. */
export function tenantsKey(namespace: string): string {
  if (!NAMESPACE_PATTERN.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`);
  return `${namespace}:tenants`;
}

/** A segment id checked before it becomes part of a key (INVALID_ARGUMENT otherwise). */
function segmentId(id: string): string {
  if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `id: must match ${SEGMENT_ID_PATTERN.source}`, { field: 'id' });
  return id;
}

function partnerId(partner: string): string {
  if (!PARTNER_PATTERN.test(partner)) throw new PulseError('INVALID_ARGUMENT', `partner must match ${PARTNER_PATTERN.source}`, { field: 'partner' });
  return partner;
}

/**
 * The keys of one profile's own state: the `p` hash (`version`, `first_seen`, `last_seen`,
 * `merged_into`, `seg_defs`, …) and the structures next to it. v1: `<tenant prefix>p:<pid>` and
 * `…p:<pid>:ids`; v2: `<ns>:{<tenant>:<pid>}:p` and `…:ids`.
 */
class ProfileKeys {
  /** What every key of the profile starts with, up to its hash tag: the tenant's prefix in v1, the profile's own in v2. */
  readonly prefix: string;
  /** The profile's hash. */
  readonly hash: string;
  /** What the sub-keys start with. */
  readonly #parts: string;

  constructor(prefix: string, hash: string, parts: string) {
    this.prefix = prefix;
    this.hash = hash;
    this.#parts = parts;
  }

  /** Set of the profile's identifiers (`type:id`). */
  get ids(): string { return `${this.#parts}ids`; }
  /** Trait name -> JSON value. */
  get traits(): string { return `${this.#parts}traits`; }
  /** Trait name -> the order token of its last write. */
  get tord(): string { return `${this.#parts}tord`; }
  /** Event counters. */
  get counts(): string { return `${this.#parts}counts`; }
  /** Computed traits. */
  get computed(): string { return `${this.#parts}computed`; }
  /** All-time feature totals (`<featureId>|c|s|mn|mx|f|l`). */
  get ftotals(): string { return `${this.#parts}ftotals`; }
  /** Ids of the feature zsets the profile has. */
  get fkeys(): string { return `${this.#parts}fkeys`; }
  /** Segments the profile is in. */
  get segs(): string { return `${this.#parts}segs`; }
  /** Profiles this one must never be merged with again (after an unmerge). */
  get nomerge(): string { return `${this.#parts}nomerge`; }
  /** Frequency zsets of the profile (`<scope>:<target>`), so a merge moves them. */
  get fckeys(): string { return `${this.#parts}fckeys`; }
  /** Occurrences of one feature (a zset, score = event time). */
  feature(featureId: string): string { return `${this.#parts}f:${featureId}`; }
  /** v2: message ids seen (zset, score = when the entry lapses): the profile's de-duplication. */
  get seen(): string { return `${this.#parts}seen`; }
  /** v2: message id -> the result applying it gave (returned again to a redelivery). */
  get applied(): string { return `${this.#parts}applied`; }
  /** v2: identifier -> the profile an unmerge moved it to, while the move is in flight. */
  get movedout(): string { return `${this.#parts}movedout`; }
  /** v2: the profiles this one absorbed, transitively. */
  get merged(): string { return `${this.#parts}merged`; }
  /** v2: loser -> the merge this profile accepted and has not finished absorbing. */
  get absorbing(): string { return `${this.#parts}absorbing`; }
}

/**
 * Every key of one tenant in today's layout (v1): all under `<namespace>:{<tenant>}:`, one hash
 * slot per tenant.
 */
export class TenantKeys {
  /** `<namespace>:{<tenant>}:`, what the Lua scripts get in KEYS[]. */
  readonly prefix: string;

  constructor(namespace: string, tenant: string) {
    this.prefix = tenantPrefix(namespace, tenant);
  }

  /** A profile's own keys: `p:<pid>` and `p:<pid>:<part>`. */
  profile(profileId: string): ProfileKeys {
    const hash = `${this.prefix}p:${profileId}`;
    return new ProfileKeys(this.prefix, hash, `${hash}:`);
  }

  /** `id:<type>:<id>` -> the profile id the identifier belongs to. */
  identifier(idf: Identifier): string { return `${this.prefix}id:${identifierKey(idf)}`; }
  /** `sync:<partner>:<type>:<id>` -> the partner's user id of the person behind the identifier. */
  sync(partner: string, idf: Identifier): string { return `${this.prefix}sync:${partnerId(partner)}:${identifierKey(idf)}`; }
  /** `push:<partner>`: the partner's audience-push delivery status (a hash). */
  push(partner: string): string { return `${this.prefix}push:${partnerId(partner)}`; }

  /** `dedup:<messageId>` -> the profile an event was applied to. */
  dedup(messageId: string): string { return `${this.prefix}dedup:${messageId}`; }
  /** `applied:<messageId>`: what applying an event changed, returned again on a redelivery. */
  applied(messageId: string): string { return `${this.prefix}applied:${messageId}`; }
  /** `fdedup:<messageId>`: the event's features were recorded. */
  fdedup(messageId: string): string { return `${this.prefix}fdedup:${messageId}`; }

  /** `fc:<subject>:<target>` (see frequencySuffix): impressions of a subject, a zset. */
  frequency(subject: string, target: string): string { return `${this.prefix}${frequencySuffix(subject, target)}`; }
  /** `fcaps`: frequency cap id -> JSON. */
  get fcaps(): string { return `${this.prefix}fcaps`; }

  /** `segments`: segment id -> current definition JSON. */
  get segments(): string { return `${this.prefix}segments`; }
  /** `segnames`: segment id -> name (for the lookup script). */
  get segnames(): string { return `${this.prefix}segnames`; }
  /** `segtaxonomy`: segment id -> taxonomy id. */
  get segtaxonomy(): string { return `${this.prefix}segtaxonomy`; }
  /** Bumped by every write of segment names or taxonomy ids (the v2 lookup's catalog cache reloads on a change). */
  get catalogVersion(): string { return `${this.prefix}catalog_v`; }
  /** `seg:<id>:members`: the profiles in a segment. */
  segMembers(segment: string): string { return `${this.prefix}seg:${segmentId(segment)}:members`; }
  /** `segdef:<id>:versions`: a segment's definition versions, oldest first (a list). */
  segmentVersions(segment: string): string { return `${this.prefix}segdef:${segmentId(segment)}:versions`; }
  /** `segdef:<id>:backfill`: progress of the segment's backfill (a hash). */
  backfill(segment: string): string { return `${this.prefix}segdef:${segmentId(segment)}:backfill`; }
  /** `segdef:<id>:backfill-lease`: the process running the backfill. */
  backfillLease(segment: string): string { return `${this.prefix}segdef:${segmentId(segment)}:backfill-lease`; }
  /** `due`: profile id -> when its membership changes with no new event (a zset). */
  get due(): string { return `${this.prefix}due`; }
  /** `profiles`: the tenant's profile index (a set). */
  get profiles(): string { return `${this.prefix}profiles`; }
  /** `merges:refused`: refused merges, newest first (a list). */
  get refusedMerges(): string { return `${this.prefix}merges:refused`; }
  /** `layout`: the tenant's Redis layout marker (a hash: layout, version, buckets, state; per-profile-layout.md §8). */
  get layout(): string { return `${this.prefix}layout`; }

  /** `sharing`: partner id -> sharing agreement JSON. */
  get sharing(): string { return `${this.prefix}sharing`; }
  /** `inventory`: inventory id -> JSON. */
  get inventory(): string { return `${this.prefix}inventory`; }
  /** `placements`: placement id -> inventory id. */
  get placements(): string { return `${this.prefix}placements`; }

  /** `connector:<id>`: a connector's cursor, status and next run (a hash). */
  connector(id: string): string {
    if (!CONNECTOR_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `connector id must match ${CONNECTOR_ID_PATTERN.source}`, { field: 'id' });
    return `${this.prefix}connector:${id}`;
  }

  /** `connector:<id>:lock`: the lease on running the connector. */
  connectorLock(id: string): string { return `${this.connector(id)}:lock`; }
}

/** The keys of one tenant (namespace and tenant validated). */
export function tenantKeys(namespace: string, tenant: string): TenantKeys {
  return new TenantKeys(namespace, tenant);
}

/**
 * `fc:<subject>:<target>`, the part of an impression zset's key after the prefix (what
 * record-impression.lua gets): subject `p:<pid>` or `i:<type>:<id>` (impressionSubjects), target
 * `campaign:<id>` or `creative:<id>` (targetKey).
 */
export function frequencySuffix(subject: string, target: string): string {
  return `fc:${subject}:${target}`;
}

export type { ProfileKeys };

// ---- The `profile` layout (v2): not used by a running Pulse yet (see the top of this file). ----

/** A profile id: a lowercase UUID (randomUUID, or profileIdFor). v2 puts it inside hash tags. */
export const PROFILE_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function profileId(id: string): string {
  if (!PROFILE_ID_PATTERN.test(id)) throw new Error(`invalid profile id ${JSON.stringify(id)}: not a lowercase UUID`);
  return id;
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`: the hash of identifier tags and buckets. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** v2: a profile's own keys, all under `<namespace>:{<tenant>:<pid>}:` (one slot per profile). */
export function profileKeys(namespace: string, tenant: string, pid: string): ProfileKeys {
  const prefix = tagged(namespace, tenant, `:${profileId(pid)}`);
  return new ProfileKeys(prefix, `${prefix}p`, prefix);
}

/**
 * v2: the prefix of an identifier's keys (owner, id syncs, frequency), `<namespace>:{<tenant>:i:<h8>}:`
 * with h8 = fnv1a32(`<type>:<id>`) as 8 lowercase hex digits: a lookup knows the identifier, not
 * the profile, so the slot comes from the identifier alone. The value itself never goes inside the
 * braces (it may hold `{` or `}`). The identifier is validated (identifierProblem).
 */
export function identifierTag(namespace: string, tenant: string, type: string, id: string): string {
  const problem = identifierProblem({ type, id });
  if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', problem, { field: 'identifier' });
  return tagged(namespace, tenant, `:i:${fnv1a32(`${type}:${id}`).toString(16).padStart(8, '0')}`);
}

/** v2: the key of an identifier's owner, `<identifierTag>id:<type>:<id>` -> the profile id. */
export function identifierOwner(namespace: string, tenant: string, idf: Identifier): string {
  return `${identifierTag(namespace, tenant, idf.type, idf.id)}id:${identifierKey(idf)}`;
}

/** v2: `<identifierTag>sync:<partner>:<type>:<id>` -> the partner's user id of the person behind the identifier (§1). */
export function identifierSync(namespace: string, tenant: string, partner: string, idf: Identifier): string {
  return `${identifierTag(namespace, tenant, idf.type, idf.id)}sync:${partnerId(partner)}:${identifierKey(idf)}`;
}

/** v2: an identifier's impressions of a target (`<scope>:<id>`), `<identifierTag>fc:i:<type>:<id>:<target>` (record-impression-v2.lua). */
export function identifierFrequency(namespace: string, tenant: string, idf: Identifier, target: string): string {
  return `${identifierTag(namespace, tenant, idf.type, idf.id)}${frequencySuffix(`i:${identifierKey(idf)}`, target)}`;
}

/** v2: the bucket (0 … buckets-1) of a profile's entries in the cross-profile indexes: fnv1a32(pid) mod buckets. */
export function bucketOf(pid: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_REDIS_BUCKETS) throw new Error(`invalid bucket count ${buckets}: an integer from 1 to ${MAX_REDIS_BUCKETS}`);
  return fnv1a32(profileId(pid)) % buckets;
}

/** v2: one bucket of a tenant's cross-profile indexes, all under `<namespace>:{<tenant>:s<b>}:`. */
class BucketKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** `seg:<id>:members`: the bucket's profiles in a segment. */
  segMembers(segment: string): string { return `${this.prefix}seg:${segmentId(segment)}:members`; }
  /** `due`: when the bucket's profiles are due to be evaluated again. */
  get due(): string { return `${this.prefix}due`; }
  /** `profiles`: the bucket's part of the profile index. */
  get profiles(): string { return `${this.prefix}profiles`; }
  /** `jobs`: the journal of merges (`m|L|S|mid`) and unmerges (`u|P|newPid`) whose profile is in the bucket, scored by start ms. */
  get jobs(): string { return `${this.prefix}jobs`; }
}

export type { BucketKeys };

/** v2: the keys of bucket `bucket` (0 … MAX_REDIS_BUCKETS-1) of a tenant. */
export function bucketKeys(namespace: string, tenant: string, bucket: number): BucketKeys {
  if (!Number.isInteger(bucket) || bucket < 0 || bucket >= MAX_REDIS_BUCKETS) throw new Error(`invalid bucket ${bucket}: an integer from 0 to ${MAX_REDIS_BUCKETS - 1}`);
  return new BucketKeys(tagged(namespace, tenant, `:s${bucket}`));
}

/**
 * v2: the id of the profile an event creates, derived from the event so a redelivery rebuilds the
 * same one (per-profile-layout.md §2.2): the first 16 bytes of SHA-256(tenant ‖ 0x00 ‖ messageId) laid
 * out as a version-8 UUID (RFC 9562 §5.8: version nibble 8, variant bits 10), lowercase. The
 * tenant cannot contain 0x00, so no two (tenant, messageId) pairs hash the same input.
 */
export function profileIdFor(tenant: string, messageId: string): string {
  if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant ${JSON.stringify(tenant)}`);
  if (messageId === '') throw new Error('a message id is required');
  const b = createHash('sha256').update(tenant, 'utf8').update(new Uint8Array([0])).update(messageId, 'utf8').digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x80;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
