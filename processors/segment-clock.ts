import { catchError, defer, exhaustMap, finalize, NEVER, of, Subject, takeUntil, timer, type Observable } from 'rxjs';
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
}

/** The outcome of one pass over every tenant. */
export interface ClockTick {
  readonly tenants: number;
  readonly evaluated: number;
  readonly changes: number;
  readonly failed: boolean;
}

/**
 * Time-based segment changes: every `periodMs` (a pass still running makes the next tick skip),
 * takes the profiles whose membership may have changed with time (the `due` zset each evaluation
 * fills from nextChange), re-evaluates them with the ingest path's code, publishes enter/exit and
 * so reschedules them. A failed pass leaves its claims to lapse and be taken again. Completes
 * when `until` emits, once the pass in progress has finished.
 */
export function segmentClock(sinks: SegmentClockSinks, options: SegmentClockOptions, until: Observable<unknown> = NEVER): Observable<ClockTick> {
  const now = options.now ?? Date.now;
  const claimSize = options.claimSize ?? 500;
  const leaseMs = options.leaseMs ?? 60_000;
  const pass = async (): Promise<ClockTick> => {
    const tenants = await sinks.segments.tenants();
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
    return { tenants: tenants.length, evaluated, changes, failed: false };
  };
  return timer(0, options.periodMs).pipe(
    takeUntil(until),
    exhaustMap(() => defer(pass).pipe(catchError((err: unknown) => {
      options.log.error({ err }, 'segment clock pass failed; claimed profiles are retried when their lease ends');
      return of({ tenants: 0, evaluated: 0, changes: 0, failed: true });
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
