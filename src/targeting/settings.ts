import { z } from 'zod';
import { TENANT_PATTERN } from '../auth/keys.ts';
import { DEFAULT_REQUIRED_PURPOSES } from './partner-consent.ts';
import { SEGTAX_IAB_AUDIENCE_1_1 } from './openrtb.ts';

/** How a tenant's audiences go to partners. */
export interface TargetingSettings {
  /** TCF purposes a partner needs consent for (default 3 and 4). */
  readonly requiredPurposes: readonly number[];
  /** `user.data[].ext.segtax` of the tenant's own segments in enriched bid requests. */
  readonly segtax: number;
  /** `user.data[].name` (and id) in enriched bid requests. */
  readonly dataName: string;
}

/** Settings of every tenant unless configured otherwise. */
export const DEFAULT_TARGETING_SETTINGS: TargetingSettings = Object.freeze({ requiredPurposes: DEFAULT_REQUIRED_PURPOSES, segtax: 600, dataName: 'pulse' });

/** Targeting settings of a deployment: the default and per-tenant overrides. */
export interface TargetingPolicies {
  readonly defaults: TargetingSettings;
  readonly tenants: Readonly<Record<string, TargetingSettings>>;
}

const partial = z.object({
  requiredPurposes: z.array(z.int().min(1).max(11)).max(11).optional(),
  segtax: z.int().min(1).refine((n) => n !== SEGTAX_IAB_AUDIENCE_1_1, `${SEGTAX_IAB_AUDIENCE_1_1} is IAB Audience Taxonomy 1.1, written from segments' taxonomy ids`).optional(),
  dataName: z.string().min(1).max(256).optional(),
}).strict();

/**
 * Parses PULSE_TARGETING: a JSON object from tenant (or `*` for every other tenant) to partial
 * settings, e.g. `{"*": {"segtax": 600}, "acme": {"requiredPurposes": [1, 3, 4], "dataName": "acme.example"}}`.
 */
export function parseTargetingPolicies(json: string): { ok: true; policies: TargetingPolicies } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const result = z.record(z.string(), partial).safeParse(data);
  if (!result.success) return { ok: false, problems: result.error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : 'settings'}: ${i.message}`) };
  const problems = Object.keys(result.data).filter((k) => k !== '*' && !TENANT_PATTERN.test(k)).map((k) => `${k}: keys are "*" or tenants matching ${TENANT_PATTERN.source}`);
  if (problems.length > 0) return { ok: false, problems };
  const merge = (base: TargetingSettings, p: z.infer<typeof partial>): TargetingSettings => Object.freeze({
    requiredPurposes: Object.freeze([...new Set(p.requiredPurposes ?? base.requiredPurposes)].sort((a, b) => a - b)),
    segtax: p.segtax ?? base.segtax,
    dataName: p.dataName ?? base.dataName,
  });
  const defaults = merge(DEFAULT_TARGETING_SETTINGS, result.data['*'] ?? {});
  const tenants: Record<string, TargetingSettings> = {};
  for (const [tenant, p] of Object.entries(result.data)) if (tenant !== '*') tenants[tenant] = merge(defaults, p);
  return { ok: true, policies: Object.freeze({ defaults, tenants: Object.freeze(tenants) }) };
}

/** The settings that apply to `tenant`. */
export function targetingSettingsFor(policies: TargetingPolicies, tenant: string): TargetingSettings {
  return Object.hasOwn(policies.tenants, tenant) ? policies.tenants[tenant] ?? policies.defaults : policies.defaults;
}
