import type { PulseEvent } from '../collection/event.ts';
import type { Json, JsonObject } from '../json.ts';
import { counterName } from './model.ts';

/** How a trait resolves conflicting writes. Every policy gives the same result in any event order. */
export const TRAIT_POLICIES = ['lww', 'first', 'priority', 'max', 'min', 'add_to_set', 'increment'] as const;
export type TraitPolicyKind = (typeof TRAIT_POLICIES)[number];

/** The policy of one trait; `priority` lists sources from the most to the least trusted. */
export interface TraitPolicy {
  readonly policy: TraitPolicyKind;
  readonly priority: readonly string[];
}

/** A trait computed from events: the sum of a numeric property, or its most frequent value. */
export type ComputedTrait =
  | { readonly kind: 'sum'; readonly property: string; readonly event: string | undefined }
  | { readonly kind: 'mostFrequent'; readonly property: string; readonly event: string | undefined };

/** Trait policies and computed traits of one tenant. */
export interface TenantProfilePolicy {
  readonly traits: Readonly<Record<string, TraitPolicy>>;
  readonly computed: Readonly<Record<string, ComputedTrait>>;
}

/** Policies per tenant; `*` applies to tenants without their own entry. */
export type ProfilePolicies = ReadonlyMap<string, TenantProfilePolicy>;

/** Identity guardrails: identifiers of one type a profile may hold, and identifiers in total. */
export interface IdentityLimits {
  readonly perType: Readonly<Record<string, number>>;
  readonly maxIdentifiers: number;
}

/** By default a profile holds one user_id, so a shared device never fuses two customers. */
export const DEFAULT_IDENTITY_LIMITS: IdentityLimits = Object.freeze({ perType: Object.freeze({ user_id: 1 }), maxIdentifiers: 100 });

/** Last write wins for every trait, nothing computed: the behaviour of a tenant without policies. */
export const NO_POLICY: TenantProfilePolicy = Object.freeze({ traits: Object.freeze({}), computed: Object.freeze({}) });

// Names become Redis hash fields with `|` and newlines as separators, so those are excluded.
const NAME = /^[^|\n\p{Cc}]{1,128}$/u;
const SOURCE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const TENANT_KEY = /^(\*|[a-z0-9][a-z0-9_-]{0,63})$/;

/** The result of parsing PULSE_TRAIT_POLICIES: the policies, or every problem found. */
export type ParsedPolicies = { readonly ok: true; readonly policies: ProfilePolicies } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Parses `{"<tenant>|*": {"<trait>": {"policy": ..., "priority": [...]}, "computed": {"<name>":
 * {"sum"|"mostFrequent": "<property>", "event"?: "<event name>"}}}}`, reporting every problem with
 * its path. `computed` is reserved: a trait of that name keeps the default policy.
 */
export function parseProfilePolicies(text: string): ParsedPolicies {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`not JSON: ${(err as Error).message}`] };
  }
  if (!isObject(raw)) return { ok: false, problems: ['must be an object keyed by tenant (or "*")'] };
  const problems: string[] = [];
  const policies = new Map<string, TenantProfilePolicy>();
  for (const [tenant, body] of Object.entries(raw)) {
    if (!TENANT_KEY.test(tenant)) problems.push(`${tenant}: not a tenant name or "*"`);
    if (!isObject(body)) {
      problems.push(`${tenant}: must be an object of trait policies`);
      continue;
    }
    const traits: Record<string, TraitPolicy> = {};
    const computed: Record<string, ComputedTrait> = {};
    for (const [name, spec] of Object.entries(body)) {
      if (name === 'computed') {
        parseComputed(`${tenant}.computed`, spec, computed, problems);
        continue;
      }
      const at = `${tenant}.${name}`;
      if (!NAME.test(name)) problems.push(`${at}: trait names are 1-128 characters without "|" or control characters`);
      const policy = parseTraitPolicy(at, spec, problems);
      if (policy !== undefined) traits[name] = policy;
    }
    for (const name of Object.keys(computed)) {
      if (traits[name] !== undefined) problems.push(`${tenant}.computed.${name}: also has a trait policy; a computed trait replaces the stored trait of that name`);
    }
    policies.set(tenant, Object.freeze({ traits: Object.freeze(traits), computed: Object.freeze(computed) }));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policies };
}

