// Ceiling 2: raw JetStream from one Node client, shaped like Pulse's ingest: publish awaiting each
// ack, a durable pull consumer (same max_ack_pending and pull size as Pulse) that JSON.parses and
// acks every message. Runs on a temporary stream of its own, deleted afterwards.
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { BenchMessage } from './events.ts';
import { CpuMeter, log, round } from './util.ts';

export interface PhaseTimes {
  readonly messages: number;
  readonly events: number;
  /** First publish to last publish ack. */
  readonly publishSeconds: number;
  /** Consumer start (isolated) or first publish (concurrent) to last ack. */
  readonly totalSeconds: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: Record<string, number>;
}

/** Publishes every message awaiting its ack; returns seconds from first publish to last ack. */
export async function publishAwaitingAcks(js: JetStreamClient, subject: string, messages: readonly BenchMessage[]): Promise<number> {
  const t0 = performance.now();
  for (const m of messages) await js.publish(subject, m.data, { msgID: m.msgId });
  return (performance.now() - t0) / 1000;
}

/** Consumes `count` messages from a new durable consumer: JSON.parse then ack each. */
async function consumeAndAck(js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string, durable: string, count: number): Promise<() => Promise<number>> {
  await jsm.consumers.add(stream, {
    durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: subject, max_ack_pending: 20_000,
  });
  const consumer = await js.consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 1_000 });
  const done = (async () => {
    let seen = 0;
    let parsed = 0;
    for await (const m of messages) {
      const body = m.data;
      const value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { batch?: unknown[] };
      parsed += Array.isArray(value.batch) ? value.batch.length : 1;
      m.ack();
      if (++seen >= count) break;
    }
    if (parsed === 0) throw new Error('nothing consumed');
    return performance.now();
  })();
  return async () => {
    const end = await done;
    await messages.close();
    return end;
  };
}

export interface RawJetStream {
  /** Publish then consume, one after the other. */
  isolated(label: string, messages: readonly BenchMessage[]): Promise<PhaseTimes>;
  /** Consumer running while publishing, as Pulse runs: first publish to last ack. */
  concurrent(label: string, messages: readonly BenchMessage[]): Promise<PhaseTimes>;
  /** Deletes the temporary stream. */
  close(): Promise<void>;
}

/** Creates the temporary stream `<name>` on subjects `<subjectRoot>.>` (file storage, like Pulse's). */
export async function rawJetStream(nc: NatsConnection, name: string, subjectRoot: string, pids: Readonly<Record<string, number | 'self' | undefined>>): Promise<RawJetStream> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name, subjects: [`${subjectRoot}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits, duplicate_window: nanos(2 * 60 * 1000) });
  let run = 0;
  const events = (messages: readonly BenchMessage[]) => messages.reduce((s, m) => s + m.events, 0);
  return {
    async isolated(label, messages) {
      const subject = `${subjectRoot}.r${++run}`;
      const meter = new CpuMeter(pids).start();
      const publishSeconds = await publishAwaitingAcks(js, subject, messages);
      const t1 = performance.now();
      const wait = await consumeAndAck(js, jsm, name, subject, `c${run}`, messages.length);
      const end = await wait();
      const cpu = meter.stop();
      const r = { messages: messages.length, events: events(messages), publishSeconds, totalSeconds: (end - t1) / 1000, wallSeconds: cpu.wallSeconds, cpuSeconds: cpu.cpuSeconds };
      log(`  ${label}: publish ${Math.round(r.messages / publishSeconds)} msg/s, consume+parse+ack ${Math.round(r.messages / r.totalSeconds)} msg/s`);
      return r;
    },
    async concurrent(label, messages) {
      const subject = `${subjectRoot}.r${++run}`;
      const wait = await consumeAndAck(js, jsm, name, subject, `c${run}`, messages.length);
      const meter = new CpuMeter(pids).start();
      const t0 = performance.now();
      const publishSeconds = await publishAwaitingAcks(js, subject, messages);
      const end = await wait();
      const cpu = meter.stop();
      const r = { messages: messages.length, events: events(messages), publishSeconds, totalSeconds: (end - t0) / 1000, wallSeconds: cpu.wallSeconds, cpuSeconds: cpu.cpuSeconds };
      log(`  ${label}: ${Math.round(r.events / r.totalSeconds)} events/s (${Math.round(r.messages / r.totalSeconds)} msg/s) in ${round(r.totalSeconds, 2)} s`);
      return r;
    },
    async close() {
      await jsm.streams.delete(name);
    },
  };
}
