import { catchError, defer, finalize, from, map, mergeMap, of, type Observable } from 'rxjs';
import { isLayoutRefusal, LAYOUT_RETRY_MS } from '../src/profiles/layout.redis.ts';
import { TENANT_PATTERN } from '../src/auth/keys.ts';
import { decodeJsonMessage, type PulseEvent } from '../src/collection/event.ts';
import { CONSENT_TRAIT, DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from '../src/collection/normalize.ts';
import { DEFAULT_CONSENT_SETTINGS, type ConsentSettings } from '../src/privacy/consent.ts';
import { consentGate } from '../src/privacy/gate.ts';
import type { ConsentStore } from '../src/privacy/store.ts';
import { decodeProtobufMessage, isProtobuf } from '../src/collection/event-proto.ts';
import type { Logger } from '../src/infra/log.ts';
import type { Metrics } from '../src/infra/metrics.ts';
import type { ProfileStore } from '../src/profiles/store.ts';
import type { Rejection, SourceMessage } from '../src/collection/source.ts';
import { counterName, throughMerges, type Applied } from '../src/profiles/model.ts';
import type { EventChange } from '../src/segments/dependencies.ts';
import { RealtimeSegments, type TimedChange } from '../src/segments/realtime.ts';
import type { FeatureEvent, FeatureStore, MembershipChange, MembershipHistory, SegmentStore } from '../src/segments/store.ts';
import type { EventRecord, EventWriter } from '../src/warehouse/events.ts';
import { batches, Credits } from './batching.ts';

/** Sinks of the ingest pipeline. */
export interface IngestSinks {
  readonly profiles: ProfileStore;
  readonly segments: SegmentStore;
  readonly events: EventWriter;
  /** Event features for windowed, filtered and aggregated rules (without it they read nothing). */
  readonly features?: FeatureStore;
  /** Segment membership history (ClickHouse). */
  readonly history?: MembershipHistory;
  /** Keeps consent refusals on existing profiles, so a withdrawal replaces an earlier grant. */
  readonly consent?: ConsentStore;
  /** Publishes a rejection to the DLQ and resolves once the DLQ stream has stored it. */
  deadLetter(rejection: Rejection): Promise<void>;
  /**
   * Records what applying events did to profiles: merges on `<ns>.changes.<tenant>.profile`,
   * merges and trait changes in ClickHouse. Called for duplicates too (they return what they did).
   */
  recordProfileChanges?(tenant: string, events: readonly PulseEvent[], results: readonly Applied[]): Promise<void>;
  /** Publishes segment enter/exit changes; resolves once stored. */
  publishChanges(tenant: string, changes: readonly (MembershipChange & { version: number })[]): Promise<void>;
  /**
   * Announces profiles whose stored consent changed (a grant or a refusal), so lookup caches
   * drop answers given under the old consent; resolves once stored.
   */
  announceConsent?(tenant: string, profileIds: readonly string[]): Promise<void>;
}

/** Most message bytes one batch takes (about 2,000 events of 1 KB). */
const MAX_BATCH_BYTES = 2 * 1024 * 1024;

export interface IngestOptions {
  readonly namespace: string;
  readonly batchSize: number;
  readonly batchWaitMs: number;
  /** Batches in flight at once. */
  readonly concurrency: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now?: () => number;
  /** Consent policy per tenant (default: DEFAULT_CONSENT_SETTINGS). */
  readonly consent?: ConsentSettings;
  /** Normalization settings (default: DEFAULT_NORMALIZE_OPTIONS). */
  readonly normalize?: NormalizeOptions;
}

/** The outcome of one batch. */
export interface BatchReport {
  readonly messages: number;
  readonly applied: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly segmentChanges: number;
  readonly failed: boolean;
}

/** A decoded batch: valid events grouped by tenant, and the refused ones. */
export interface DecodedBatch {
  readonly byTenant: ReadonlyMap<string, readonly { event: PulseEvent; message: SourceMessage }[]>;
  readonly rejected: readonly Rejection[];
}

/** Pure: decodes a batch; the tenant comes from the subject `<namespace>.events.<tenant>`. */
export function decodeBatch(messages: readonly SourceMessage[], namespace: string, normalize: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): DecodedBatch {
  const byTenant = new Map<string, { event: PulseEvent; message: SourceMessage }[]>();
  const rejected: Rejection[] = [];
  const prefix = `${namespace}.events.`;
  for (const message of messages) {
    const tenant = message.subject.startsWith(prefix) ? message.subject.slice(prefix.length) : '';
    if (!TENANT_PATTERN.test(tenant)) {
      rejected.push({ message, index: -1, raw: undefined, problem: { field: 'subject', reason: `subject: no valid tenant in ${JSON.stringify(message.subject)}` } });
      continue;
    }
    const decoded = isProtobuf(message.contentType)
      ? decodeProtobufMessage(message.data, message.publishedAt, message.contentType, normalize)
      : decodeJsonMessage(message.data, message.publishedAt, normalize);
    for (const r of decoded.rejected) rejected.push({ message, ...r });
    if (decoded.events.length === 0) continue;
    const list = byTenant.get(tenant) ?? [];
    for (const event of decoded.events) list.push({ event, message });
    byTenant.set(tenant, list);
  }
  return { byTenant, rejected };
}

/**
 * The ingest pipeline: batches from the source are decoded, applied to profiles and segments,
 * written to the warehouse and dead-lettered where invalid; only then is every message of the
 * batch acked. A batch whose sinks fail is nak'ed as a whole and redelivered; every sink is
 * idempotent per messageId, so a redelivery changes nothing that was already applied.
 */
export function ingest(source: AsyncIterator<SourceMessage>, sinks: IngestSinks, options: IngestOptions): Observable<BatchReport> {
  const credits = new Credits(options.concurrency);
  const now = options.now ?? Date.now;
  const realtime = new RealtimeSegments({
    segments: sinks.segments, profiles: sinks.profiles, features: sinks.features, history: sinks.history, log: options.log, metrics: options.metrics, now,
  });
  // Bytes bound a batch too: a message may carry a whole Segment batch (hundreds of events), so
  // counting messages alone lets a backlog build batches of a quarter million events.
  return from(batches(source, options.batchSize, options.batchWaitMs, credits, (m) => m.data.byteLength, MAX_BATCH_BYTES)).pipe(
    map((messages) => ({ messages, decoded: decodeBatch(messages, options.namespace, options.normalize), started: now() })),
    // Batches overlap up to `concurrency`: every sink is idempotent and commutative, so their order
    // does not matter, and one batch's CPU work hides another's waits on Redis and ClickHouse.
    mergeMap(({ messages, decoded, started }) =>
      defer(() => applyBatch(decoded, sinks, options, now, realtime)).pipe(
        map((report) => {
          for (const m of messages) m.ack();
          options.metrics.batchSeconds.observe((now() - started) / 1000);
          return { ...report, messages: messages.length };
        }),
        catchError((err: unknown) => {
          options.log.error({ err, messages: messages.length }, 'batch failed; messages will be redelivered');
          // A tenant its layout marker keeps from this process (migrating, or the other layout) comes back later.
          const delay = isLayoutRefusal(err) ? LAYOUT_RETRY_MS : 1_000;
          for (const m of messages) m.nak(delay);
          return of({ messages: messages.length, applied: 0, duplicates: 0, rejected: 0, segmentChanges: 0, failed: true });
        }),
        finalize(() => credits.release()),
      ),
      options.concurrency,
    ),
  );
}

async function applyBatch(decoded: DecodedBatch, sinks: IngestSinks, options: IngestOptions, now: () => number, realtime: RealtimeSegments): Promise<Omit<BatchReport, 'messages'>> {
  let applied = 0;
  let duplicates = 0;
  let segmentChanges = 0;
  const consentDenied: string[] = [];
  await Promise.all([...decoded.byTenant].map(async ([tenant, all]) => {
    // The consent gate: a denied event builds no profile or segments (src/privacy/consent.ts).
    const gate = consentGate(tenant, all, options.consent ?? DEFAULT_CONSENT_SETTINGS);
    const items = gate.allowed.map((a) => a.item);
    const events = gate.allowed.map((a) => a.profileEvent);
    const refusals = gate.denied.flatMap((d) => (d.record === undefined ? [] : [{ event: d.item.event, record: d.record }]));
    const consentChanged = sinks.consent !== undefined && refusals.length > 0 ? (await sinks.consent.recordRefusals(tenant, refusals)).changed : [];
    const results = await sinks.profiles.applyEvents(tenant, events);
    for (const r of results) if (r.traitChanges.some((c) => c.trait === CONSENT_TRAIT)) consentChanged.push(r.profileId);
    if (sinks.announceConsent !== undefined && consentChanged.length > 0) await sinks.announceConsent(tenant, consentChanged);
    if (sinks.recordProfileChanges !== undefined) await sinks.recordProfileChanges(tenant, events, results);
    for (const r of results) {
      if (r.duplicate) continue;
      options.metrics.profileMerges.inc({ outcome: 'merged' }, r.merges.length);
      options.metrics.profileMerges.inc({ outcome: 'refused' }, r.refused.length);
    }
    const records: EventRecord[] = results.map((r, i) => {
      if (r.duplicate) duplicates++;
      else applied++;
      const item = items[i];
      if (item === undefined) throw new Error('apply returned more results than events');
      return { event: item.event, profileId: r.profileId, maybeWritten: r.duplicate || item.message.redelivered };
    });
    for (const d of gate.denied) {
      consentDenied.push(d.reason);
      if (d.anonymous !== undefined) records.push({ event: d.anonymous, profileId: '', maybeWritten: d.item.message.redelivered });
    }
    // Segments are re-evaluated even for duplicates: a crash between applying and evaluating
    // must not leave membership stale after the redelivery.
    // A profile merged away in this batch is evaluated as its survivor (the store removed it from its segments).
    const changes = await evaluateSegments(tenant, events, throughMerges(results), realtime);
    segmentChanges += changes.length;
    if (changes.length > 0) await sinks.publishChanges(tenant, changes);
    await sinks.events.write(tenant, records, now());
  }));
  for (const r of decoded.rejected) {
    await sinks.deadLetter(r);
    options.metrics.eventsDeadLettered.inc({ reason: r.problem.field === 'body' ? 'json' : 'schema' });
  }
  options.metrics.eventsProcessed.inc({ result: 'applied' }, applied);
  options.metrics.eventsProcessed.inc({ result: 'duplicate' }, duplicates);
  for (const reason of consentDenied) options.metrics.eventsConsentDenied.inc({ reason });
  return { applied, duplicates, rejected: decoded.rejected.length, segmentChanges, failed: false };
}

/**
 * Records the events' features, then re-evaluates, per profile, the segments its events can
 * affect (the traits they set or changed, their event names); a merge affects them all.
 */
async function evaluateSegments(tenant: string, events: readonly PulseEvent[], results: readonly Applied[], realtime: RealtimeSegments): Promise<TimedChange[]> {
  const touched = new Map<string, EventChange[] | 'all'>();
  const occurrences: FeatureEvent[] = [];
  results.forEach((r, i) => {
    const e = events[i];
    if (e === undefined) return;
    const event = counterName(e);
    const seen = touched.get(r.profileId) ?? [];
    const traits = [...new Set([...Object.keys(e.traits), ...r.traitChanges.map((c) => c.trait)])];
    touched.set(r.profileId, seen === 'all' || r.merges.length > 0 ? 'all' : [...seen, { event, traits }]);
    occurrences.push({ profileId: r.profileId, messageId: e.messageId, event, properties: e.properties, at: e.timestamp });
  });
  await realtime.recordFeatures(tenant, occurrences);
  return realtime.evaluate(tenant, touched, 'ingest');
}
