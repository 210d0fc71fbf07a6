import type { Logger } from '../infra/log.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { ProfileStore } from '../profiles/store.ts';
import { definitionsFingerprint, dependencyIndex, type DependencyIndex, type EventChange } from './dependencies.ts';
import { features, type EventFeature, type FeatureData } from './features.ts';
import { compile, evaluateAndSchedule, type CompiledSegment } from './model.ts';
import type { FeatureEvent, FeatureStore, MembershipChange, MembershipHistory, SegmentStore } from './store.ts';

/** What real-time evaluation reads and writes. */
export interface RealtimeDeps {
  readonly segments: SegmentStore;
  readonly profiles: Pick<ProfileStore, 'facts'>;
  /** Without it rules see no event features (windows, filters, sums read nothing). */
  readonly features?: FeatureStore | undefined;
  /** Where membership changes are kept as history (ClickHouse). */
  readonly history?: MembershipHistory | undefined;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** How long a tenant's definitions are reused before being read again (default 1 s). */
  readonly definitionsTtlMs?: number;
}

/** A membership change with the profile version and evaluation time it was written at. */
export type TimedChange = MembershipChange & { readonly version: number; readonly at: number };

/** Which path asked for an evaluation (a metric label). */
export type EvaluationPath = 'ingest' | 'clock' | 'unmerge';

/** A tenant's definitions, compiled and indexed once per load. */
export interface TenantDefinitions {
  readonly segments: readonly CompiledSegment[];
  readonly features: readonly EventFeature[];
  readonly index: DependencyIndex;
  readonly fingerprint: string;
  readonly loadedAt: number;
}

const NO_FEATURES: ReadonlyMap<string, FeatureData> = new Map();

/**
 * Real-time segment evaluation, shared by the ingest pipeline and the segment clock: records event
 * features, evaluates only the segments that what changed can affect (all of them when the
 * definitions changed since the profile's last full evaluation, or when the clock asks), writes
 * membership fenced by the profile version, schedules the next time-based re-evaluation and
 * appends changes to the history.
 */
export class RealtimeSegments {
  readonly #deps: RealtimeDeps;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, TenantDefinitions | Promise<TenantDefinitions>>();
  readonly #knownTenants = new Set<string>();

  constructor(deps: RealtimeDeps) {
    this.#deps = deps;
    this.#ttlMs = deps.definitionsTtlMs ?? 1_000;
  }

  /** The tenant's compiled definitions, read at most once per TTL; a rule that does not parse is left out (and logged). */
  async definitions(tenant: string): Promise<TenantDefinitions> {
    const cached = this.#cache.get(tenant);
    if (cached !== undefined && (cached instanceof Promise || Date.now() - cached.loadedAt < this.#ttlMs)) return cached;
    const loading = this.#load(tenant);
    this.#cache.set(tenant, loading);
    try {
      const loaded = await loading;
      this.#cache.set(tenant, loaded);
      return loaded;
    } catch (err) {
      this.#cache.delete(tenant);
      throw err;
    }
  }

  async #load(tenant: string): Promise<TenantDefinitions> {
    const defs = await this.#deps.segments.list(tenant);
    const segments: CompiledSegment[] = [];
    for (const d of defs) {
      try {
        segments.push(...compile([d]));
      } catch (err) {
        this.#deps.log.error({ err, tenant, segment: d.id }, 'a stored segment rule does not parse; segment not evaluated');
      }
    }
    if (segments.length > 0 && !this.#knownTenants.has(tenant)) {
      await this.#deps.segments.addTenant(tenant);
      this.#knownTenants.add(tenant);
    }
    return {
      segments,
      features: features(...segments.map((s) => s.rule)),
      index: dependencyIndex(segments),
      fingerprint: definitionsFingerprint(defs),
      loadedAt: Date.now(),
    };
  }

  /** Records the features the tenant's rules need from applied events (idempotent per messageId). */
  async recordFeatures(tenant: string, events: readonly FeatureEvent[]): Promise<void> {
    const store = this.#deps.features;
    if (store === undefined || events.length === 0) return;
    const defs = await this.definitions(tenant);
    await store.record(tenant, events, defs.features, this.#deps.now());
  }

  /**
   * Re-evaluates profiles: for each, what its events changed (only the segments depending on it
   * are evaluated) or 'all'. Returns the membership changes written.
   */
  async evaluate(tenant: string, targets: ReadonlyMap<string, readonly EventChange[] | 'all'>, path: EvaluationPath): Promise<TimedChange[]> {
    if (targets.size === 0) return [];
    const defs = await this.definitions(tenant);
    if (defs.segments.length === 0) return [];
    const now = this.#deps.now();
    const pids = [...targets.keys()];
    const store = this.#deps.features;
    const [facts, signals] = await Promise.all([this.#deps.profiles.facts(tenant, pids), this.#deps.segments.signals(tenant, pids)]);
    const plans = pids.map((pid) => {
      const changes = targets.get(pid) ?? 'all';
      // Evaluated last under other definitions (a new or changed segment): every segment is evaluated.
      const all = changes === 'all' || signals.get(pid)?.evaluated !== defs.fingerprint;
      const segments = all ? defs.segments : defs.index.affected(changes);
      return { pid, all: segments === defs.segments, segments };
    }).filter((p) => p.segments.length > 0);
    const groups = new Map<string, { segments: readonly CompiledSegment[]; pids: string[] }>();
    for (const plan of plans) {
      const key = plan.segments.map((s) => s.id).join(',');
      const group = groups.get(key) ?? { segments: plan.segments, pids: [] };
      group.pids.push(plan.pid);
      groups.set(key, group);
      // Profiles with the same segments share one array: its evaluation order is worked out once.
      plan.segments = group.segments;
    }
    const featureData = new Map<string, ReadonlyMap<string, FeatureData>>();
    if (store !== undefined) {
      await Promise.all([...groups.values()].map(async (g) => {
        for (const [pid, data] of await store.read(tenant, g.pids, features(...g.segments.map((s) => s.rule)), now)) featureData.set(pid, data);
      }));
    }
    const written = await Promise.all(plans.map(async ({ pid, all, segments }) => {
      const f = facts.get(pid);
      const signal = signals.get(pid);
      if (f === undefined || signal === undefined) return [];
      const full = { ...f.facts, lastSeen: signal.lastSeen, features: featureData.get(pid) ?? NO_FEATURES, segments: signal.segments, now };
      const { membership, nextChange } = evaluateAndSchedule(segments, full, now);
      const changes = await this.#deps.segments.writeMembership(tenant, pid, f.version, membership, {
        at: now, schedule: all ? 'set' : 'lower', nextChange, definitions: all ? defs.fingerprint : undefined,
      });
      return changes.map((c): TimedChange => ({ ...c, version: f.version, at: now }));
    }));
    this.#deps.metrics.segmentEvaluations.inc({ path }, plans.length);
    const flat = written.flat();
    for (const c of flat) this.#deps.metrics.segmentChanges.inc({ kind: c.kind });
    if (flat.length > 0 && this.#deps.history !== undefined) await this.#deps.history.write(tenant, flat);
    return flat;
  }
}
