import { PulseError } from '../../errors.ts';
import type { Logger } from '../../infra/log.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { MAX_BATCH_BYTES } from '../limits.ts';
import { acceptEvents, type EventPublisher } from '../publisher.ts';
import {
  chunkEvents, emptyStatus, getPath, maxWatermark, nextRunAt, safeReason, toPartnerEvent,
  type ConnectorDefinition, type ConnectorStatus, type RunOutcome, type SyncState,
} from './model.ts';
import { listPages, PartnerApi, type PartnerApiDeps } from './partner-api.http.ts';
import type { ConnectorStore, StoredConnector } from './store.ts';
import type { NormalizeOptions } from '../normalize.ts';

/** What the runner needs; clocks, randomness and sleeping are injectable for tests. */
export interface RunnerDeps {
  readonly publisher: EventPublisher;
  readonly store: ConnectorStore;
  /** Normalization settings (phone region); default region US. */
  readonly normalize?: NormalizeOptions;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly sleep?: PartnerApiDeps['sleep'];
  /** How long a run's lease lives without renewal (renewed every page and every third of it). */
  readonly leaseMs?: number;
  /** Events per JetStream message. */
  readonly batchSize?: number;
}

/** The outcome of one run; `busy` when another run of the connector held it. */
export interface RunResult {
  readonly connector: string;
  readonly outcome: RunOutcome | 'busy';
  readonly accepted: number;
  readonly rejected: number;
  readonly pages: number;
  readonly retries: number;
  readonly error: string | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RECENT_REJECTIONS = 20;

/**
 * Runs partner connectors on their schedules, one run per connector at a time (a Redis lease
 * holds across processes). A run fetches pages, maps and validates the records, publishes the
 * accepted events and waits for JetStream's acknowledgement, and only then stores the cursor:
 * a crash or restart resumes at the first page that was not acknowledged, and events fetched
 * twice carry the same messageIds, so nothing is counted twice.
 */
export class ConnectorRunner {
  readonly #defs: ReadonlyMap<string, ConnectorDefinition>;
  readonly #deps: RunnerDeps;
  readonly #now: () => number;
  readonly #leaseMs: number;
  readonly #running = new Map<string, Promise<RunResult>>();
  /** Timer callbacks under way (a run and the scheduling after it), awaited by stop(). */
  readonly #firing = new Set<Promise<void>>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #stop = new AbortController();

  constructor(connectors: readonly ConnectorDefinition[], deps: RunnerDeps) {
    this.#defs = new Map(connectors.map((c) => [c.id, c]));
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#leaseMs = deps.leaseMs ?? 60_000;
  }

