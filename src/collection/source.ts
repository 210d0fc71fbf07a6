import type { EventProblem } from './event.ts';

/** A message as the ingest pipeline sees it; the JetStream adapter maps JsMsg onto this. */
export interface SourceMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The Content-Type header: application/json (default) or application/x-protobuf. */
  readonly contentType: string;
  /** Publish time, epoch ms: stable across redeliveries, so it is the default event time. */
  readonly publishedAt: number;
  readonly redelivered: boolean;
  /** A stable id of this message (stream sequence), for DLQ de-duplication. */
  readonly seq: number;
  ack(): void;
  nak(delayMs: number): void;
}

/** An event or a whole message refused by validation. */
export interface Rejection {
  readonly message: SourceMessage;
  /** Index in the message's batch, or -1 for the whole message. */
  readonly index: number;
  readonly raw: unknown;
  readonly problem: EventProblem;
}
