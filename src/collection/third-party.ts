import { PulseError } from '../errors.ts';
import type { Logger } from '../infra/log.ts';
import type { JsonObject } from '../json.ts';
import { safeReason, type ApiSource } from './connectors/model.ts';
import { listPages, PartnerApi, type PartnerApiDeps } from './connectors/partner-api.http.ts';
import { acceptEvents, type EventPublisher } from './publisher.ts';
import type { FileRecord } from './records.ts';
import {
  audienceEvent, mapSegments, PROVIDER_PATTERN, readAudienceRecord, UnmappedTally, type TaxonomyMap,
} from './taxonomy.ts';

/** How a third-party data set is imported. */
export interface ThirdPartyOptions {
  readonly tenant: string;
  readonly provider: string;
  readonly taxonomy: TaxonomyMap;
  readonly publisher: EventPublisher;
  readonly log: Logger;
  /** The data set's date: the events' time when records carry none (last write wins by it). */
  readonly asOf: number;
  /** Identifier type of records that do not name one (default `partner:<provider>`). */
  readonly idType?: string;
  /** Events per JetStream message. */
  readonly batchSize?: number;
  /** Batches published and not yet acknowledged at most: reading waits beyond that. */
  readonly maxInFlight?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (report: ThirdPartyReport) => void;
}

/** What an import did. */
export interface ThirdPartyReport {
  readonly records: number;
  /** Events published and acknowledged (one per person with at least one mapped segment). */
  readonly published: number;
  /** Records with no segment the map knows: nothing to set. */
  readonly skipped: number;
  /** Records that could not be read (no id, bad id, no segments, unparsable line). */
  readonly invalid: number;
  readonly unmapped: { readonly occurrences: number; readonly distinct: number; readonly top: readonly { id: string; count: number }[] };
  /** How many people each taxonomy id was set for. */
  readonly categories: Readonly<Record<string, number>>;
  readonly completed: boolean;
}

/**
 * Imports a third-party data set: each record (a user identifier and the provider's segment ids)
 * is mapped onto the taxonomy and becomes one identify event setting `audiences_3p_<provider>`.
 * Events are validated (acceptEvents), published in batches with at most `maxInFlight` batches
 * awaiting JetStream's acknowledgement, and the source is read no faster than that: memory stays
 * bounded however large the data set.
 */
export async function importThirdParty(records: AsyncIterable<FileRecord>, options: ThirdPartyOptions): Promise<ThirdPartyReport> {
  if (!PROVIDER_PATTERN.test(options.provider)) throw new PulseError('INVALID_ARGUMENT', `provider must match ${PROVIDER_PATTERN.source}`, { field: 'provider' });
  if (options.taxonomy.provider !== undefined && options.taxonomy.provider !== options.provider) {
    throw new PulseError('INVALID_ARGUMENT', `the taxonomy map is for provider ${JSON.stringify(options.taxonomy.provider)}, not ${JSON.stringify(options.provider)}`, { field: 'provider' });
  }
  const batchSize = options.batchSize ?? 500;
  const maxInFlight = options.maxInFlight ?? 4;
  const log = options.log.child({ provider: options.provider, tenant: options.tenant });
  const unmapped = new UnmappedTally();
  const categories: Record<string, number> = {};
  let n = 0;
  let published = 0;
  let skipped = 0;
  let invalid = 0;
  let failure: Error | undefined;
  const inFlight = new Set<Promise<void>>();
  let batch: JsonObject[] = [];

  const report = (completed: boolean): ThirdPartyReport => ({
    records: n, published, skipped, invalid, categories: { ...categories }, completed,
    unmapped: { occurrences: unmapped.occurrences, distinct: unmapped.distinct, top: unmapped.top(20) },
  });
  const flush = async () => {
    if (batch.length === 0) return;
    const events = batch;
    batch = [];
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (failure !== undefined) return;
    const p: Promise<void> = options.publisher.publish(options.tenant, events).then(
      () => { published += events.length; },
      (err: unknown) => { failure ??= err instanceof Error ? err : new Error(String(err)); },
    ).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  try {
    for await (const item of records) {
      if (failure !== undefined || options.signal?.aborted === true) break;
      n++;
      if (item.record === undefined) {
        invalid++;
        log.warn({ record: item.n, reason: safeReason(item.error ?? '') }, 'third-party record unreadable');
        continue;
      }
      const read = readAudienceRecord(item.record, options.taxonomy, options.provider, options.idType);
      if (!read.ok) {
        invalid++;
        log.warn({ record: item.n, reason: safeReason(read.reason) }, 'third-party record refused');
        continue;
      }
      const { mapped, unmapped: unknown } = mapSegments(options.taxonomy, read.record.segments);
      unmapped.add(unknown);
      if (mapped.length === 0) {
        skipped++;
        continue;
      }
      const accepted = acceptEvents([audienceEvent(options.provider, options.taxonomy, read.record, mapped, options.asOf)], options.asOf);
      const event = accepted.accepted[0];
      if (event === undefined) {
        invalid++;
        log.warn({ record: item.n, reason: safeReason(accepted.rejected[0]?.problem.reason ?? '') }, 'third-party record refused');
        continue;
      }
      for (const c of mapped) categories[c] = (categories[c] ?? 0) + 1;
      batch.push(event);
      if (batch.length >= batchSize) {
        await flush();
        options.onProgress?.(report(false));
      }
    }
    await flush();
  } finally {
    await Promise.all(inFlight);
  }
  if (failure !== undefined) throw failure;
  const done = report(options.signal?.aborted !== true);
  options.onProgress?.(done);
  log.info({ records: done.records, published, skipped, invalid, unmapped: done.unmapped.occurrences }, 'third-party import ended');
  return done;
}

/**
 * The records of a paginated API, in the shape files are read in (numbered, 1-based). Retries,
 * Retry-After and auth are the connectors' own.
 */
export async function* apiRecords(source: ApiSource, deps: PartnerApiDeps, signal: AbortSignal): AsyncGenerator<FileRecord> {
  const api = new PartnerApi(source, deps);
  let n = 0;
  let pages = 0;
  for await (const page of listPages(api, source, undefined, {}, signal)) {
    for (const record of page.records) {
      n++;
      if (record !== null && typeof record === 'object' && !Array.isArray(record)) yield { n, record: record as Record<string, unknown>, error: undefined };
      else yield { n, record: undefined, error: 'not a JSON object' };
    }
    if (++pages >= source.maxPagesPerRun) {
      throw new PulseError('FAILED_PRECONDITION', `more than maxPagesPerRun (${source.maxPagesPerRun}) pages; raise it in the source definition`);
    }
  }
}
