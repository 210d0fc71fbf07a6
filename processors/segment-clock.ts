import { catchError, defer, exhaustMap, finalize, NEVER, of, Subject, takeUntil, timer, type Observable } from 'rxjs';
import { PulseError } from '../src/errors.ts';
import type { Logger } from '../src/infra/log.ts';
import type { Metrics } from '../src/infra/metrics.ts';
import type { RealtimeSegments, TimedChange } from '../src/segments/realtime.ts';
import type { SegmentStore } from '../src/segments/store.ts';

/** What the segment clock reads and writes besides the shared evaluation. */
export interface SegmentClockSinks {
  readonly realtime: RealtimeSegments;
  readonly segments: Pick<SegmentStore, 'claimDue' | 'tenants'>;
  /** Publishes segment enter/exit changes; resolves once stored. */
  publishChanges(tenant: string, changes: readonly TimedChange[]): Promise<void>;
  /**
   * The sweeper (per-profile-layout.md §3.5 (b)): finishes or takes back the tenant's journaled
   * merges and unmerges a crash left half done (`m|`/`u|` entries older than the lease), e.g.
   * `sweepCounts((await mergeRunner.sweep(tenant)).values())`. Absent: no sweeping.
   */
  sweep?(tenant: string): Promise<SweepCounts>;
}

/** What one tenant's sweep did with the journal entries older than the lease. */
export interface SweepCounts {
  readonly finished: number;
  readonly aborted: number;
  /** Left unfinished: their driver may still be at work (an acceptance younger than the lease), or they are stuck. */
  readonly pending: number;
}

/** What a sweep pass did over every tenant; `failed` counts tenants whose sweep threw. */
export interface SweepTotals extends SweepCounts {
  readonly failed: number;
}

/**
 * Counts what a sweeper answered per journal entry: MergeRunner's CompleteOutcome and
 * RedisUnmergeStateV2's CompleteUnmergeOutcome (`undone`: taken back, counted as aborted); `none`
 * is not counted. E.g. `sweepCounts([...merges.values(), ...[...unmerges.values()].flat()])` over
 * what sweepJournals (unmerge-v2.redis.ts) returns.
 */
export function sweepCounts(outcomes: Iterable<{ readonly status: string }>): SweepCounts {
  let finished = 0;
  let aborted = 0;
  let pending = 0;
  for (const { status } of outcomes) {
    if (status === 'finished') finished++;
    else if (status === 'aborted' || status === 'undone') aborted++;
    else if (status === 'pending') pending++;
  }
  return { finished, aborted, pending };
}

export interface SegmentClockOptions {
  /** Time between passes (PULSE_SEGMENT_CLOCK_MS). */
  readonly periodMs: number;
  /** Profiles claimed at once per tenant (default 500). */
  readonly claimSize?: number;
  /** How long a claimed profile is someone's before it is due again (default 60 s). */
  readonly leaseMs?: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The clock time is read from (injectable for tests). */
  readonly now?: () => number;
  /** Least time between two sweeps (default 10 s: a third of the 30 s merge lease); a sweep runs in the first pass after it. */
  readonly sweepPeriodMs?: number;
}

const DEFAULT_SWEEP_PERIOD_MS = 10_000;

/** The outcome of one pass over every tenant. */
export interface ClockTick {
  readonly tenants: number;
  readonly evaluated: number;
  readonly changes: number;
  readonly failed: boolean;
  /** What the pass's sweep did; undefined when it did not sweep (no sweeper, or within the sweep period). */
  readonly swept: SweepTotals | undefined;
}

/**
 * Time-based segment changes: every `periodMs` (a pass still running makes the next tick skip),
 * takes the profiles whose membership may have changed with time (the `due` zset each evaluation
 * fills from nextChange), re-evaluates them with the ingest path's code, publishes enter/exit and
 * so reschedules them. A failed pass leaves its claims to lapse and be taken again. With a
 * `sweep` sink, a pass first sweeps every tenant's merge journals (at most once per
 * `sweepPeriodMs`). Completes
 * when `until` emits, once the pass in progress has finished.
 */
