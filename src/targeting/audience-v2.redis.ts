import { identifierKey, type Identifier } from '../identity/identifier.ts';
import { defineScript, execPipeline, type RedisClient, type Script } from '../infra/redis.ts';
import { identifierOwner, profileKeys, tenantKeys } from '../profiles/keys.ts';
import { byPriority } from '../profiles/model.ts';
import { CatalogCache, namedSegments, type Catalog, type CatalogCacheOptions } from './catalog.ts';
import { storedConsentOf } from './audience.redis.ts';
import type { Audience, AudienceReader, AudienceRecord } from './store.ts';

/*
 * Audience lookups on the per-profile layout (src/profiles/per-profile-layout.md §5, step 8 of §10): what
 * RedisAudienceReader (lookup.lua) answers, in two round trips, since a person's identifier keys,
 * profile and the tenant's segment names are in different slots:
 *
 *   RT1  GET the owner key of every identifier of every lookup of the tick, and the tenant's
 *        `catalog_v` once per tenant;
 *   RT2  lookup-profile.lua once per distinct (profile, identifier it was found by), in the
 *        profile's slot: its stored consent and segments. A tombstone or an identifier an unmerge
 *        moved out answers `moved`: one more call on the target (rare; at most MAX_HOPS).
 *
 * Segment names and taxonomy ids come from an in-process catalog per tenant (catalog.ts), loaded
 * again when `catalog_v` moved; the version is read before the profiles, so a deleted segment is
 * dropped as lookup.lua drops it. Only single-slot commands: nothing is a cross-slot pipeline, which
 * a Cluster client refuses; the commands of one round trip are issued together, so auto-pipelining
 * (connectRedis) sends them per node in one write.
 */

/** Tombstones and moved-out identifiers followed from one identifier key; the bound guards against a corrupted cycle. */
const MAX_HOPS = 16;

/** The lookups of one tenant waiting for the next flush (identifiers in priority order), and whom to answer. */
interface Batch {
  readonly lookups: Identifier[][];
  readonly waiters: {
    readonly start: number;
    readonly count: number;
    readonly resolve: (r: (AudienceRecord | undefined)[]) => void;
    readonly reject: (e: unknown) => void;
  }[];
}

/** What lookup-profile.lua answered at the end of its hops. */
interface Found {
  readonly profileId: string;
  readonly consent: string;
  readonly segments: readonly string[];
}

/** AudienceReader on the per-profile layout (see the top of this file). */
export class RedisAudienceReaderV2 implements AudienceReader {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #lookup: Script;
  readonly #catalog: CatalogCache;
  readonly #batches = new Map<string, Batch>();
  #flushScheduled = false;

