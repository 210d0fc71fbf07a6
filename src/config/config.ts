import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { parseApiKeys, type ApiKey } from '../auth/keys.ts';
import { parsePushPartners, type PushPartner } from '../activation/audience-push.ts';
import { parseConnectors, type ConnectorDefinition } from '../collection/connectors/model.ts';
import { DEFAULT_NORMALIZE_OPTIONS, isPhoneRegion, type NormalizeOptions } from '../collection/normalize.ts';
import { DEFAULT_TARGETING_SETTINGS, parseTargetingPolicies, type TargetingPolicies } from '../targeting/settings.ts';
import { DEFAULT_CONSENT_SETTINGS, parseConsentPolicies, type ConsentSettings } from '../privacy/consent.ts';
import { DEFAULT_IDENTITY_LIMITS, parseIdentityLimits, parseProfilePolicies, type IdentityLimits, type ProfilePolicies } from '../profiles/policy.ts';

/** Validated, frozen configuration of one Pulse process. */
export interface Config {
  readonly natsUrl: string;
  /** True when PULSE_NATS_URL was not given: `start` may run a local nats-server. */
  readonly natsDefaulted: boolean;
  readonly redisUrl: string;
  readonly redisDefaulted: boolean;
  /** PULSE_REDIS_URL lists the seed nodes of a Redis Cluster (PULSE_REDIS_CLUSTER=true). */
  readonly redisCluster: boolean;
  /**
   * Redis key layout of new tenants (PULSE_REDIS_LAYOUT): `tenant`, one hash tag per tenant
   * (today's), or `profile`, hash tags per profile, identifier and bucket (not used yet).
   */
  readonly redisLayout: RedisLayout;
  /** Buckets of a tenant's cross-profile indexes in the `profile` layout (PULSE_REDIS_BUCKETS). */
  readonly redisBuckets: number;
  /** Absent: embedded ClickHouse (chdb) under `<dataDir>/warehouse`. */
  readonly clickhouseUrl: string | undefined;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly host: string;
  readonly dataDir: string;
  readonly namespace: string;
  /** Absent: `start` creates an admin key for tenant `default` under the data dir. */
  readonly apiKeys: readonly ApiKey[] | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long JetStream waits for an ack before redelivering an event. */
  readonly ackWaitMs: number;
  /** Largest number of NATS messages one processor batch takes. */
  readonly batchSize: number;
  /** Longest a partial batch waits for more messages. */
  readonly batchWaitMs: number;
  /** How long an event's messageId is remembered for de-duplication. */
  readonly dedupTtlSeconds: number;
  /** How often the segment clock looks for profiles whose membership changed with time. */
  readonly segmentClockMs: number;
  /** Partner connectors (PULSE_CONNECTORS), secrets resolved; run by the processor role. */
  readonly connectors: readonly ConnectorDefinition[];
  /** Partner endpoints receiving segment changes (PULSE_AUDIENCE_PUSH); pushed by the processor role. */
  readonly audiencePush: readonly PushPartner[];
  /** Requests per second one write key may make to the HTTP collector. */
  readonly httpRateLimit: number;
  /** Certificate and key files (PEM): the HTTP server speaks HTTPS when set. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Consent at collection: Pulse's IAB TCF vendor id and the policy per tenant. */
  readonly consent: ConsentSettings;
  /** Event normalization: the default region of phone numbers. */
  readonly normalize: NormalizeOptions;
  /** gRPC TLS (PEM contents): with `ca`, clients must present a certificate it signed (mutual TLS). */
  readonly grpcTls: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer | undefined } | undefined;
  /** Entries of the targeting near-cache (0: no cache). */
  readonly nearCacheEntries: number;
  /** Required partner purposes, segtax and data name per tenant (PULSE_TARGETING). */
  readonly targeting: TargetingPolicies;
  /** Trait conflict policies and computed traits per tenant (PULSE_TRAIT_POLICIES). */
  readonly profilePolicies: ProfilePolicies;
  /** Identity guardrails (PULSE_IDENTITY_LIMITS, PULSE_MAX_IDENTIFIERS). */
  readonly identityLimits: IdentityLimits;
}

