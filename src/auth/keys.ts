import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PulseError } from '../errors.ts';

/** Scopes a key can carry; `*` grants every scope. */
export const SCOPES = [
  'targeting:read', 'profiles:read', 'profiles:write', 'segments:read', 'segments:write', 'events:write', 'warehouse:read',
  'outcomes:write', 'inventory:write', 'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Tenants become parts of subjects, Redis keys and ClickHouse values. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A credential: the tenant comes from the key, never from the request. */
export interface ApiKey {
  readonly key: string;
  readonly tenant: string;
  readonly scopes: readonly (Scope | '*')[];
  /** The partner (bidder, SSP) the key was issued to; absent for the tenant's own use. */
  readonly partner?: Partner | undefined;
  /** Most gRPC calls (or batched lookups) per second the key may make; absent: unlimited. */
  readonly rateLimit?: number | undefined;
  /**
   * Where the key's writes come from (e.g. `crm`): every event it sends carries this
   * `context.source`, whatever the client wrote, so source-priority trait policies can trust it.
   */
  readonly source?: string | undefined;
}

/** A partner of a tenant: its name in data-sharing agreements and its IAB TCF vendor id. */
export interface Partner {
  readonly id: string;
  readonly iabVendorId?: number | undefined;
}

/** Sources name where trait values come from; they become trait history and priority ranks. */
export const SOURCE_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Partner ids become parts of Redis keys and subjects. */
export const PARTNER_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Who made a call, after authentication. */
export interface Principal {
  readonly tenant: string;
  readonly scopes: readonly (Scope | '*')[];
  /** A short, non-secret fingerprint of the key for logs and audit. */
  readonly keyId: string;
  readonly partner: Partner | undefined;
  readonly rateLimit: number | undefined;
  /** The key's source (ApiKey.source): the provenance its writes carry. */
  readonly source: string | undefined;
}

const apiKeySchema = z.object({
  key: z.string().min(16, 'key must be at least 16 characters'),
  tenant: z.string().regex(TENANT_PATTERN, `tenant must match ${TENANT_PATTERN.source}`),
  scopes: z.array(z.enum([...SCOPES, '*'])).min(1, 'at least one scope'),
  partner: z.object({
    id: z.string().regex(PARTNER_PATTERN, `partner id must match ${PARTNER_PATTERN.source}`),
    iabVendorId: z.int().min(1).max(65535).optional(),
  }).strict().optional(),
  rateLimit: z.number().positive().max(10_000_000).optional(),
  source: z.string().regex(SOURCE_PATTERN, `source must match ${SOURCE_PATTERN.source}`).optional(),
}).strict();

/** Parses a JSON array of keys, reporting every problem with its place. */
export function parseApiKeys(json: string): { ok: true; keys: ApiKey[] } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const result = z.array(apiKeySchema).min(1, 'at least one key').safeParse(data);
  if (!result.success) {
    return { ok: false, problems: result.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`) };
  }
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const [i, k] of result.data.entries()) {
    if (seen.has(k.key)) problems.push(`[${i}].key: duplicate key`);
    seen.add(k.key);
  }
  return problems.length ? { ok: false, problems } : { ok: true, keys: result.data };
}

/** `[0].scopes[1]` for an issue at path [0, 'scopes', 1]. */
function pathOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'keys';
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** A new random admin key (256 bits). */
export function generateKey(): string {
  return `pk_${randomBytes(32).toString('base64url')}`;
}

function fingerprint(key: string): string {
  // One-shot hash: a third of createHash().update().digest() per call, and every call authenticates.
  return hash('sha256', key, 'hex');
}

/**
 * Authenticates bearer keys. Keys are held by their SHA-256, so lookups neither compare secrets
 * byte by byte nor keep plain keys in the lookup table.
 */
export class KeyRing {
  readonly #byHash = new Map<string, Principal>();

  constructor(keys: readonly ApiKey[]) {
    for (const k of keys) {
      const hash = fingerprint(k.key);
      this.#byHash.set(hash, { tenant: k.tenant, scopes: k.scopes, keyId: hash.slice(0, 12), partner: k.partner, rateLimit: k.rateLimit, source: k.source });
    }
  }

  /** The principal for an `authorization` header value; UNAUTHENTICATED when absent or unknown. */
  authenticate(authorization: string | undefined): Principal {
    if (authorization === undefined || authorization === '') throw new PulseError('UNAUTHENTICATED', 'missing authorization: Bearer <key>');
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (m?.[1] === undefined) throw new PulseError('UNAUTHENTICATED', 'authorization must be "Bearer <key>"');
    const principal = this.#byHash.get(fingerprint(m[1]));
    if (principal === undefined) throw new PulseError('UNAUTHENTICATED', 'unknown key');
    return principal;
  }

  /** Like authenticate, then PERMISSION_DENIED unless the key has `scope` (or `*`). */
  authorize(authorization: string | undefined, scope: Scope): Principal {
    return requireScope(this.authenticate(authorization), scope);
  }

  /**
   * Segment-style credentials: `authorization: Basic base64(<write key>:)`, the key as the user and
   * the password ignored. UNAUTHENTICATED when absent or unknown, PERMISSION_DENIED without `scope`.
   */
  authorizeBasic(authorization: string | undefined, scope: Scope): Principal {
    if (authorization === undefined || authorization === '') throw new PulseError('UNAUTHENTICATED', 'missing authorization: Basic base64(<write key>:)');
    const m = /^Basic\s+([A-Za-z0-9+/=_-]+)$/i.exec(authorization.trim());
    if (m?.[1] === undefined) throw new PulseError('UNAUTHENTICATED', 'authorization must be "Basic base64(<write key>:)"');
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const key = colon < 0 ? decoded : decoded.slice(0, colon);
    const principal = key === '' ? undefined : this.#byHash.get(fingerprint(key));
    if (principal === undefined) throw new PulseError('UNAUTHENTICATED', 'unknown write key');
    return requireScope(principal, scope);
  }
}

function requireScope(principal: Principal, scope: Scope): Principal {
  if (!principal.scopes.includes('*') && !principal.scopes.includes(scope)) {
    throw new PulseError('PERMISSION_DENIED', `key lacks scope ${scope}`);
  }
  return principal;
}