  constructor(redis: RedisClient, namespace: string, options: CatalogCacheOptions = {}) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#lookup = defineScript(redis, 'pulseLookupProfile', new URL('./lookup-profile.lua', import.meta.url), 1);
    this.#catalog = new CatalogCache((tenant) => this.#loadCatalog(tenant), options);
  }

  async audience(tenant: string, identifiers: readonly Identifier[]): Promise<Audience | undefined> {
    const [record] = await this.records(tenant, [identifiers]);
    return record === undefined ? undefined : { profileId: record.profileId, segments: record.segments };
  }

  /** The lookups of every call made in this tick go to Redis together (per tenant). */
  records(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<(AudienceRecord | undefined)[]> {
    if (lookups.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      let batch = this.#batches.get(tenant);
      if (batch === undefined) {
        batch = { lookups: [], waiters: [] };
        this.#batches.set(tenant, batch);
      }
      batch.waiters.push({ start: batch.lookups.length, count: lookups.length, resolve, reject });
      for (const ids of lookups) batch.lookups.push(byPriority(ids));
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batches = [...this.#batches];
    this.#batches.clear();
    for (const [tenant, batch] of batches) void this.#send(tenant, batch);
  }

  /** Answers a batch's callers; a lookup that fails (e.g. a tombstone cycle) fails only the calls that hold it. */
  async #send(tenant: string, batch: Batch): Promise<void> {
    let answers: Promise<AudienceRecord | undefined>[];
    try {
      answers = await this.#answer(tenant, batch.lookups);
    } catch (err) {
      for (const w of batch.waiters) w.reject(err);
      return;
    }
    for (const w of batch.waiters) Promise.all(answers.slice(w.start, w.start + w.count)).then(w.resolve, w.reject);
  }

  /** RT1 for the whole batch, then RT2 per distinct profile: one promise per lookup, in order. */
  async #answer(tenant: string, lookups: readonly (readonly Identifier[])[]): Promise<Promise<AudienceRecord | undefined>[]> {
    const versionRead = this.#redis.get(tenantKeys(this.#namespace, tenant).catalogVersion);
    const pending = new Map<string, Promise<string | null>>();
    for (const ids of lookups) {
      for (const idf of ids) {
        const key = identifierKey(idf);
        if (!pending.has(key)) pending.set(key, this.#owner(tenant, idf));
      }
    }
    const owners = new Map<string, string | null>();
    const [version] = await Promise.all([versionRead, ...[...pending].map(async ([key, read]) => { owners.set(key, await read); })]);

    let catalog: Promise<Catalog> | undefined;
    const reads = new Map<string, Promise<Found>>();
    return lookups.map(async (ids) => {
      // The first identifier by priority that has a profile decides (as lookup.lua).
      for (const idf of ids) {
        const via = identifierKey(idf);
        const owner = owners.get(via);
        if (owner === null || owner === undefined) continue;
        const readKey = `${owner} ${via}`;
        let read = reads.get(readKey);
        if (read === undefined) {
          read = this.#read(tenant, owner, via);
          reads.set(readKey, read);
        }
        catalog ??= this.#catalog.at(tenant, Number(version ?? 0));
        const [found, names] = await Promise.all([read, catalog]);
        return { profileId: found.profileId, segments: namedSegments(names, found.segments), storedConsent: storedConsentOf(found.consent) };
      }
      return undefined;
    });
  }

  /** GET of an identifier's owner key; an identifier that is not valid has no owner (no key could name it). */
  #owner(tenant: string, idf: Identifier): Promise<string | null> {
    let key: string;
    try {
      key = identifierOwner(this.#namespace, tenant, idf);
    } catch {
      return Promise.resolve(null);
    }
    return this.#redis.get(key);
  }

  /** lookup-profile.lua on the owner, then on whatever profile it sends the lookup to. */
  async #read(tenant: string, owner: string, via: string): Promise<Found> {
    let pid = owner;
    for (let hops = 0; hops <= MAX_HOPS; hops++) {
      const r = (await this.#lookup.run([profileKeys(this.#namespace, tenant, pid).prefix], [via])) as string[];
      if (r[0] === 'ok') return { profileId: pid, consent: r[1] ?? '', segments: r.slice(2) };
      const target = r[1] ?? '';
      if (target === '') throw new Error(`lookup of ${via}: profile ${pid} is a tombstone without a survivor`);
      pid = target;
    }
    throw new Error(`lookup of ${via}: more than ${MAX_HOPS} tombstones or moves from profile ${owner}`);
  }

  /** The tenant's names, taxonomy ids and `catalog_v`, read together (one slot: a transaction is allowed on a Cluster). */
  async #loadCatalog(tenant: string): Promise<Catalog> {
    const keys = tenantKeys(this.#namespace, tenant);
    const [names, taxonomy, version] = (await execPipeline(
      this.#redis.multi().hgetall(keys.segnames).hgetall(keys.segtaxonomy).get(tenantKeys(this.#namespace, tenant).catalogVersion),
    )) as [Record<string, string>, Record<string, string>, string | null];
    return { version: Number(version ?? 0), names: new Map(Object.entries(names)), taxonomy: new Map(Object.entries(taxonomy)) };
  }
}

