// Segment-spec events for the ingest runs. The raw JetStream ceiling and Pulse get the very same
// bytes, so the ratio compares like with like.

/** A NATS message body with its de-duplication id (`Nats-Msg-Id`). */
export interface BenchMessage {
  readonly data: Uint8Array;
  readonly msgId: string;
  readonly events: number;
}

const encoder = new TextEncoder();
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

/**
 * Event `i` of a run over `users` people: each person's first event is an `identify` with traits
 * (even users are on plan `pro`), then `track` events; rounds 1, 4 and 7 are `Purchase`, so by
 * the 8th event every person has done 3 purchases. About 450 bytes of JSON each.
 */
export function makeEvent(runId: string, i: number, users: number, userOffset: number, baseTime: number): Record<string, unknown> {
  const u = userOffset + (i % users);
  const round = Math.floor(i / users);
  const common = {
    messageId: `${runId}-${i}`,
    userId: `u${u}`,
    anonymousId: `anon-${u.toString(36)}-${runId}`,
    timestamp: new Date(baseTime + i).toISOString(),
    context: {
      ip: `10.${(u >> 16) & 255}.${(u >> 8) & 255}.${u & 255}`,
      userAgent: USER_AGENT,
      library: { name: 'analytics.js', version: '4.1.0' },
      page: { path: `/products/${i % 997}`, referrer: 'https://www.example.com/' },
    },
  };
  if (round === 0) {
    return { type: 'identify', ...common, traits: { plan: u % 2 === 0 ? 'pro' : 'free', country: ['FR', 'DE', 'US', 'GB'][u % 4], age: 20 + (u % 50) } };
  }
  const purchase = round % 3 === 1;
  return {
    type: 'track', ...common,
    event: purchase ? 'Purchase' : 'Product Viewed',
    properties: { sku: `sku-${i % 5003}`, price: (i % 100) + 0.99, currency: 'EUR', quantity: 1 + (i % 3) },
  };
}

/** `total` events as messages of `perMessage` events (`{"batch":[...]}`), or one event each when 1. */
export function makeMessages(runId: string, total: number, perMessage: number, users: number, userOffset: number, baseTime = Date.now()): BenchMessage[] {
  const out: BenchMessage[] = [];
  for (let start = 0; start < total; start += perMessage) {
    const count = Math.min(perMessage, total - start);
    if (perMessage === 1) {
      const event = makeEvent(runId, start, users, userOffset, baseTime);
      out.push({ data: encoder.encode(JSON.stringify(event)), msgId: String(event['messageId']), events: 1 });
      continue;
    }
    const batch = Array.from({ length: count }, (_, k) => makeEvent(runId, start + k, users, userOffset, baseTime));
    out.push({ data: encoder.encode(JSON.stringify({ batch })), msgId: `${runId}-b${start / perMessage}`, events: count });
  }
  return out;
}

/** Average size of one event in bytes, for the report. */
export function bytesPerEvent(messages: readonly BenchMessage[]): number {
  const bytes = messages.reduce((s, m) => s + m.data.byteLength, 0);
  const events = messages.reduce((s, m) => s + m.events, 0);
  return Math.round(bytes / Math.max(1, events));
}
