import { headers, millis, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager, type JsMsg, type StoredMsg } from '@nats-io/jetstream';
import { TENANT_PATTERN } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import { streamNames } from '../infra/nats.ts';
import { DLQ_HEADERS } from './dlq.nats.ts';

/** One dead letter as an operator sees it: where it came from and why, never its whole body. */
export interface DeadLetter {
  /** Sequence in the DLQ stream: what `pulse dlq replay --seq` takes. */
  readonly seq: number;
  /** The tenant of the original subject; `_` when that subject had no valid tenant. */
  readonly tenant: string;
  readonly time: Date;
  readonly reason: string;
  readonly field: string;
  readonly sourceSubject: string;
  readonly sourceSeq: string;
  /** Index of the event in its batch, or -1 for the whole message. */
  readonly index: string;
  readonly contentType: string;
  readonly bytes: number;
  /** At most PREVIEW_CHARS characters, personal fields masked. */
  readonly preview: string;
}

/** The outcome of a replay. */
export interface ReplaySummary {
  /** Letters republished to the events stream and removed from the DLQ. */
  readonly replayed: number;
  /** Letters left in the DLQ, with why. */
  readonly skipped: readonly { readonly seq: number; readonly reason: string }[];
}

/** Longest body preview shown. */
export const PREVIEW_CHARS = 160;

const DEFAULT_CONTENT_TYPE = 'application/json';
const PERSONAL_KEY = /e-?mail|phone|mobile|ip$|^ip|address|name|birth|ssn|passport/i;

/**
 * A short view of a body for a listing: JSON has the values of personal-looking keys masked and
 * long strings cut; other bodies show their printable start with e-mail addresses masked.
 */