function parseTraitPolicy(at: string, spec: unknown, problems: string[]): TraitPolicy | undefined {
  if (!isObject(spec)) {
    problems.push(`${at}: must be {"policy": "${TRAIT_POLICIES.join('"|"')}"}`);
    return undefined;
  }
  for (const key of Object.keys(spec)) {
    if (key !== 'policy' && key !== 'priority') problems.push(`${at}.${key}: unknown field (known: policy, priority)`);
  }
  const policy = spec['policy'];
  if (typeof policy !== 'string' || !(TRAIT_POLICIES as readonly string[]).includes(policy)) {
    problems.push(`${at}.policy: must be one of ${TRAIT_POLICIES.join(', ')}`);
    return undefined;
  }
  const priority = spec['priority'];
  if (policy === 'priority') {
    if (!Array.isArray(priority) || priority.length === 0 || priority.length > 99) {
      problems.push(`${at}.priority: a list of 1-99 sources, most trusted first (e.g. ["crm", "web"])`);
      return undefined;
    }
    const bad = priority.findIndex((s) => typeof s !== 'string' || !SOURCE.test(s));
    if (bad >= 0) {
      problems.push(`${at}.priority[${bad}]: a source name matching ${SOURCE.source}`);
      return undefined;
    }
    if (new Set(priority).size !== priority.length) problems.push(`${at}.priority: lists a source twice`);
    return { policy, priority: Object.freeze([...priority as string[]]) };
  }
  if (priority !== undefined) problems.push(`${at}.priority: only for policy "priority"`);
  return { policy: policy as TraitPolicyKind, priority: [] };
}

function parseComputed(at: string, spec: unknown, out: Record<string, ComputedTrait>, problems: string[]): void {
  if (!isObject(spec)) {
    problems.push(`${at}: must be an object of computed traits`);
    return;
  }
  for (const [name, def] of Object.entries(spec)) {
    const here = `${at}.${name}`;
    if (!NAME.test(name)) problems.push(`${here}: names are 1-128 characters without "|" or control characters`);
    if (!isObject(def)) {
      problems.push(`${here}: must be {"sum": "<property>"} or {"mostFrequent": "<property>"}, with an optional "event"`);
      continue;
    }
    for (const key of Object.keys(def)) {
      if (!['sum', 'mostFrequent', 'event'].includes(key)) problems.push(`${here}.${key}: unknown field (known: sum, mostFrequent, event)`);
    }
    const event = def['event'];
    if (event !== undefined && (typeof event !== 'string' || event === '')) problems.push(`${here}.event: a non-empty event name`);
    const kinds = (['sum', 'mostFrequent'] as const).filter((k) => def[k] !== undefined);
    const kind = kinds[0];
    if (kinds.length !== 1 || kind === undefined) {
      problems.push(`${here}: exactly one of "sum" or "mostFrequent"`);
      continue;
    }
    const property = def[kind];
    if (typeof property !== 'string' || property === '') {
      problems.push(`${here}.${kind}: a property name`);
      continue;
    }
    out[name] = { kind, property, event: typeof event === 'string' ? event : undefined };
  }
}

/** The result of parsing PULSE_IDENTITY_LIMITS. */
export type ParsedLimits = { readonly ok: true; readonly perType: Readonly<Record<string, number>> } | { readonly ok: false; readonly problems: readonly string[] };

/** Parses `{"user_id": 1, "email_sha256": 3}`: the most identifiers of each type one profile holds. */
export function parseIdentityLimits(text: string): ParsedLimits {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`not JSON: ${(err as Error).message}`] };
  }
  if (!isObject(raw)) return { ok: false, problems: ['must be an object {"<identifier type>": <limit>}'] };
  const problems: string[] = [];
  const perType: Record<string, number> = {};
  for (const [type, n] of Object.entries(raw)) {
    if (!/^[a-z0-9_:-]{1,64}$/.test(type)) problems.push(`${type}: not an identifier type`);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) problems.push(`${type}: the limit must be an integer from 1 to 10000`);
    else perType[type] = n;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, perType: Object.freeze(perType) };
}

/** The policy of a tenant: its own entry, else `*`, else last-write-wins for everything. */
export function policyFor(policies: ProfilePolicies, tenant: string): TenantProfilePolicy {
  return policies.get(tenant) ?? policies.get('*') ?? NO_POLICY;
}

/** Policy codes as apply-event.lua reads them. */
const LUA_CODE: Record<TraitPolicyKind, string> = {
  lww: 'lww', first: 'first', priority: 'prio', max: 'max', min: 'min', add_to_set: 'set', increment: 'incr',
};

/**
 * The compact policy table apply-event.lua takes: `n, (trait, code, priority rank list)...` where
 * the rank list is the sources joined by newlines. Traits not listed are last-write-wins.
 */
