import { identifierKey, type Identifier } from '../identity/identifier.ts';
import type { SharingAgreement } from './sharing.ts';
import type { Audience, AudienceReader, AudienceRecord } from './store.ts';

/** Bounds of the near-cache. */
export interface NearCacheOptions {
  /** Most entries kept; the least recently used goes first (default 100,000). */
  readonly maxEntries?: number;
  /** Safety net for a change that was never announced (default 30 s). */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly tenant: string;
  readonly record: AudienceRecord;
  readonly expires: number;
  /** The insertion count when the entry was last put at the newest end. */
  readonly seq: number;
}

/**
 * An in-process LRU of lookup (tenant + identifiers) -> audience record, in front of an
 * AudienceReader. Only known people are cached: a person unknown now may appear with the next
 * event, and nothing announces that. Invalidation comes from the change feed (invalidation.nats.ts):
 * a profile's entries through a reverse index profile -> keys, or a whole tenant.
 *
 * A read that started before an invalidation of its tenant is returned but not cached (a
 * per-tenant epoch), so a slow Redis answer never re-inserts what a change just removed.
 */
export class NearCache implements AudienceReader {
  readonly #reader: AudienceReader;
  readonly #max: number;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #byProfile = new Map<string, Set<string>>();
  readonly #epochs = new Map<string, number>();
  readonly #agreements = new Map<string, { tenant: string; agreement: SharingAgreement; expires: number }>();
  #enabled = true;
  /** Entries put at the newest end so far. */
  #seq = 0;
  #hits = 0;
  #misses = 0;

  constructor(reader: AudienceReader, options: NearCacheOptions = {}) {
    this.#reader = reader;
    this.#max = options.maxEntries ?? 100_000;
    this.#ttl = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  async audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined> {
    const [record] = await this.records(tenant, [identifiers]);
    return record === undefined ? undefined : { profileId: record.profileId, segments: record.segments };
  }

  cached(tenant: string, identifiers: readonly Identifier[]): AudienceRecord | undefined {
    const record = this.#hit(cacheKey(tenant, identifiers), this.#now());
    if (record !== undefined) this.#hits++;
    return record;
  }

  async records(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<(AudienceRecord | undefined)[]> {
    const out: (AudienceRecord | undefined)[] = new Array<AudienceRecord | undefined>(lookups.length);
    const missing: number[] = [];
    const keys: string[] = new Array<string>(lookups.length);
    const now = this.#now();
    for (let i = 0; i < lookups.length; i++) {
      const key = cacheKey(tenant, lookups[i] ?? []);
      keys[i] = key;
      const record = this.#hit(key, now);
      if (record === undefined) missing.push(i);
      else out[i] = record;
    }
    this.#hits += lookups.length - missing.length;
    this.#misses += missing.length;
    if (missing.length === 0) return out;
    const epoch = this.#epochs.get(tenant) ?? 0;
    const fetched = await this.#reader.records(tenant, missing.map((i) => lookups[i] ?? []));
    const cacheable = this.#enabled && (this.#epochs.get(tenant) ?? 0) === epoch;
    missing.forEach((i, j) => {
      const record = fetched[j];
      out[i] = record;
      if (record !== undefined && cacheable) this.#store(keys[i] ?? '', tenant, record);
    });
    return out;
  }

  /** A partner's data-sharing agreement, cached like audiences and dropped with its tenant. */
  async agreement(tenant: string, partner: string, load: () => Promise<SharingAgreement>): Promise<SharingAgreement> {
    const key = `${tenant}\u0000${partner}`;
    const hit = this.#agreements.get(key);
    if (hit !== undefined && hit.expires > this.#now()) return hit.agreement;
    const epoch = this.#epochs.get(tenant) ?? 0;
    const agreement = await load();
    if (this.#enabled && (this.#epochs.get(tenant) ?? 0) === epoch) this.#agreements.set(key, { tenant, agreement, expires: this.#now() + this.#ttl });
    return agreement;
  }

  /** Drops every entry of a profile (its segments, consent or identifiers changed). */
  invalidateProfile(tenant: string, profileId: string): void {
    this.#bump(tenant);
    const index = profileIndexKey(tenant, profileId);
    const keys = this.#byProfile.get(index);
    if (keys === undefined) return;
    for (const key of [...keys]) this.#remove(key);
    this.#byProfile.delete(index);
  }

  /** Drops every entry of a tenant (a change that can touch any profile, e.g. data sharing). */
  invalidateTenant(tenant: string): void {
    this.#bump(tenant);
    for (const [key, e] of this.#entries) if (e.tenant === tenant) this.#remove(key);
    for (const [key, a] of this.#agreements) if (a.tenant === tenant) this.#agreements.delete(key);
  }

  /** Drops everything; while disabled nothing is cached (the change feed has a gap). */
  clear(enabled = true): void {
    for (const tenant of new Set([...this.#epochs.keys(), ...[...this.#entries.values()].map((e) => e.tenant)])) this.#bump(tenant);
    this.#entries.clear();
    this.#byProfile.clear();
    this.#agreements.clear();
    this.#enabled = enabled;
  }

  /** Entries, hits and misses since start. */
  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.#entries.size, hits: this.#hits, misses: this.#misses };
  }

  /** The live entry's record; an expired entry is removed. */
  #hit(key: string, now: number): AudienceRecord | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= now) {
      this.#remove(key);
      return undefined;
    }
    // Map order is recency order: re-inserting makes the entry the newest. An entry put there
    // within the last quarter of the capacity's insertions is left where it is (it cannot be
    // evicted before as many insertions again), so a hot entry costs one Map lookup, not three.
    if (this.#seq - e.seq > this.#max / 4) {
      this.#entries.delete(key);
      this.#entries.set(key, { ...e, seq: ++this.#seq });
    }
    return e.record;
  }

  #bump(tenant: string): void {
    this.#epochs.set(tenant, (this.#epochs.get(tenant) ?? 0) + 1);
  }

  #store(key: string, tenant: string, record: AudienceRecord): void {
    this.#remove(key);
    this.#entries.set(key, { tenant, record, expires: this.#now() + this.#ttl, seq: ++this.#seq });
    const index = profileIndexKey(tenant, record.profileId);
    let keys = this.#byProfile.get(index);
    if (keys === undefined) this.#byProfile.set(index, (keys = new Set()));
    keys.add(key);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#remove(oldest.value);
    }
  }

  #remove(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    const index = profileIndexKey(e.tenant, e.record.profileId);
    const keys = this.#byProfile.get(index);
    keys?.delete(key);
    if (keys?.size === 0) this.#byProfile.delete(index);
  }
}

// NUL cannot occur in tenants or identifiers (identifierProblem refuses control characters).
function cacheKey(tenant: string, ids: readonly Identifier[]): string {
  let key = tenant;
  for (const id of ids) key += `\u0000${identifierKey(id)}`;
  return key;
}

function profileIndexKey(tenant: string, profileId: string): string {
  return `${tenant}\u0000${profileId}`;
}
