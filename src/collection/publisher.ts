import type { JsonObject } from '../json.ts';
import { normalizeEvent, type EventProblem, type PulseEvent } from './event.ts';
import { DEFAULT_NORMALIZE_OPTIONS, type NormalizeOptions } from './normalize.ts';

/**
 * Where collectors hand accepted events. `publish` resolves only once the events are durably
 * stored (JetStream acknowledged them), so a collector that answers after it never loses an
 * acknowledged event; it throws PulseError UNAVAILABLE when the log cannot be reached.
 */
export interface EventPublisher {
  publish(tenant: string, events: readonly JsonObject[]): Promise<void>;
}

/** The outcome of validating a batch at a collector: wire events to publish and the refused ones. */
export interface Accepted {
  readonly accepted: JsonObject[];
  readonly rejected: { readonly index: number; readonly problem: EventProblem }[];
}

/**
 * Validates and normalizes raw events at the door, with the same step the processor runs, and
 * returns them in wire form (normalized: hashed identifiers instead of raw PII). Normalization is
 * idempotent, so the processor's second pass changes nothing.
 */
export function acceptEvents(raw: readonly unknown[], receivedAt: number, options: NormalizeOptions = DEFAULT_NORMALIZE_OPTIONS): Accepted {
  const accepted: JsonObject[] = [];
  const rejected: Accepted['rejected'][number][] = [];
  raw.forEach((item, index) => {
    const r = normalizeEvent(item, receivedAt, options);
    if (r.ok) accepted.push(toWire(r.event));
    else rejected.push({ index, problem: r.problem });
  });
  return { accepted, rejected };
}

/** A normalized event back in Segment-spec JSON (what travels on `<namespace>.events.<tenant>`). */
export function toWire(e: PulseEvent): JsonObject {
  const wire: JsonObject = {
    type: e.type,
    messageId: e.messageId,
    timestamp: new Date(e.timestamp).toISOString(),
    properties: e.properties,
    traits: e.traits,
    context: e.context,
  };
  if (e.userId !== undefined) wire['userId'] = e.userId;
  if (e.anonymousId !== undefined) wire['anonymousId'] = e.anonymousId;
  if (e.type === 'track') wire['event'] = e.event;
  else if ((e.type === 'page' || e.type === 'screen') && e.event !== '') wire['name'] = e.event;
  for (const [k, v] of Object.entries(e.extra)) wire[k] = v;
  return wire;
}
