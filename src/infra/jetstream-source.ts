import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { SourceMessage } from '../collection/source.ts';

/** A durable pull consumer as an iterator of SourceMessage. */
export interface MessageSource {
  readonly iterator: AsyncIterator<SourceMessage>;
  /** Stops pulling; the iterator ends after the messages already delivered. */
  stop(): Promise<void>;
}

/** Consumes `durable` on `stream`, keeping at most `maxMessages` pulled ahead. */
export async function jetStreamSource(nc: NatsConnection, stream: string, durable: string, maxMessages: number): Promise<MessageSource> {
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: maxMessages });
  async function* iterate(): AsyncGenerator<SourceMessage> {
    for await (const m of messages) yield toSource(m);
  }
  return {
    iterator: iterate(),
    stop: async () => {
      await messages.close();
    },
  };
}

function toSource(m: JsMsg): SourceMessage {
  return {
    subject: m.subject,
    data: m.data,
    contentType: m.headers?.get('Content-Type') || 'application/json',
    publishedAt: Math.floor(m.info.timestampNanos / 1e6),
    redelivered: m.info.redelivered,
    seq: m.seq,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
  };
}