/** Every PULSE_* variable Pulse reads; any other PULSE_* variable is rejected as a typo. */
export const CONFIG_VARIABLES = [
  'PULSE_NATS_URL', 'PULSE_REDIS_URL', 'PULSE_CLICKHOUSE_URL', 'PULSE_GRPC_PORT', 'PULSE_HTTP_PORT',
  'PULSE_HOST', 'PULSE_DATA_DIR', 'PULSE_NAMESPACE', 'PULSE_API_KEYS', 'PULSE_LOG_LEVEL',
  'PULSE_ACK_WAIT_MS', 'PULSE_BATCH_SIZE', 'PULSE_BATCH_WAIT_MS', 'PULSE_DEDUP_TTL_SECONDS',
  'PULSE_SEGMENT_CLOCK_MS',
  'PULSE_CONNECTORS', 'PULSE_AUDIENCE_PUSH',
  'PULSE_HTTP_RATE_LIMIT', 'PULSE_TLS_CERT', 'PULSE_TLS_KEY',
  'PULSE_GRPC_TLS_CERT', 'PULSE_GRPC_TLS_KEY', 'PULSE_GRPC_TLS_CA', 'PULSE_NEAR_CACHE_ENTRIES', 'PULSE_TARGETING',
  'PULSE_TCF_VENDOR_ID', 'PULSE_CONSENT_POLICY', 'PULSE_DEFAULT_PHONE_REGION',
  'PULSE_TRAIT_POLICIES', 'PULSE_IDENTITY_LIMITS', 'PULSE_MAX_IDENTIFIERS', 'PULSE_REDIS_CLUSTER',
  'PULSE_REDIS_LAYOUT', 'PULSE_REDIS_BUCKETS',
] as const;

/** Namespaces become parts of subjects, stream names, Redis keys and ClickHouse database names. */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9_]{0,31}$/;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Redis key layouts (src/profiles/per-profile-layout.md §1): one slot per tenant, or per profile. */
export const REDIS_LAYOUTS = ['tenant', 'profile'] as const;
export type RedisLayout = (typeof REDIS_LAYOUTS)[number];
/** Most buckets a tenant's cross-profile indexes may be split into (PULSE_REDIS_BUCKETS). */
export const MAX_REDIS_BUCKETS = 4096;

