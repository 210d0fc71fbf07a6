import { randomUUID } from 'node:crypto';
import type { Logger } from '../infra/log.ts';
import type { ProfileStore } from '../profiles/store.ts';
import type { ClickHouseEventHistory, HistoryEvent } from './event-history.clickhouse.ts';
import type { RedisSegmentDefinitions, SegmentVersion } from './definitions.redis.ts';
import { features, type EventFeature, type FeatureData } from './features.ts';
import { evaluateAndSchedule } from './model.ts';
import type { FactsInput, Rule } from './rule.ts';
import { parseRuleSource } from './rule-text.ts';
import type { MembershipChange, MembershipHistory, ProfileIndex, SegmentStore } from './store.ts';

/** Facts of profiles for evaluating one rule, with the profile version they were read at. */
export type LoadedFacts = Map<string, { facts: FactsInput; version: number }>;

/** What the loader read: the facts, and the warehouse events behind the rule's event features. */
export interface Loaded {
  readonly facts: LoadedFacts;
  readonly history: readonly HistoryEvent[];
}

/** Where the loader reads from. */
export interface RuleFactsSources {
  readonly profiles: Pick<ProfileStore, 'facts'>;
  readonly index: Pick<ProfileIndex, 'signals'>;
  readonly history: ClickHouseEventHistory;
  /** Event features the real-time side keeps in Redis (absent: only the warehouse's history is read). */
  readonly keptFeatures?: ((tenant: string, profileIds: readonly string[], features: readonly EventFeature[], now: number) => Promise<ReadonlyMap<string, ReadonlyMap<string, FeatureData>>>) | undefined;
}

/**
 * Loads what `rule` needs for a set of profiles: the profile store's facts, last seen and stored
 * membership, the event features Redis keeps, and the warehouse's event history for the rule's
 * event features. Redis keeps a feature's occurrences only from the time some stored rule used it,
 * the warehouse has them all but the batch being written, and both only ever miss occurrences: per
 * profile and feature the source that saw more is taken. Used by backfill, Estimate and Explain,
 * so all three see the same facts.
 */
export class RuleFactsLoader {
  readonly #sources: RuleFactsSources;

  constructor(sources: RuleFactsSources) {
    this.#sources = sources;
  }

  async load(tenant: string, profileIds: readonly string[], rule: Rule, now: number): Promise<Loaded> {
    const { profiles, index, history, keptFeatures } = this.#sources;
    const needed = features(rule);
    const [base, signals, kept, past] = await Promise.all([
      profiles.facts(tenant, profileIds),
      index.signals(tenant, profileIds),
      keptFeatures === undefined || needed.length === 0 ? Promise.resolve(undefined) : keptFeatures(tenant, profileIds, needed, now),
      needed.length === 0 ? Promise.resolve(undefined) : history.read(tenant, profileIds, needed, now),
    ] as const);
    const out: LoadedFacts = new Map();
    for (const [pid, { facts, version }] of base) {
      const live = signals.get(pid);
      const merged = new Map<string, FeatureData>(facts.features ?? []);
      for (const f of needed) {
        const a = kept?.get(pid)?.get(f.id) ?? merged.get(f.id);
        const b = past?.features.get(pid)?.get(f.id);
        const pick = a === undefined ? b : b === undefined ? a : seen(b, f.horizonMs, now) > seen(a, f.horizonMs, now) ? b : a;
        if (pick !== undefined) merged.set(f.id, pick);
      }
      const member = live?.segments ?? facts.segments;
      const lastSeen = live?.lastSeen ?? facts.lastSeen;
      out.set(pid, {
        version,
        facts: { ...facts, features: merged, ...(member === undefined ? {} : { segments: member }), ...(lastSeen === undefined ? {} : { lastSeen }) },
      });
    }
    return { facts: out, history: past?.events ?? [] };
  }
}

/** How many occurrences a source saw inside the horizon (all time: the totals). */
function seen(d: FeatureData, horizonMs: number | 'all', now: number): number {
  if (horizonMs === 'all') return d.total.count;
  return d.occurrences.filter((o) => o.at >= now - horizonMs).length;
}

/** Evaluations of one profile a backfill makes before it leaves a fenced-off write to the real-time path. */
const MAX_STALE_RETRIES = 5;