export function previewBody(data: Uint8Array, contentType: string): string {
  if (data.byteLength === 0) return '(empty)';
  if (contentType !== DEFAULT_CONTENT_TYPE && !contentType.startsWith('text/')) return `(${data.byteLength} bytes of ${contentType})`;
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  let shown: string;
  try {
    shown = JSON.stringify(JSON.parse(text), (key, value: unknown) => {
      if (key !== '' && PERSONAL_KEY.test(key) && (typeof value === 'string' || typeof value === 'number')) return '***';
      if (typeof value === 'string' && value.length > 40) return `${value.slice(0, 37)}...`;
      return value;
    });
  } catch {
    shown = text.replace(/[\p{Cc}]+/gu, ' ').replace(/[^\s"'<>@]+@[^\s"'<>@]+/g, '***@***');
  }
  return shown.length > PREVIEW_CHARS ? `${shown.slice(0, PREVIEW_CHARS - 1)}…` : shown;
}

/** A stored DLQ message, whichever API read it. */
interface Stored {
  readonly seq: number;
  readonly subject: string;
  readonly time: Date;
  readonly data: Uint8Array;
  readonly headers: { get(k: string): string } | undefined;
}

function letterOf(namespace: string, m: Stored): DeadLetter {
  const h = (k: string) => m.headers?.get(k) ?? '';
  const contentType = h('Content-Type') || DEFAULT_CONTENT_TYPE;
  return {
    seq: m.seq,
    tenant: m.subject.slice(`${namespace}.dlq.`.length),
    time: m.time,
    reason: h(DLQ_HEADERS.reason),
    field: h(DLQ_HEADERS.field),
    sourceSubject: h(DLQ_HEADERS.subject),
    sourceSeq: h(DLQ_HEADERS.seq),
    index: h(DLQ_HEADERS.index),
    contentType,
    bytes: m.data.byteLength,
    preview: previewBody(m.data, contentType),
  };
}

function fromJsMsg(m: JsMsg): Stored {
  return { seq: m.seq, subject: m.subject, time: new Date(millis(m.info.timestampNanos)), data: m.data, headers: m.headers };
}

function fromStored(m: StoredMsg): Stored {
  return { seq: m.seq, subject: m.subject, time: m.time, data: m.data, headers: m.header };
}

function filterOf(namespace: string, tenant: string | undefined): string {
  if (tenant !== undefined && !TENANT_PATTERN.test(tenant) && tenant !== '_') {
    throw new PulseError('INVALID_ARGUMENT', `tenant: must match ${TENANT_PATTERN.source}`, { field: 'tenant' });
  }
  return streamNames(namespace).dlqSubject(tenant ?? '*');
}

/** How many letters match a subject filter right now. */
async function countLetters(jsm: JetStreamManager, stream: string, filter: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

/**
 * Reads the letters matching `filter` that are in the DLQ now, oldest first, at most `limit`,
 * with an ordered consumer (nothing is acked or removed). Letters added meanwhile are not read.
 */
async function* scan(nc: NatsConnection, namespace: string, filter: string, limit: number, headersOnly: boolean): AsyncGenerator<JsMsg> {
  const stream = streamNames(namespace).dlq;
  const jsm = await jetstreamManager(nc);
  let remaining = Math.min(limit, await countLetters(jsm, stream, filter));
  if (remaining === 0) return;
  const lastSeq = (await jsm.streams.info(stream)).state.last_seq;
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All, headers_only: headersOnly });
  try {
    while (remaining > 0) {
      let got = 0;
      for await (const m of await consumer.fetch({ max_messages: Math.min(remaining, 256), expires: 2_000 })) {
        got++;
        if (m.seq > lastSeq) return;
        yield m;
        remaining--;
        if (remaining === 0 || m.info.pending === 0) return;
      }
      if (got === 0) return;
    }
  } finally {
    // The server would drop the ordered consumer after minutes of inactivity; drop it now.
    await consumer.delete().catch(() => false);
  }
}

/** Lists dead letters, oldest first, with the total that match. */
export async function listDeadLetters(nc: NatsConnection, namespace: string, options: { tenant?: string; limit: number }): Promise<{ letters: DeadLetter[]; total: number }> {
  const filter = filterOf(namespace, options.tenant);
  const letters: DeadLetter[] = [];
  for await (const m of scan(nc, namespace, filter, options.limit, false)) letters.push(letterOf(namespace, fromJsMsg(m)));
  const total = await countLetters(await jetstreamManager(nc), streamNames(namespace).dlq, filter);
  return { letters, total };
}

/**
 * Republishes dead letters to `<namespace>.events.<tenant>` (original body and Content-Type) and
 * removes each from the DLQ only once JetStream has acknowledged its republication, so a letter
 * is never lost; the processor validates it again, and one still invalid comes back to the DLQ
 * with its reason. Either one letter (`seq`) or all of them (`all`), narrowed by `tenant`.
 */
export async function replayDeadLetters(nc: NatsConnection, namespace: string, options: { tenant?: string; seq?: number; all?: boolean }): Promise<ReplaySummary> {
  if ((options.seq === undefined) === (options.all !== true)) throw new PulseError('INVALID_ARGUMENT', 'give either --seq N or --all', { field: 'seq' });
  const names = streamNames(namespace);
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const filter = filterOf(namespace, options.tenant);
  const skipped: { seq: number; reason: string }[] = [];
  let replayed = 0;

  const replayOne = async (letter: Stored): Promise<void> => {
    const tenant = letter.subject.slice(`${namespace}.dlq.`.length);
    if (!TENANT_PATTERN.test(tenant)) {
      skipped.push({ seq: letter.seq, reason: 'its original subject had no valid tenant, so there is nowhere to replay it' });
      return;
    }
    const h = headers();
    h.set('Content-Type', letter.headers?.get('Content-Type') || DEFAULT_CONTENT_TYPE);
    try {
      // A replay interrupted after the publish but before the delete is stored once on a re-run.
      await js.publish(names.eventsSubject(tenant), letter.data, { headers: h, msgID: `${names.dlq}:${letter.seq}` });
    } catch (err) {
      throw new PulseError('UNAVAILABLE', `dead letter ${letter.seq} could not be republished (it stays in the DLQ): ${(err as Error).message}`, { cause: err });
    }
    // Erased, not only unlinked: a letter holds the raw event, personal data included.
    await jsm.streams.deleteMessage(names.dlq, letter.seq, true);
    replayed++;
  };

  if (options.seq !== undefined) {
    const m = await jsm.streams.getMessage(names.dlq, { seq: options.seq });
    if (m === null) throw new PulseError('NOT_FOUND', `no dead letter ${options.seq} in ${names.dlq}`, { field: 'seq' });
    if (options.tenant !== undefined && m.subject !== filter) throw new PulseError('NOT_FOUND', `dead letter ${options.seq} is not from tenant ${options.tenant}`, { field: 'seq' });
    await replayOne(fromStored(m));
    return { replayed, skipped };
  }
  // The sequences are collected first so the letters that come back while replaying are not
  // replayed again in a loop.
  const seqs: number[] = [];
  for await (const m of scan(nc, namespace, filter, Number.MAX_SAFE_INTEGER, true)) seqs.push(m.seq);
  for (const seq of seqs) {
    const m = await jsm.streams.getMessage(names.dlq, { seq });
    if (m === null) continue; // removed meanwhile (another replay)
    await replayOne(fromStored(m));
  }
  return { replayed, skipped };
}
