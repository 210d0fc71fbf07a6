import { acceptEvents, type Accepted } from './publisher.ts';
import { DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from './normalize.ts';

/** Largest event a collector takes, as Segment: 32 KB of JSON. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** Largest request (one batch, one JetStream message) a collector takes, as Segment: 500 KB. */
export const MAX_BATCH_BYTES = 500 * 1024;

/** The field an oversized event is refused under (no event field is named so). */
export const SIZE_FIELD = 'size';

/** What a collector publishes and refuses for one request, with the JSON size of its events. */
export interface Screened extends Accepted {
  readonly bytes: number;
}

/**
 * acceptEvents with Segment's size limit per event: an event above MAX_EVENT_BYTES is refused
 * (field `size`) while the others of its batch go on. Indexes are positions in `raw`; accepted
 * events keep their order.
 */
export function acceptWithinLimits(raw: readonly unknown[], receivedAt: number, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): Screened {
  const kept: number[] = [];
  const rejected: Accepted['rejected'][number][] = [];
  let bytes = 0;
  raw.forEach((item, index) => {
    const size = Buffer.byteLength(JSON.stringify(item) ?? '');
    bytes += size;
    if (size > MAX_EVENT_BYTES) rejected.push({ index, problem: { field: SIZE_FIELD, reason: `${SIZE_FIELD}: ${size} bytes of JSON, above the limit of ${MAX_EVENT_BYTES} for one event` } });
    else kept.push(index);
  });
  const result = acceptEvents(kept.map((i) => raw[i]), receivedAt, options);
  for (const r of result.rejected) rejected.push({ index: kept[r.index] ?? r.index, problem: r.problem });
  rejected.sort((a, b) => a.index - b.index);
  return { accepted: result.accepted, rejected, bytes };
}