/** Thrown with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** Reads and validates the PULSE_* variables; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const known = new Set<string>(CONFIG_VARIABLES);
  for (const name of Object.keys(env)) {
    if (name.startsWith('PULSE_') && !known.has(name)) problems.push(`${name}: unknown variable (known: ${CONFIG_VARIABLES.join(', ')})`);
  }
  const get = (name: (typeof CONFIG_VARIABLES)[number]): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const url = (name: (typeof CONFIG_VARIABLES)[number], protocols: readonly string[], fallback: string): string => urlValue(name, protocols, get(name) ?? fallback);
  function urlValue(name: string, protocols: readonly string[], raw: string): string {
    try {
      const u = new URL(raw);
      if (!protocols.includes(u.protocol)) problems.push(`${name}: protocol must be one of ${protocols.join(', ')} (got ${u.protocol})`);
    } catch {
      problems.push(`${name}: not a URL: ${JSON.stringify(raw)}`);
    }
    return raw;
  }
  const int = (name: (typeof CONFIG_VARIABLES)[number], fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return fallback;
    }
    return n;
  };

  const natsUrl = url('PULSE_NATS_URL', ['nats:', 'tls:'], 'nats://127.0.0.1:4222');
  const clusterRaw = get('PULSE_REDIS_CLUSTER') ?? 'false';
  if (clusterRaw !== 'true' && clusterRaw !== 'false') problems.push(`PULSE_REDIS_CLUSTER: must be true or false (got ${JSON.stringify(clusterRaw)})`);
  const redisCluster = clusterRaw === 'true';
  const layoutRaw = get('PULSE_REDIS_LAYOUT') ?? 'tenant';
  const redisLayout = (REDIS_LAYOUTS as readonly string[]).includes(layoutRaw) ? (layoutRaw as RedisLayout) : 'tenant';
  if (redisLayout !== layoutRaw) problems.push(`PULSE_REDIS_LAYOUT: must be one of ${REDIS_LAYOUTS.join(', ')} (got ${JSON.stringify(layoutRaw)})`);
  const redisBuckets = int('PULSE_REDIS_BUCKETS', 64, 1, MAX_REDIS_BUCKETS);
  // A cluster is reached through one or more seed nodes: `redis://a:7000,redis://b:7000`.
  const redisUrl = redisCluster
    ? (get('PULSE_REDIS_URL') ?? 'redis://127.0.0.1:6379').split(',').map((seed) => urlValue('PULSE_REDIS_URL', ['redis:', 'rediss:'], seed.trim())).join(',')
    : url('PULSE_REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379');
  const clickhouseRaw = get('PULSE_CLICKHOUSE_URL');
  const clickhouseUrl = clickhouseRaw === undefined ? undefined : url('PULSE_CLICKHOUSE_URL', ['http:', 'https:'], clickhouseRaw);
  const grpcPort = int('PULSE_GRPC_PORT', 50051, 0, 65535);
  const httpPort = int('PULSE_HTTP_PORT', 8080, 0, 65535);
  const host = get('PULSE_HOST') ?? '127.0.0.1';
  const rawDir = get('PULSE_DATA_DIR') ?? '.pulse';
  const dataDir = isAbsolute(rawDir) ? rawDir : resolve(cwd, rawDir);

  const namespace = get('PULSE_NAMESPACE') ?? 'pulse';
  if (!NAMESPACE_PATTERN.test(namespace)) problems.push(`PULSE_NAMESPACE: must match ${NAMESPACE_PATTERN.source} (got ${JSON.stringify(namespace)})`);

  const logLevel = get('PULSE_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`PULSE_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);

  let apiKeys: readonly ApiKey[] | undefined;
  const keysRaw = get('PULSE_API_KEYS');
  if (keysRaw !== undefined) {
    let text = keysRaw;
    if (!keysRaw.startsWith('[')) {
      try {
        text = readFileSync(isAbsolute(keysRaw) ? keysRaw : resolve(cwd, keysRaw), 'utf8');
      } catch (err) {
        problems.push(`PULSE_API_KEYS: not a JSON array and not a readable file: ${(err as Error).message}`);
        text = '';
      }
    }
    if (text !== '') {
      const parsed = parseApiKeys(text);
      if (parsed.ok) apiKeys = parsed.keys;
      else problems.push(...parsed.problems.map((p) => `PULSE_API_KEYS: ${p}`));
    }
  }

  const ackWaitMs = int('PULSE_ACK_WAIT_MS', 30_000, 1_000, 3_600_000);
  const batchSize = int('PULSE_BATCH_SIZE', 500, 1, 10_000);
  const batchWaitMs = int('PULSE_BATCH_WAIT_MS', 20, 0, 10_000);
  const dedupTtlSeconds = int('PULSE_DEDUP_TTL_SECONDS', 7 * 24 * 3600, 60, 365 * 24 * 3600);
  const segmentClockMs = int('PULSE_SEGMENT_CLOCK_MS', 5_000, 100, 60_000);
  const httpRateLimit = int('PULSE_HTTP_RATE_LIMIT', 1000, 1, 1_000_000);

  let tls: Config['tls'];
  const certRaw = get('PULSE_TLS_CERT');
  const keyRaw = get('PULSE_TLS_KEY');
  if ((certRaw === undefined) !== (keyRaw === undefined)) {
    problems.push('PULSE_TLS_CERT, PULSE_TLS_KEY: set both (HTTPS) or neither (HTTP)');
  } else if (certRaw !== undefined && keyRaw !== undefined) {
    const read = (name: 'PULSE_TLS_CERT' | 'PULSE_TLS_KEY', raw: string): { file: string; pem: Buffer | undefined } => {
      const file = isAbsolute(raw) ? raw : resolve(cwd, raw);
      try {
        return { file, pem: readFileSync(file) };
      } catch (err) {
        problems.push(`${name}: not a readable file: ${(err as Error).message}`);
        return { file, pem: undefined };
      }
    };
    const cert = read('PULSE_TLS_CERT', certRaw);
    const key = read('PULSE_TLS_KEY', keyRaw);
    if (cert.pem !== undefined && key.pem !== undefined) {
      // A mismatched or non-PEM pair is reported now rather than when the server starts.
      try {
        createSecureContext({ cert: cert.pem, key: key.pem });
      } catch (err) {
        problems.push(`PULSE_TLS_CERT, PULSE_TLS_KEY: not a usable certificate and key: ${(err as Error).message}`);
      }
    }
    tls = Object.freeze({ certFile: cert.file, keyFile: key.file });
  }

  let grpcTls: Config['grpcTls'];
  const grpcFiles = (['PULSE_GRPC_TLS_CERT', 'PULSE_GRPC_TLS_KEY', 'PULSE_GRPC_TLS_CA'] as const).map((name) => {
    const raw = get(name);
    if (raw === undefined) return undefined;
    try {
      return readFileSync(isAbsolute(raw) ? raw : resolve(cwd, raw));
    } catch (err) {
      problems.push(`${name}: not a readable file: ${(err as Error).message}`);
      return Buffer.alloc(0);
    }
  });
  const [grpcCert, grpcKey, grpcCa] = grpcFiles;
  if ((grpcCert === undefined) !== (grpcKey === undefined)) problems.push('PULSE_GRPC_TLS_CERT, PULSE_GRPC_TLS_KEY: set both (TLS) or neither (plaintext gRPC)');
  else if (grpcCa !== undefined && grpcCert === undefined) problems.push('PULSE_GRPC_TLS_CA: needs PULSE_GRPC_TLS_CERT and PULSE_GRPC_TLS_KEY (mutual TLS is TLS with client certificates)');
  else if (grpcCert !== undefined && grpcKey !== undefined && grpcCert.length > 0 && grpcKey.length > 0) {
    try {
      createSecureContext({ cert: grpcCert, key: grpcKey, ...(grpcCa === undefined ? {} : { ca: grpcCa }) });
      grpcTls = Object.freeze({ cert: grpcCert, key: grpcKey, ca: grpcCa });
    } catch (err) {
      problems.push(`PULSE_GRPC_TLS_CERT, PULSE_GRPC_TLS_KEY, PULSE_GRPC_TLS_CA: not a usable certificate, key and CA: ${(err as Error).message}`);
    }
  }
  const nearCacheEntries = int('PULSE_NEAR_CACHE_ENTRIES', 100_000, 0, 10_000_000);
  let targeting: TargetingPolicies = { defaults: DEFAULT_TARGETING_SETTINGS, tenants: {} };
  const targetingRaw = get('PULSE_TARGETING');
  if (targetingRaw !== undefined) {
    let text: string | undefined = targetingRaw;
    if (!targetingRaw.startsWith('{')) {
      try {
        text = readFileSync(isAbsolute(targetingRaw) ? targetingRaw : resolve(cwd, targetingRaw), 'utf8');
      } catch (err) {
        problems.push(`PULSE_TARGETING: not a JSON object and not a readable file: ${(err as Error).message}`);
        text = undefined;
      }
    }
    const parsed = text === undefined ? undefined : parseTargetingPolicies(text);
    if (parsed?.ok === true) targeting = parsed.policies;
    else if (parsed !== undefined) problems.push(...parsed.problems.map((p) => `PULSE_TARGETING: ${p}`));
  }

  const vendorId = get('PULSE_TCF_VENDOR_ID') === undefined ? undefined : int('PULSE_TCF_VENDOR_ID', 0, 1, 65535);
  let consent: ConsentSettings = { ...DEFAULT_CONSENT_SETTINGS, vendorId };
  const policyRaw = get('PULSE_CONSENT_POLICY');
  if (policyRaw !== undefined) {
    let text: string | undefined = policyRaw;
    if (!policyRaw.startsWith('{')) {
      try {
        text = readFileSync(isAbsolute(policyRaw) ? policyRaw : resolve(cwd, policyRaw), 'utf8');
      } catch (err) {
        problems.push(`PULSE_CONSENT_POLICY: not a JSON object and not a readable file: ${(err as Error).message}`);
        text = undefined;
      }
    }
    const parsed = text === undefined ? undefined : parseConsentPolicies(text);
    if (parsed?.ok === true) consent = { vendorId, defaultPolicy: parsed.defaultPolicy, tenants: parsed.tenants };
    else if (parsed !== undefined) problems.push(...parsed.problems.map((p) => `PULSE_CONSENT_POLICY: ${p}`));
  }
  const regionRaw = (get('PULSE_DEFAULT_PHONE_REGION') ?? DEFAULT_NORMALIZE_OPTIONS.phoneRegion).toUpperCase();
  const phoneRegion = isPhoneRegion(regionRaw) ? regionRaw : DEFAULT_NORMALIZE_OPTIONS.phoneRegion;
  if (phoneRegion !== regionRaw) problems.push(`PULSE_DEFAULT_PHONE_REGION: not a region code libphonenumber knows (ISO 3166-1 alpha-2, e.g. US, FR) (got ${JSON.stringify(regionRaw)})`);

  let connectors: readonly ConnectorDefinition[] = [];
  const connectorsRaw = get('PULSE_CONNECTORS');
  if (connectorsRaw !== undefined) {
    let text: string | undefined = connectorsRaw;
    if (!connectorsRaw.startsWith('[')) {
      try {
        text = readFileSync(isAbsolute(connectorsRaw) ? connectorsRaw : resolve(cwd, connectorsRaw), 'utf8');
      } catch (err) {
        problems.push(`PULSE_CONNECTORS: not a JSON array and not a readable file: ${(err as Error).message}`);
        text = undefined;
      }
    }
    const parsed = text === undefined ? undefined : parseConnectors(text, env);
    if (parsed?.ok === true) connectors = Object.freeze(parsed.connectors);
    else if (parsed !== undefined) problems.push(...parsed.problems.map((p) => `PULSE_CONNECTORS: ${p}`));
  }

  let audiencePush: readonly PushPartner[] = [];
  const pushRaw = get('PULSE_AUDIENCE_PUSH');
  if (pushRaw !== undefined) {
    const parsed = parsePushPartners(pushRaw);
    if (parsed.ok) audiencePush = Object.freeze(parsed.partners);
    else problems.push(...parsed.problems.map((p) => `PULSE_AUDIENCE_PUSH: ${p}`));
  }

  let profilePolicies: ProfilePolicies = new Map();
  const traitPoliciesRaw = get('PULSE_TRAIT_POLICIES');
  if (traitPoliciesRaw !== undefined) {
    let text: string | undefined = traitPoliciesRaw;
    if (!traitPoliciesRaw.startsWith('{')) {
      try {
        text = readFileSync(isAbsolute(traitPoliciesRaw) ? traitPoliciesRaw : resolve(cwd, traitPoliciesRaw), 'utf8');
      } catch (err) {
        problems.push(`PULSE_TRAIT_POLICIES: not a JSON object and not a readable file: ${(err as Error).message}`);
        text = undefined;
      }
    }
    const parsed = text === undefined ? undefined : parseProfilePolicies(text);
    if (parsed?.ok === true) profilePolicies = parsed.policies;
    else if (parsed !== undefined) problems.push(...parsed.problems.map((p) => `PULSE_TRAIT_POLICIES: ${p}`));
  }
  let perType = DEFAULT_IDENTITY_LIMITS.perType;
  const limitsRaw = get('PULSE_IDENTITY_LIMITS');
  if (limitsRaw !== undefined) {
    const parsed = parseIdentityLimits(limitsRaw);
    if (parsed.ok) perType = parsed.perType;
    else problems.push(...parsed.problems.map((p) => `PULSE_IDENTITY_LIMITS: ${p}`));
  }
  const maxIdentifiers = int('PULSE_MAX_IDENTIFIERS', DEFAULT_IDENTITY_LIMITS.maxIdentifiers, 1, 10_000);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    natsUrl, natsDefaulted: get('PULSE_NATS_URL') === undefined,
    redisUrl, redisDefaulted: get('PULSE_REDIS_URL') === undefined, redisCluster, redisLayout, redisBuckets,
    clickhouseUrl, grpcPort, httpPort, host, dataDir, namespace, apiKeys,
    logLevel: logLevel as Config['logLevel'], ackWaitMs, batchSize, batchWaitMs, dedupTtlSeconds, segmentClockMs,
    connectors, audiencePush,
    httpRateLimit, tls, grpcTls, nearCacheEntries, targeting,
    consent: Object.freeze(consent), normalize: Object.freeze({ phoneRegion }),
    profilePolicies, identityLimits: Object.freeze({ perType, maxIdentifiers }),
  });
}