  /** The connectors this runner knows. */
  get connectors(): readonly ConnectorDefinition[] {
    return [...this.#defs.values()];
  }

  /** Starts the schedules of every connector. */
  start(): void {
    for (const def of this.#defs.values()) void this.#schedule(def);
  }

  /** Runs one connector now (NOT_FOUND for an unknown id); `busy` when it is already running. */
  runNow(id: string): Promise<RunResult> {
    const def = this.#defs.get(id);
    if (def === undefined) return Promise.reject(new PulseError('NOT_FOUND', `no connector ${JSON.stringify(id)} (known: ${[...this.#defs.keys()].join(', ') || 'none'})`, { field: 'id' }));
    return this.#start(def);
  }

  /** Every connector with its stored cursor and status. */
  async status(): Promise<{ definition: ConnectorDefinition; stored: StoredConnector }[]> {
    return Promise.all([...this.#defs.values()].map(async (definition) => ({ definition, stored: await this.#deps.store.read(definition.tenant, definition.id) })));
  }

  /** Stops the schedules, aborts runs in progress (their acknowledged pages stay saved) and waits for them. */
  async stop(): Promise<void> {
    this.#stop.abort();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running.values(), ...this.#firing]);
  }

  #start(def: ConnectorDefinition): Promise<RunResult> {
    if (this.#running.has(def.id)) return Promise.resolve(busy(def.id));
    const run = this.#run(def).finally(() => this.#running.delete(def.id));
    this.#running.set(def.id, run);
    return run;
  }

  /**
   * Records when the connector runs next and arms its timer. The time is recorded even while
   * stopping, so the status never shows a next run older than the last one.
   */
  async #schedule(def: ConnectorDefinition): Promise<void> {
    const log = this.#deps.log.child({ connector: def.id });
    let at: number;
    try {
      const stored = await this.#deps.store.read(def.tenant, def.id);
      at = nextRunAt(def.schedule, this.#now(), stored.status.lastRunStartedAt);
      await this.#deps.store.setNextRun(def.tenant, def.id, at);
    } catch (err) {
      log.error({ err }, 'cannot schedule the connector; trying again in a minute');
      at = this.#now() + 60_000;
    }
    if (!Number.isFinite(at) || this.#stop.signal.aborted) return;
    const timer = setTimeout(() => {
      const firing = this.#fire(def, at).finally(() => this.#firing.delete(firing));
      this.#firing.add(firing);
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - this.#now())));
    timer.unref();
    this.#timers.set(def.id, timer);
  }

  async #fire(def: ConnectorDefinition, at: number): Promise<void> {
    this.#timers.delete(def.id);
    if (this.#stop.signal.aborted) return;
    // Timers cannot wait longer than ~24.8 days: a far run is reached in several hops.
    if (this.#now() < at) return this.#schedule(def);
    try {
      await this.#start(def);
    } catch (err) {
      this.#deps.log.error({ err, connector: def.id }, 'connector run crashed');
    }
    await this.#schedule(def);
  }

  async #run(def: ConnectorDefinition): Promise<RunResult> {
    const { store, metrics } = this.#deps;
    const log = this.#deps.log.child({ connector: def.id, tenant: def.tenant });
    const lease = await store.acquire(def.tenant, def.id, this.#leaseMs);
    if (lease === undefined) {
      log.info('connector is running elsewhere; skipped');
      return busy(def.id);
    }
    const lost = new AbortController();
    const signal = AbortSignal.any([this.#stop.signal, lost.signal]);
    const heartbeat = setInterval(() => {
      store.write(def.tenant, def.id, lease, this.#leaseMs, {}).then((ok) => {
        if (!ok) lost.abort(new Error('lease lost'));
      }, (err: unknown) => log.warn({ err }, 'cannot renew the connector lease'));
    }, Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    heartbeat.unref();

    const api = new PartnerApi(def, { log, now: this.#now, ...(this.#deps.random ? { random: this.#deps.random } : {}), ...(this.#deps.sleep ? { sleep: this.#deps.sleep } : {}) });
    const startedAt = this.#now();
    let status: ConnectorStatus = { ...emptyStatus(), running: true, lastRunStartedAt: startedAt };
    let outcome: RunOutcome = 'failed';
    let error: string | undefined;
    try {
      const stored = await store.read(def.tenant, def.id);
      status = { ...emptyRun(stored.status), running: true, lastRunStartedAt: startedAt };
      let state: SyncState = stored.state;
      let run: NonNullable<SyncState['run']> = state.run ?? stripUndefined({ since: state.watermark ?? def.incremental?.initial, pages: 0 });
      if (state.run !== undefined) log.info({ pages: run.pages }, 'resuming an interrupted run');
      await this.#write(def, lease, { status });
      const extra: Record<string, string> = def.incremental !== undefined && run.since !== undefined ? { [def.incremental.param]: String(run.since) } : {};
      let fetched = 0;
      outcome = 'partial';
      for await (const page of listPages(api, def, run.position, extra, signal)) {
        fetched++;
        const counts = await this.#publishPage(def, page.records, log, (r) => {
          status = { ...status, recentRejections: [...status.recentRejections, r].slice(-RECENT_REJECTIONS) };
        });
        let max = run.max;
        if (def.incremental !== undefined) for (const r of page.records) max = maxWatermark(max, getPath(r, def.incremental.field));
        const done = page.next === undefined;
        run = stripUndefined({ since: run.since, position: page.next, max, pages: run.pages + 1 });
        state = done ? stripUndefined({ watermark: maxWatermark(state.watermark, max) }) : stripUndefined({ watermark: state.watermark, run });
        status = {
          ...status, accepted: status.accepted + counts.accepted, rejected: status.rejected + counts.rejected, pages: status.pages + 1, retries: api.retries,
          totalAccepted: status.totalAccepted + counts.accepted, totalRejected: status.totalRejected + counts.rejected,
        };
        metrics.connectorRows.inc({ connector: def.id, result: 'accepted' }, counts.accepted);
        metrics.connectorRows.inc({ connector: def.id, result: 'rejected' }, counts.rejected);
        // The cursor moves only now, after JetStream acknowledged every event of the page.
        await this.#write(def, lease, { state, status });
        if (done) {
          outcome = 'success';
          break;
        }
        if (fetched >= def.maxPagesPerRun) {
          log.info({ pages: fetched }, 'page limit of one run reached; the next run continues');
          break;
        }
      }
    } catch (err) {
      const e = err instanceof PulseError ? err : undefined;
      if (this.#stop.signal.aborted) {
        outcome = 'aborted';
        error = 'stopped before the run finished';
      } else {
        outcome = 'failed';
        error = lost.signal.aborted ? 'the run lost its lease (another process took the connector over)' : e?.message ?? 'internal error';
        log.error({ err }, 'connector run failed');
      }
    } finally {
      clearInterval(heartbeat);
    }
    const endedAt = this.#now();
    status = {
      ...status, running: false, lastRunEndedAt: endedAt, lastOutcome: outcome, retries: api.retries, runs: status.runs + 1,
      ...(outcome === 'success' || outcome === 'partial' ? { lastSuccessAt: endedAt } : {}),
    };
    if (error !== undefined) status.error = error;
    metrics.connectorRuns.inc({ connector: def.id, outcome });
    if (status.lastSuccessAt === endedAt) metrics.connectorLastSuccess.set({ connector: def.id }, endedAt / 1000);
    try {
      if (!(await store.release(def.tenant, def.id, lease, { status }))) log.warn('the lease expired before the run ended; status not written');
    } catch (err) {
      log.error({ err }, 'cannot write the connector status');
    }
    log.info({ outcome, accepted: status.accepted, rejected: status.rejected, pages: status.pages, retries: api.retries }, 'connector run ended');
    return { connector: def.id, outcome, accepted: status.accepted, rejected: status.rejected, pages: status.pages, retries: api.retries, error };
  }

  async #write(def: ConnectorDefinition, lease: string, update: { state?: SyncState; status?: ConnectorStatus }): Promise<void> {
    if (!(await this.#deps.store.write(def.tenant, def.id, lease, this.#leaseMs, update))) {
      throw new PulseError('FAILED_PRECONDITION', 'the run lost its lease (another process took the connector over)');
    }
  }

  /** Maps, validates and publishes one page; resolves after JetStream acknowledged it all. */
  async #publishPage(def: ConnectorDefinition, records: readonly unknown[], log: Logger, reject: (r: { recordId?: string; reason: string }) => void): Promise<{ accepted: number; rejected: number }> {
    const mapped = records.map((r) => toPartnerEvent(def, r));
    const ok = mapped.flatMap((m) => (m.ok ? [m] : []));
    const accepted = acceptEvents(ok.map((m) => m.event), this.#now(), this.#deps.normalize);
    const refusals = [
      ...mapped.flatMap((m) => (m.ok ? [] : [{ recordId: m.recordId, reason: safeReason(m.problem.reason) }])),
      ...accepted.rejected.map((r) => ({ recordId: ok[r.index]?.recordId, reason: safeReason(r.problem.reason) })),
    ];
    for (const r of refusals) {
      // Only the partner's record id and the reason, its quoted values masked, are logged.
      log.warn({ recordId: r.recordId, reason: r.reason }, 'partner record rejected');
      reject(r.recordId === undefined ? { reason: r.reason } : { recordId: r.recordId, reason: r.reason });
    }
    for (const batch of chunkEvents(accepted.accepted, this.#deps.batchSize ?? 500, MAX_BATCH_BYTES)) {
      await this.#deps.publisher.publish(def.tenant, batch);
    }
    return { accepted: accepted.accepted.length, rejected: refusals.length };
  }
}

function busy(connector: string): RunResult {
  return { connector, outcome: 'busy', accepted: 0, rejected: 0, pages: 0, retries: 0, error: undefined };
}

/** The status at the start of a run: the totals carry over, the last run's figures start over. */
function emptyRun(s: ConnectorStatus): ConnectorStatus {
  const next: ConnectorStatus = { ...s, accepted: 0, rejected: 0, pages: 0, retries: 0, recentRejections: [] };
  delete next.error;
  return next;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