export function segmentClock(sinks: SegmentClockSinks, options: SegmentClockOptions, until: Observable<unknown> = NEVER): Observable<ClockTick> {
  const now = options.now ?? Date.now;
  const claimSize = options.claimSize ?? 500;
  const leaseMs = options.leaseMs ?? 60_000;
  const sweepPeriodMs = options.sweepPeriodMs ?? DEFAULT_SWEEP_PERIOD_MS;
  let lastSweep = -Infinity;
  // Before the segment work, and each tenant on its own: a failing sweep neither stops the others nor the pass.
  const sweepAll = async (tenants: readonly string[]): Promise<SweepTotals | undefined> => {
    const at = now();
    if (sinks.sweep === undefined || at - lastSweep < sweepPeriodMs) return undefined;
    lastSweep = at;
    const totals = { finished: 0, aborted: 0, pending: 0, failed: 0 };
    for (const tenant of tenants) {
      try {
        const c = await sinks.sweep(tenant);
        totals.finished += c.finished;
        totals.aborted += c.aborted;
        totals.pending += c.pending;
      } catch (err) {
        totals.failed++;
        // Only the kind of error: messages may quote identifiers.
        options.log.error({ tenant, error: err instanceof PulseError ? err.code : err instanceof Error ? err.name : typeof err }, 'merge sweep of a tenant failed; it is retried at the next sweep');
      }
    }
    options.metrics.mergeSweeps.inc({ outcome: 'finished' }, totals.finished);
    options.metrics.mergeSweeps.inc({ outcome: 'aborted' }, totals.aborted);
    options.metrics.mergeSweeps.inc({ outcome: 'failed' }, totals.failed);
    options.metrics.mergeJobsPending.set(totals.pending);
    return totals;
  };
  const pass = async (): Promise<ClockTick> => {
    const tenants = await sinks.segments.tenants();
    const swept = await sweepAll(tenants);
    let evaluated = 0;
    let changes = 0;
    for (const tenant of tenants) {
      for (;;) {
        const at = now();
        const due = await sinks.segments.claimDue(tenant, at, claimSize, leaseMs);
        if (due.length === 0) break;
        for (const d of due) options.metrics.segmentClockLagSeconds.observe(Math.max(0, at - d.due) / 1000);
        const written = await sinks.realtime.evaluate(tenant, new Map(due.map((d) => [d.profileId, 'all' as const])), 'clock');
        if (written.length > 0) await sinks.publishChanges(tenant, written);
        evaluated += due.length;
        changes += written.length;
        if (due.length < claimSize) break;
      }
    }
    return { tenants: tenants.length, evaluated, changes, failed: false, swept };
  };
  return timer(0, options.periodMs).pipe(
    takeUntil(until),
    exhaustMap(() => defer(pass).pipe(catchError((err: unknown) => {
      options.log.error({ err }, 'segment clock pass failed; claimed profiles are retried when their lease ends');
      return of({ tenants: 0, evaluated: 0, changes: 0, failed: true, swept: undefined });
    }))),
  );
}

/** A running segment clock. */
export interface RunningSegmentClock {
  /** Stops ticking and waits for the pass in progress. */
  stop(): Promise<void>;
}

/** Starts the clock; `onTick` sees each pass (tests, logs). */
export function startSegmentClock(sinks: SegmentClockSinks, options: SegmentClockOptions, onTick: (tick: ClockTick) => void = () => undefined): RunningSegmentClock {
  const stop$ = new Subject<void>();
  let finished!: () => void;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  segmentClock(sinks, options, stop$).pipe(finalize(() => finished())).subscribe(onTick);
  return {
    stop: async () => {
      stop$.next();
      await done;
    },
  };
}