export function policyTable(policy: TenantProfilePolicy): string[] {
  const entries = Object.entries(policy.traits);
  return [String(entries.length), ...entries.flatMap(([name, p]) => [name, LUA_CODE[p.policy], p.priority.join('\n')])];
}

/** Numbers are summed in millionths as integers: exact, so any order of additions gives the same sum. */
export const MICROS = 1_000_000;

function micros(v: Json | undefined): string | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  const m = Math.round(v * MICROS);
  return Number.isSafeInteger(m) ? String(m) : undefined;
}

/**
 * The trait writes of an event as apply-event.lua takes them: `name, encoded value` pairs. The
 * encoding follows the trait's policy: JSON for last/first/priority writes, the number for max/min,
 * an integer in millionths for increments, and the set elements as JSON joined by newlines for
 * add-to-set (JSON text never holds a raw newline). Values a policy cannot use (a string for max)
 * are dropped.
 */
export function traitWrites(policy: TenantProfilePolicy, traits: JsonObject): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(traits)) {
    const p = policy.traits[name]?.policy ?? 'lww';
    if (policy.computed[name] !== undefined || !NAME.test(name)) continue;
    let encoded: string | undefined;
    switch (p) {
      case 'lww': case 'first': case 'priority':
        encoded = JSON.stringify(value);
        break;
      case 'max': case 'min':
        encoded = typeof value === 'number' && Number.isFinite(value) ? JSON.stringify(value) : undefined;
        break;
      case 'increment':
        encoded = micros(value);
        break;
      case 'add_to_set': {
        const items = (Array.isArray(value) ? value : [value]).map((x) => JSON.stringify(x));
        encoded = items.length === 0 ? undefined : [...new Set(items)].join('\n');
        break;
      }
    }
    if (encoded !== undefined) out.push(name, encoded);
  }
  return out;
}

/** The source an event came from, for source-priority policies: `context.source`, else `context.channel`. */
export function eventSource(e: PulseEvent): string {
  const s = e.context['source'] ?? e.context['channel'];
  return typeof s === 'string' ? s.toLowerCase() : '';
}

/**
 * What an event adds to computed traits, as apply-event.lua takes it: `kind, name, value` triples,
 * `s` (add millionths to a sum) or `m` (count one occurrence of a value).
 */
export function computedWrites(policy: TenantProfilePolicy, e: PulseEvent): string[] {
  const out: string[] = [];
  const name = counterName(e);
  for (const [trait, c] of Object.entries(policy.computed)) {
    if (c.event !== undefined && c.event !== name) continue;
    const v = e.properties[c.property];
    if (c.kind === 'sum') {
      const m = micros(v);
      if (m !== undefined) out.push('s', trait, m);
    } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const s = String(v);
      if (!s.includes('\n') && s.length <= 256) out.push('m', trait, s);
    }
  }
  return out;
}

/** A profile's `traits` hash as read from Redis: each value is JSON. */
export function decodeTraits(raw: Readonly<Record<string, string>>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(raw)) out[k] = JSON.parse(v) as Json;
  return out;
}

/** A profile's `counts` hash as read from Redis. */
export function decodeCounts(raw: Readonly<Record<string, string>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) out[k] = Number(v);
  return out;
}

/** The identity guardrails as the profile scripts take them: max identifiers, n, (type, limit)... */
export function limitArgs(limits: IdentityLimits): string[] {
  const perType = Object.entries(limits.perType);
  return [String(limits.maxIdentifiers), String(perType.length), ...perType.flatMap(([t, n]) => [t, String(n)])];
}

/**
 * Computed traits from the `computed` hash: `s|<name>` holds a sum in millionths, `m|<name>|<value>`
 * the count of one value; the most frequent value wins, ties going to the smaller value so every
 * reader agrees.
 */
export function decodeComputed(raw: Readonly<Record<string, string>>): JsonObject {
  const out: JsonObject = {};
  const best = new Map<string, { value: string; count: number }>();
  for (const [field, v] of Object.entries(raw)) {
    if (field.startsWith('s|')) {
      out[field.slice(2)] = Number(v) / MICROS;
    } else if (field.startsWith('m|')) {
      const cut = field.indexOf('|', 2);
      if (cut < 0) continue;
      const name = field.slice(2, cut);
      const value = field.slice(cut + 1);
      const count = Number(v);
      const cur = best.get(name);
      if (cur === undefined || count > cur.count || (count === cur.count && value < cur.value)) best.set(name, { value, count });
    }
  }
  for (const [name, b] of best) out[name] = b.value;
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
