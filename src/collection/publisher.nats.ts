import { createHash } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { TENANT_PATTERN } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import { streamNames } from '../infra/nats.ts';
import type { JsonObject } from '../json.ts';
import type { EventPublisher } from './publisher.ts';

/** How the NATS publisher behaves. */
export interface NatsPublisherOptions {
  /** Longest wait for JetStream's acknowledgement before the publish counts as failed. */
  readonly ackTimeoutMs: number;
}

/**
 * Publishes a collector's events as one JetStream message `{"batch": [...]}` on
 * `<namespace>.events.<tenant>`, so a request is stored whole or not at all. `Nats-Msg-Id` is a
 * hash of the tenant and the events' messageIds: a client retrying the same request within the
 * stream's duplicate window is stored once (per-event de-duplication covers the rest).
 *
 * While the connection is down, publishing fails at once instead of queueing in the client's
 * reconnect buffer: a request answered 503 must not be stored later behind the caller's back.
 */
export function natsEventPublisher(nc: NatsConnection, namespace: string, options: NatsPublisherOptions): EventPublisher {
  const js = jetstream(nc);
  const names = streamNames(namespace);
  let connected = !nc.isClosed();
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'close') connected = false;
      else if (s.type === 'reconnect') connected = true;
    }
  })().catch(() => {
    // Without status updates, publishes still fail on the ack timeout.
    connected = true;
  });
  return {
    async publish(tenant: string, events: readonly JsonObject[]): Promise<void> {
      if (!TENANT_PATTERN.test(tenant)) throw new PulseError('INVALID_ARGUMENT', 'tenant: not a valid tenant', { field: 'tenant' });
      if (events.length === 0) return;
      if (!connected || nc.isClosed()) throw new PulseError('UNAVAILABLE', 'the event log (NATS) is unreachable; retry later');
      const body = new TextEncoder().encode(JSON.stringify({ batch: events }));
      const maxPayload = nc.info?.max_payload ?? Infinity;
      if (body.length > maxPayload) {
        // Retrying would not help, so this is not UNAVAILABLE; callers keep requests under MAX_BATCH_BYTES.
        throw new PulseError('RESOURCE_EXHAUSTED', `events: ${body.length} bytes, above the NATS server's max_payload of ${maxPayload}; publish fewer at once`, { field: 'events' });
      }
      const h = headers();
      h.set('Content-Type', 'application/json');
      try {
        await js.publish(names.eventsSubject(tenant), body, {
          headers: h, msgID: messageIdOf(tenant, events), timeout: options.ackTimeoutMs,
        });
      } catch (err) {
        throw new PulseError('UNAVAILABLE', 'the event log (NATS JetStream) did not acknowledge the events; retry later', { cause: err });
      }
    },
  };
}

function messageIdOf(tenant: string, events: readonly JsonObject[]): string {
  const hash = createHash('sha256').update(tenant);
  for (const e of events) hash.update('\n').update(JSON.stringify(e['messageId'] ?? null));
  return hash.digest('hex');
}
