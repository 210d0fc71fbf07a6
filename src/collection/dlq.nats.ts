import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { TENANT_PATTERN } from '../auth/keys.ts';
import type { Rejection } from './source.ts';

/** Header names of a dead letter. */
export const DLQ_HEADERS = {
  reason: 'Pulse-Error',
  field: 'Pulse-Error-Field',
  subject: 'Pulse-Source-Subject',
  seq: 'Pulse-Source-Seq',
  index: 'Pulse-Event-Index',
} as const;

/**
 * Publishes refused events to `<namespace>.dlq.<tenant>`: the original bytes (or the one refused
 * event of a batch) with the reason in headers, so they can be fixed and replayed.
 */
export function natsDeadLetter(nc: NatsConnection, namespace: string): (r: Rejection) => Promise<void> {
  const js = jetstream(nc);
  const eventsPrefix = `${namespace}.events.`;
  return async (r) => {
    const tenant = r.message.subject.slice(eventsPrefix.length);
    const subject = `${namespace}.dlq.${TENANT_PATTERN.test(tenant) ? tenant : '_'}`;
    const h = headers();
    h.set(DLQ_HEADERS.reason, oneLine(r.problem.reason));
    h.set(DLQ_HEADERS.field, oneLine(r.problem.field));
    h.set(DLQ_HEADERS.subject, oneLine(r.message.subject));
    h.set(DLQ_HEADERS.seq, String(r.message.seq));
    h.set(DLQ_HEADERS.index, String(r.index));
    // A whole message keeps its encoding so a replay decodes it the same way; one event of a
    // batch is re-encoded as JSON.
    h.set('Content-Type', r.index < 0 ? r.message.contentType : 'application/json');
    const body = r.index < 0 ? r.message.data : new TextEncoder().encode(JSON.stringify(r.raw));
    await js.publish(subject, body, { headers: h, msgID: `${r.message.subject}:${r.message.seq}:${r.index}` });
  };
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}
