import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric Pulse exports, on one registry served at /metrics. */
export interface Metrics {
  readonly registry: Registry;
  readonly eventsProcessed: Counter<'result'>;
  readonly eventsDeadLettered: Counter<'reason'>;
  readonly batchSeconds: Histogram;
  readonly grpcHandlerSeconds: Histogram<'method' | 'code'>;
  readonly segmentChanges: Counter<'kind'>;
  readonly profileMerges: Counter<'outcome'>;
  readonly segmentEvaluations: Counter<'path'>;
  readonly segmentClockLagSeconds: Histogram;
  readonly eventsConsentDenied: Counter<'reason'>;
  readonly connectorRows: Counter<'connector' | 'result'>;
  readonly connectorRuns: Counter<'connector' | 'outcome'>;
  readonly connectorLastSuccess: Gauge<'connector'>;
  /** Journaled merges/unmerges the segment clock's sweeper dealt with, by outcome (finished, aborted, failed). */
  readonly mergeSweeps: Counter<'outcome'>;
  /** Journal entries older than the lease the last sweep left unfinished (§7: alert when it stays above 0). */
  readonly mergeJobsPending: Gauge;
}

/** Creates the registry with process metrics and Pulse's own. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pulse_process_' });
  return {
    registry,
    eventsProcessed: new Counter({ name: 'pulse_events_processed_total', help: 'Events applied by processors, by result (applied, duplicate).', labelNames: ['result'], registers: [registry] }),
    eventsDeadLettered: new Counter({ name: 'pulse_events_dead_lettered_total', help: 'Events sent to the DLQ, by reason kind.', labelNames: ['reason'], registers: [registry] }),
    batchSeconds: new Histogram({ name: 'pulse_processor_batch_seconds', help: 'Time to process one batch, from decode to ack.', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
    grpcHandlerSeconds: new Histogram({
      name: 'pulse_grpc_handler_seconds', help: 'Time inside Pulse from handler entry to response, by method and status.',
      labelNames: ['method', 'code'], buckets: [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25], registers: [registry],
    }),
    profileMerges: new Counter({ name: 'pulse_profile_merges_total', help: 'Profile merges, by outcome (merged, refused by a guardrail).', labelNames: ['outcome'], registers: [registry] }),
    segmentChanges: new Counter({ name: 'pulse_segment_changes_total', help: 'Segment membership changes, by kind (enter, exit).', labelNames: ['kind'], registers: [registry] }),
    segmentEvaluations: new Counter({ name: 'pulse_segment_evaluations_total', help: 'Profiles re-evaluated for segments, by path (ingest, clock).', labelNames: ['path'], registers: [registry] }),
    segmentClockLagSeconds: new Histogram({
      name: 'pulse_segment_clock_lag_seconds', help: 'How late the segment clock took a profile after its membership could change with time.',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry],
    }),
    eventsConsentDenied: new Counter({
      name: 'pulse_events_consent_denied_total', help: 'Events kept from profiles by the consent gate, by reason (no-consent, missing, malformed).',
      labelNames: ['reason'], registers: [registry],
    }),
    connectorRows: new Counter({ name: 'pulse_connector_rows_total', help: 'Partner records read by connectors, by result (accepted, rejected).', labelNames: ['connector', 'result'], registers: [registry] }),
    connectorRuns: new Counter({ name: 'pulse_connector_runs_total', help: 'Connector runs, by outcome (success, partial, failed, aborted).', labelNames: ['connector', 'outcome'], registers: [registry] }),
    connectorLastSuccess: new Gauge({ name: 'pulse_connector_last_success_timestamp_seconds', help: 'When each connector last finished a run without error (Unix time).', labelNames: ['connector'], registers: [registry] }),
    mergeSweeps: new Counter({
      name: 'pulse_merge_sweeps_total', help: 'Half-done merges and unmerges found by the sweeper, by outcome (finished, aborted; failed: a tenant\'s sweep threw).',
      labelNames: ['outcome'], registers: [registry],
    }),
    mergeJobsPending: new Gauge({
      name: 'pulse_merge_jobs_pending', help: 'Merge/unmerge journal entries older than the lease that the last sweep pass left unfinished, over all tenants.', registers: [registry],
    }),
  };
}

/** Exports a lookup near-cache's size and hit/miss counts (read from `stats` at each scrape). */
export function exportNearCacheStats(metrics: Metrics, stats: () => { entries: number; hits: number; misses: number }): void {
  const registers = [metrics.registry];
  new Gauge({ name: 'pulse_near_cache_entries', help: 'Lookups held by the targeting near-cache.', registers, collect() { this.set(stats().entries); } });
  new Counter({
    name: 'pulse_near_cache_lookups_total', help: 'Targeting lookups by near-cache result (hit, miss).', labelNames: ['result'], registers,
    collect() {
      const s = stats();
      this.reset();
      this.inc({ result: 'hit' }, s.hits);
      this.inc({ result: 'miss' }, s.misses);
    },
  });
}