/** What a backfill needs besides the loader. */
export interface BackfillDeps {
  readonly definitions: RedisSegmentDefinitions;
  /** The profiles a backfill walks. */
  readonly index: ProfileIndex;
  readonly segments: SegmentStore;
  readonly loader: RuleFactsLoader;
  /** Publishes enter/exit like the processor does. */
  publishChanges(tenant: string, changes: readonly (MembershipChange & { version: number })[]): Promise<void>;
  /**
   * Records past events in the real-time features store (idempotent per messageId), so that the
   * next real-time evaluation of a backfilled profile sees the same history the backfill saw.
   */
  seedFeatures?(tenant: string, events: readonly HistoryEvent[], features: readonly EventFeature[], now: number): Promise<void>;
  /** Where membership changes are kept as history, as the real-time path keeps them. */
  readonly history?: MembershipHistory | undefined;
  readonly log: Logger;
  readonly batchSize: number;
  readonly now?: () => number;
  /** How long a job's lease lasts unless renewed (default 30 s); renewed at a third of it. */
  readonly leaseMs?: number;
}

/**
 * Background backfills: a new or changed segment is evaluated over every existing profile of the
 * tenant in batches, while real-time evaluation goes on. Each result is written through the same
 * membership script as the processor's, fenced by the profile version the facts were read at, so a
 * backfill result never replaces one computed from a newer version of the profile. One job per
 * segment: a newer definition version cancels the older job.
 *
 * A job runs under a lease in Redis, renewed while it runs, so that one process runs it. A job
 * whose process died (its progress still pending or running, its lease lapsed) is taken over by
 * `resumeUnfinished`, which every API process calls on start and then periodically: the job starts
 * over from the first profile (every write is idempotent and fenced, so nothing is counted twice
 * in membership; the progress counts start again).
 */
export class Backfills {
  readonly #deps: BackfillDeps;
  readonly #jobs = new Map<string, { cancelled: boolean; done: Promise<void> }>();
  readonly #owner = `${process.pid}-${randomUUID()}`;
  readonly #leaseMs: number;

  constructor(deps: BackfillDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 30_000;
  }

