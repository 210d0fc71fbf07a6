import type { AudienceSegment } from './store.ts';

/*
 * The in-process segment catalog of the per-profile layout's lookups (src/profiles/per-profile-layout.md §5):
 * a tenant's segment names (`segnames`) and taxonomy ids (`segtaxonomy`), which lookup.lua reads
 * in the tenant's slot on every call, kept here per tenant and loaded again when the tenant's
 * `catalog_v` counter (read once per tenant per tick) differs from the version loaded. Pure: the
 * loading is the caller's.
 */

/** A tenant's segment names and taxonomy ids as of one `catalog_v`. */
export interface Catalog {
  readonly version: number;
  /** Segment id -> name; a deleted segment has none. */
  readonly names: ReadonlyMap<string, string>;
  /** Segment id -> IAB Audience Taxonomy node. */
  readonly taxonomy: ReadonlyMap<string, string>;
}

/** Reads a tenant's catalog (names, taxonomy and the version they go with, read together). */
export type CatalogLoader = (tenant: string) => Promise<Catalog>;

export interface CatalogCacheOptions {
  /**
   * A catalog older than this is loaded again even if `catalog_v` did not move: the safety net for
   * a write that did not bump it (default 60 s).
   */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

/** Per tenant: the last catalog loaded, and the load in flight (one at a time per tenant). */
export class CatalogCache {
  readonly #load: CatalogLoader;
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { readonly catalog: Catalog; readonly loadedAt: number }>();
  readonly #loading = new Map<string, Promise<Catalog>>();

  constructor(load: CatalogLoader, options: CatalogCacheOptions = {}) {
    this.#load = load;
    this.#maxAge = options.maxAgeMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** The tenant's catalog when it is loaded at `version` (and not too old), without I/O. */
  current(tenant: string, version: number): Catalog | undefined {
    const e = this.#entries.get(tenant);
    return e !== undefined && e.catalog.version === version && this.#now() - e.loadedAt < this.#maxAge ? e.catalog : undefined;
  }

  /**
   * The tenant's catalog as of `version` (a `catalog_v` just read) or later: the one loaded, or a
   * new load (shared with the other callers meanwhile).
   */
  async at(tenant: string, version: number): Promise<Catalog> {
    const hit = this.current(tenant, version);
    if (hit !== undefined) return hit;
    const inflight = this.#loading.get(tenant);
    if (inflight !== undefined) {
      // A load that started before `version` was read may predate the change: then load again.
      const c = await inflight;
      if (c.version >= version) return c;
    }
    return this.#start(tenant);
  }

  #start(tenant: string): Promise<Catalog> {
    const running = this.#loading.get(tenant);
    if (running !== undefined) return running;
    const started = this.#now();
    const p = this.#load(tenant).then((catalog) => {
      this.#entries.set(tenant, { catalog, loadedAt: started });
      return catalog;
    }).finally(() => {
      if (this.#loading.get(tenant) === p) this.#loading.delete(tenant);
    });
    this.#loading.set(tenant, p);
    return p;
  }
}

/**
 * A profile's segments with their names and taxonomy ids, sorted by id. A segment without a name
 * was deleted and is left out, as lookup.lua leaves it out.
 */
export function namedSegments(catalog: Catalog, segmentIds: readonly string[]): AudienceSegment[] {
  const out: AudienceSegment[] = [];
  for (const id of segmentIds) {
    const name = catalog.names.get(id);
    if (name === undefined) continue;
    const taxonomyId = catalog.taxonomy.get(id);
    out.push(taxonomyId === undefined || taxonomyId === '' ? { id, name } : { id, name, taxonomyId });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
