import { catchError, concatMap, defer, finalize, from, map, of, type Observable } from 'rxjs';
import { TENANT_PATTERN } from '../src/auth/keys.ts';
import { decodeJsonMessage, type PulseEvent } from '../src/collection/event.ts';
import { DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from '../src/collection/normalize.ts';
import { DEFAULT_CONSENT_SETTINGS, type ConsentSettings } from '../src/privacy/consent.ts';
import { consentGate } from '../src/privacy/gate.ts';
import type { ConsentStore } from '../src/privacy/store.ts';
import { decodeProtobufMessage, isProtobuf } from '../src/collection/event-proto.ts';
import type { Logger } from '../src/infra/log.ts';
import type { Metrics } from '../src/infra/metrics.ts';
import type { ProfileStore } from '../src/profiles/store.ts';
import type { Rejection, SourceMessage } from '../src/collection/source.ts';
import { compile, evaluateAll, type CompiledSegment } from '../src/segments/model.ts';
import type { MembershipChange, SegmentStore } from '../src/segments/store.ts';
import type { EventRecord, EventWriter } from '../src/warehouse/events.ts';
import { batches, Credits } from './batching.ts';

/** Sinks of the ingest pipeline. */
export interface IngestSinks {
  readonly profiles: ProfileStore;
  readonly segments: SegmentStore;
  readonly events: EventWriter;
  /** Keeps consent refusals on existing profiles, so a withdrawal replaces an earlier grant. */
  readonly consent?: ConsentStore;
  /** Publishes a rejection to the DLQ and resolves once the DLQ stream has stored it. */
  deadLetter(rejection: Rejection): Promise<void>;
  /** Publishes segment enter/exit changes; resolves once stored. */
  publishChanges(tenant: string, changes: readonly (MembershipChange & { version: number })[]): Promise<void>;
}

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
  return from(batches(source, options.batchSize, options.batchWaitMs, credits)).pipe(
    map((messages) => ({ messages, decoded: decodeBatch(messages, options.namespace, options.normalize), started: now() })),
    concatMap(({ messages, decoded, started }) =>
      defer(() => applyBatch(decoded, sinks, options, now)).pipe(
        map((report) => {
          for (const m of messages) m.ack();
          options.metrics.batchSeconds.observe((now() - started) / 1000);
          return { ...report, messages: messages.length };
        }),
        catchError((err: unknown) => {
          options.log.error({ err, messages: messages.length }, 'batch failed; messages will be redelivered');
          for (const m of messages) m.nak(1_000);
          return of({ messages: messages.length, applied: 0, duplicates: 0, rejected: 0, segmentChanges: 0, failed: true });
        }),
        finalize(() => credits.release()),
      ),
    ),
  );
}

async function applyBatch(decoded: DecodedBatch, sinks: IngestSinks, options: IngestOptions, now: () => number): Promise<Omit<BatchReport, 'messages'>> {
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
    if (sinks.consent !== undefined && refusals.length > 0) await sinks.consent.recordRefusals(tenant, refusals);
    const results = await sinks.profiles.applyEvents(tenant, events);
    const latest = new Map<string, number>();
    const records: EventRecord[] = results.map((r, i) => {
      if (r.duplicate) duplicates++;
      else applied++;
      latest.set(r.profileId, Math.max(latest.get(r.profileId) ?? 0, r.version));
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
    const changes = await evaluateSegments(tenant, [...latest.keys()], sinks, options);
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

async function evaluateSegments(tenant: string, profileIds: readonly string[], sinks: IngestSinks, options: IngestOptions): Promise<(MembershipChange & { version: number })[]> {
  if (profileIds.length === 0) return [];
  const definitions = await sinks.segments.list(tenant);
  if (definitions.length === 0) return [];
  let compiled: CompiledSegment[];
  try {
    compiled = compile(definitions);
  } catch (err) {
    options.log.error({ err, tenant }, 'a stored segment rule does not parse; segments not evaluated');
    return [];
  }
  const facts = await sinks.profiles.facts(tenant, profileIds);
  const all = await Promise.all([...facts].map(async ([profileId, f]) => {
    const changes = await sinks.segments.writeMembership(tenant, profileId, f.version, evaluateAll(compiled, f.facts));
    return changes.map((c) => ({ ...c, version: f.version }));
  }));
  const flat = all.flat();
  for (const c of flat) options.metrics.segmentChanges.inc({ kind: c.kind });
  return flat;
}