  /**
   * Takes over the unfinished backfills of `tenants` that no live process holds (a crash or a
   * restart left them behind). Returns the segments it started, as `tenant/segment`.
   */
  async resumeUnfinished(tenants: readonly string[]): Promise<string[]> {
    const started: string[] = [];
    for (const tenant of tenants) {
      for (const def of await this.#deps.definitions.orphanedBackfills(tenant)) {
        if (this.#jobs.has(`${tenant}/${def.id}`)) continue;
        // Two processes may find the same orphan: the lease decides which one takes it.
        if (!(await this.#deps.definitions.claimBackfill(tenant, def.id, this.#owner, this.#leaseMs))) continue;
        this.#deps.log.warn({ tenant, segment: def.id, version: def.version }, 'resuming a backfill its process left unfinished');
        await this.start(tenant, def);
        started.push(`${tenant}/${def.id}`);
      }
    }
    return started;
  }

  /** Calls resumeUnfinished for `tenants()` now and every `everyMs`; returns the stop function. */
  watch(tenants: () => Promise<string[]>, everyMs: number): () => void {
    let busy = false;
    const sweep = async () => {
      if (busy) return;
      busy = true;
      try {
        await this.resumeUnfinished(await tenants());
      } catch (err) {
        this.#deps.log.warn({ err }, 'looking for unfinished backfills failed; trying again later');
      } finally {
        busy = false;
      }
    };
    void sweep();
    const timer = setInterval(() => void sweep(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Schedules the backfill of `def` (its progress is readable at once as `pending`). */
  async start(tenant: string, def: SegmentVersion): Promise<void> {
    const key = `${tenant}/${def.id}`;
    const previous = this.#jobs.get(key);
    if (previous !== undefined) previous.cancelled = true;
    await this.#deps.definitions.setProgress(tenant, def.id, {
      state: 'pending', version: def.version, done: 0, total: 0, entered: 0, exited: 0, startedAt: undefined, finishedAt: undefined, error: '',
    });
    const job = { cancelled: false, done: Promise.resolve() };
    job.done = (async () => {
      await previous?.done;
      if (job.cancelled) return;
      const { definitions } = this.#deps;
      // Another process runs this segment's backfill: the sweep retries once its lease lapses.
      if (!(await definitions.claimBackfill(tenant, def.id, this.#owner, this.#leaseMs))) return;
      const renew = setInterval(() => {
        void definitions.claimBackfill(tenant, def.id, this.#owner, this.#leaseMs).then((held) => {
          if (!held) job.cancelled = true;
        }, () => undefined);
      }, Math.max(10, Math.floor(this.#leaseMs / 3)));
      try {
        await this.#run(tenant, def, job);
      } catch (err) {
        this.#deps.log.error({ err, tenant, segment: def.id }, 'segment backfill failed');
        if (await this.#isCurrent(tenant, def)) {
          await this.#deps.definitions.setProgress(tenant, def.id, { state: 'failed', finishedAt: this.#now(), error: err instanceof Error ? err.message : String(err) });
        }
      } finally {
        clearInterval(renew);
        await definitions.releaseBackfill(tenant, def.id, this.#owner).catch(() => undefined);
        if (this.#jobs.get(key) === job) this.#jobs.delete(key);
      }
    })();
    this.#jobs.set(key, job);
  }

  /** Cancels every running job and waits for them to stop. */
  async stop(): Promise<void> {
    const jobs = [...this.#jobs.values()];
    for (const j of jobs) j.cancelled = true;
    await Promise.all(jobs.map((j) => j.done));
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }

  async #isCurrent(tenant: string, def: SegmentVersion): Promise<boolean> {
    return (await this.#deps.definitions.current(tenant, def.id))?.version === def.version;
  }

  async #run(tenant: string, def: SegmentVersion, job: { cancelled: boolean }): Promise<void> {
    const { definitions, index, segments, loader } = this.#deps;
    const rule = parseRuleSource(def.rule);
    const compiled = [{ id: def.id, rule }];
    const needed = features(rule);
    const startedAt = this.#now();
    let done = 0;
    let entered = 0;
    let exited = 0;
    await definitions.setProgress(tenant, def.id, { state: 'running', startedAt, total: await index.indexSize(tenant) });
    for await (const batch of index.scanProfiles(tenant, this.#deps.batchSize)) {
      // Deleted or changed meanwhile: the newer definition's own job takes over.
      if (job.cancelled || !(await this.#isCurrent(tenant, def))) return;
      const now = this.#now();
      const { facts, history } = await loader.load(tenant, batch, rule, now);
      if (history.length > 0 && this.#deps.seedFeatures !== undefined) await this.#deps.seedFeatures(tenant, history, needed, now);
      const written = await Promise.all([...facts].map(async ([pid, first]) => {
        let f = first;
        let at = now;
        for (let attempt = 1; ; attempt++) {
          if (f.version === 0) return [];
          // `lower` only brings the profile's next time-based re-evaluation forward, so this
          // segment's windows lapse on time without touching the other segments' schedule.
          const { membership, nextChange } = evaluateAndSchedule(compiled, f.facts, at);
          const write = await segments.tryWriteMembership(tenant, pid, f.version, membership, {
            at, schedule: 'lower', nextChange, definitions: undefined,
          });
          if (!write.stale || attempt >= MAX_STALE_RETRIES) return write.changes.map((c) => ({ ...c, version: f.version, at }));
          // Fenced off: the profile changed since its facts were read, or an evaluation at a later
          // time was written (of other segments too: another backfill, the clock). This segment's
          // answer was not written, so it is evaluated again on fresh facts at a fresh time.
          at = this.#now();
          const reloaded = await loader.load(tenant, [pid], rule, at);
          if (reloaded.history.length > 0 && this.#deps.seedFeatures !== undefined) await this.#deps.seedFeatures(tenant, reloaded.history, needed, at);
          const again = reloaded.facts.get(pid);
          if (again === undefined) return [];
          f = again;
        }
      }));
      const changes = written.flat();
      if (changes.length > 0) {
        await this.#deps.publishChanges(tenant, changes);
        await this.#deps.history?.write(tenant, changes);
      }
      done += batch.length;
      for (const c of changes) if (c.kind === 'enter') entered++; else exited++;
      const total = Math.max(done, await index.indexSize(tenant));
      await definitions.setProgress(tenant, def.id, { done, total, entered, exited });
    }
    if (job.cancelled || !(await this.#isCurrent(tenant, def))) return;
    await definitions.setProgress(tenant, def.id, { state: 'done', done, total: done, entered, exited, finishedAt: this.#now() });
    this.#deps.log.info({ tenant, segment: def.id, version: def.version, profiles: done, entered, exited, ms: this.#now() - startedAt }, 'segment backfill done');
  }
}
