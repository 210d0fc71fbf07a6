import { MAX_REDIS_BUCKETS, REDIS_LAYOUTS, type RedisLayout } from '../config/config.ts';
import { PulseError } from '../errors.ts';
import { defineScript, type RedisClient, type Script } from '../infra/redis.ts';
import { tenantKeys } from './keys.ts';

/*
 * The per-tenant layout marker `{t}:layout` (src/profiles/per-profile-layout.md §8), a hash:
 * `layout` (tenant | profile), `version` (1 | 2, the same fact as a number), `buckets` (the bucket
 * count of the profile layout, fixed once written) and `state` (done | migrating). The marker is
 * authoritative: a process whose configured layout (PULSE_REDIS_LAYOUT) disagrees with it does
 * not write the tenant, and while `pulse migrate redis-layout` runs (`migrating`) nobody does:
 * the v1 write scripts check the marker themselves (they share its `{t}` slot) and answer `paused`.
 */

/** The layout version stored with each layout. */
export const LAYOUT_VERSION: Readonly<Record<RedisLayout, 1 | 2>> = { tenant: 1, profile: 2 };

/** A tenant's marker. */
export interface TenantLayout {
  readonly layout: RedisLayout;
  readonly version: 1 | 2;
  readonly buckets: number;
  readonly state: 'done' | 'migrating';
}

/** How long a writer refused by the marker should wait before the message comes again (§8: nak with 5 s). */
export const LAYOUT_RETRY_MS = 5_000;

/** Whether a process configured for one layout may write a tenant, from the tenant's marker. */
export type LayoutCheck =
  | { readonly ok: true; readonly marker: TenantLayout }
  /** `migrating`: the tenant is being migrated; `mismatch`: it is in the other layout than this process writes. */
  | { readonly ok: false; readonly reason: 'migrating' | 'mismatch'; readonly marker: TenantLayout };

const refusals = new WeakSet<PulseError>();

/**
 * The error a write to a tenant the marker keeps from this process fails with (UNAVAILABLE: retry
 * later). The processor naks its batch with LAYOUT_RETRY_MS; isLayoutRefusal tells it apart.
 */
export function layoutRefusal(tenant: string, reason: 'migrating' | 'mismatch'): PulseError {
  const err = new PulseError('UNAVAILABLE', reason === 'migrating'
    ? `tenant ${tenant} is paused while its Redis layout is migrated`
    : `tenant ${tenant} is in another Redis layout than this process writes (PULSE_REDIS_LAYOUT)`);
  refusals.add(err);
  return err;
}

/** Whether `err` is a layoutRefusal (a v1 script's `paused`, or a LayoutCheck refusal thrown). */
export function isLayoutRefusal(err: unknown): boolean {
  return err instanceof PulseError && refusals.has(err);
}

/** The answer of a v1 write script (a reply, or a pipeline's replies) checked for `paused`: throws layoutRefusal. */
export function throwIfPaused<T>(tenant: string, reply: T): T {
  const paused = (r: unknown): boolean => Array.isArray(r) && r.length === 1 && r[0] === 'paused';
  if (paused(reply) || (Array.isArray(reply) && reply.some(paused))) throw layoutRefusal(tenant, 'migrating');
  return reply;
}

/** Reads a marker's fields; undefined when there is none. Throws on a marker Pulse did not write. */
export function parseLayout(fields: Record<string, string>): TenantLayout | undefined {
  if (Object.keys(fields).length === 0) return undefined;
  const { layout, version, buckets, state } = fields;
  const n = Number(buckets);
  if (!(REDIS_LAYOUTS as readonly (string | undefined)[]).includes(layout) || version !== String(LAYOUT_VERSION[layout as RedisLayout])
    || !Number.isInteger(n) || n < 1 || n > MAX_REDIS_BUCKETS || (state !== 'done' && state !== 'migrating')) {
    throw new Error(`invalid Redis layout marker ${JSON.stringify(fields)}`);
  }
  return { layout: layout as RedisLayout, version: LAYOUT_VERSION[layout as RedisLayout], buckets: n, state };
}

export interface TenantLayoutsOptions {
  /** The layout this process writes (PULSE_REDIS_LAYOUT): what a new tenant gets. */
  readonly layout: RedisLayout;
  /** Buckets a new tenant gets (PULSE_REDIS_BUCKETS). */
  readonly buckets: number;
  /** How long a marker read is reused (default 1 s: a change is seen within it). */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** The tenants' layout markers, read through a short per-process cache. */
export class TenantLayouts {
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #options: TenantLayoutsOptions;
  readonly #claim: Script;
  readonly #cache = new Map<string, { at: number; marker: TenantLayout | undefined }>();

  constructor(redis: RedisClient, namespace: string, options: TenantLayoutsOptions) {
    this.#redis = redis;
    this.#namespace = namespace;
    this.#options = options;
    this.#claim = defineScript(redis, 'pulseLayoutClaim', new URL('./layout-claim.lua', import.meta.url), 1);
  }

  #cached(tenant: string): { marker: TenantLayout | undefined } | undefined {
    const hit = this.#cache.get(tenant);
    const now = (this.#options.now ?? Date.now)();
    return hit !== undefined && now - hit.at < (this.#options.cacheMs ?? 1_000) ? hit : undefined;
  }

  #remember(tenant: string, marker: TenantLayout | undefined): TenantLayout | undefined {
    this.#cache.set(tenant, { at: (this.#options.now ?? Date.now)(), marker });
    return marker;
  }

  /** The tenant's marker (cached), undefined when nothing was ever written for it. */
  async read(tenant: string): Promise<TenantLayout | undefined> {
    const hit = this.#cached(tenant);
    if (hit !== undefined) return hit.marker;
    return this.#remember(tenant, parseLayout(await this.#redis.hgetall(tenantKeys(this.#namespace, tenant).layout)));
  }

  /**
   * The tenant's marker, set to this process's layout and buckets if the tenant has none (its first
   * write): atomically, so the first writer decides and later ones read its choice. A tenant with
   * profiles already in the tenant layout is marked `tenant` (layout-claim.lua).
   */
  async claim(tenant: string): Promise<TenantLayout> {
    const known = await this.read(tenant);
    if (known !== undefined) return known;
    const { layout, buckets } = this.#options;
    const flat = await this.#claim.run([tenantKeys(this.#namespace, tenant).prefix], [layout, LAYOUT_VERSION[layout], buckets]) as string[];
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] ?? ''] = flat[i + 1] ?? '';
    const marker = parseLayout(fields);
    if (marker === undefined) throw new Error('layout-claim.lua left no marker');
    this.#remember(tenant, marker);
    return marker;
  }

  /**
   * What a writer asks before writing a tenant (claiming the marker at the first write): refused
   * while the tenant migrates, or when the marker's layout is not this process's. The caller
   * naks with LAYOUT_RETRY_MS and logs an error (assertWritable throws the error to do it with).
   */
  async check(tenant: string): Promise<LayoutCheck> {
    const marker = await this.claim(tenant);
    if (marker.state === 'migrating') return { ok: false, reason: 'migrating', marker };
    if (marker.layout !== this.#options.layout) return { ok: false, reason: 'mismatch', marker };
    return { ok: true, marker };
  }

  /** check(), throwing layoutRefusal when refused; the marker when the tenant may be written. */
  async assertWritable(tenant: string): Promise<TenantLayout> {
    const c = await this.check(tenant);
    if (!c.ok) throw layoutRefusal(tenant, c.reason);
    return c.marker;
  }

  /** Drops the cached marker of a tenant (after this process changed it). */
  forget(tenant: string): void {
    this.#cache.delete(tenant);
  }
}
