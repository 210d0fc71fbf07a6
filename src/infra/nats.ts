import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';

/** Names of a namespace's streams, subjects and durable consumer. */
export interface StreamNames {
  readonly events: string;
  readonly dlq: string;
  readonly changes: string;
  readonly eventsSubject: (tenant: string) => string;
  readonly dlqSubject: (tenant: string) => string;
  readonly changesSubject: (tenant: string, kind: string) => string;
  readonly processorDurable: string;
}

/** `pulse` -> PULSE_EVENTS, pulse.events.<tenant>, ... */
export function streamNames(namespace: string): StreamNames {
  const up = namespace.toUpperCase();
  return {
    events: `${up}_EVENTS`,
    dlq: `${up}_DLQ`,
    changes: `${up}_CHANGES`,
    eventsSubject: (tenant) => `${namespace}.events.${tenant}`,
    dlqSubject: (tenant) => `${namespace}.dlq.${tenant}`,
    changesSubject: (tenant, kind) => `${namespace}.changes.${tenant}.${kind}`,
    processorDurable: `${namespace}-processor`,
  };
}

/** Connects to NATS with reconnects on; the name shows in the server's connection list. */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  // noAsyncTraces: no Error with a stack trace built ahead for every request (each JetStream publish), in case it times out.
  return connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true });
}

/**
 * Creates or updates the namespace's streams and the processor's durable consumer. Events keep
 * 7 days, the DLQ 30 days (time to fix and replay), changes 1 day.
 */
export async function ensureStreams(nc: NatsConnection, namespace: string, ackWaitMs: number): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const n = streamNames(namespace);
  const day = 24 * 3600 * 1000;
  const specs = [
    { name: n.events, subjects: [`${namespace}.events.*`], max_age: nanos(7 * day), duplicate_window: nanos(2 * 60 * 1000) },
    { name: n.dlq, subjects: [`${namespace}.dlq.*`], max_age: nanos(30 * day), duplicate_window: nanos(2 * 60 * 1000) },
    { name: n.changes, subjects: [`${namespace}.changes.*.*`], max_age: nanos(day), duplicate_window: nanos(2 * 60 * 1000) },
  ];
  for (const spec of specs) {
    const config = { ...spec, storage: StorageType.File, retention: RetentionPolicy.Limits };
    try {
      await jsm.streams.info(spec.name);
      await jsm.streams.update(spec.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(config);
    }
  }
  const consumer = {
    durable_name: n.processorDurable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 20_000,
  };
  try {
    await jsm.consumers.info(n.events, n.processorDurable);
    await jsm.consumers.update(n.events, n.processorDurable, { ack_wait: consumer.ack_wait, max_ack_pending: consumer.max_ack_pending });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(n.events, consumer);
  }
  return jsm;
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}
