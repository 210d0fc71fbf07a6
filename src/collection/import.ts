import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { TENANT_PATTERN } from '../auth/keys.ts';
import { PulseError, toPulseError } from '../errors.ts';
import type { JsonObject } from '../json.ts';
import { acceptWithinLimits, MAX_BATCH_BYTES } from './limits.ts';
import { mapRecord, mappingColumns, mappingHash, type Mapping } from './mapping.ts';
import type { EventPublisher } from './publisher.ts';
import { formatOf, isGzip, readRecords, type FileRecord, type RecordFormat } from './records.ts';
import type { NormalizeOptions } from './normalize.ts';

/** What an import needs. */
export interface ImportOptions {
  readonly file: string;
  readonly tenant: string;
  readonly mapping: Mapping;
  readonly publisher: EventPublisher;
  /** Normalization settings (phone region); default region US. */
  readonly normalize?: NormalizeOptions;
  /** Where refused rows go; default `<file>.rejects.ndjson`. */
  readonly rejectsPath?: string;
  /** Where progress is kept for a resume; default `<file>.pulse-import.json`. */
  readonly checkpointPath?: string;
  /** Rows per published message (at most; a message also stays under 500 KB). Default 500. */
  readonly batchSize?: number;
  /** Messages awaiting JetStream's ack at once; reading waits when they are all out. Default 4. */
  readonly concurrency?: number;
  /** Stops reading; what is in flight is awaited and checkpointed before the import returns. */
  readonly signal?: AbortSignal;
  /** Called once when the file is fingerprinted, with what a resume will skip. */
  onStart?(start: ImportStart): void;
  /** Called after every batch. */
  onProgress?(progress: ImportProgress): void;
  readonly now?: () => number;
}

/** What an import found before its first row. */
export interface ImportStart {
  /** Rows the file probably has (its lines, less a CSV header). */
  readonly estimatedRows: number;
  /** Rows a previous run already imported (acknowledged by JetStream): they are skipped. */
  readonly resumeFrom: number;
  /** Why an existing checkpoint was not used, when it was not. */
  readonly checkpointIgnored: string | undefined;
  /** An earlier run imported the whole file: nothing is read again. */
  readonly alreadyCompleted: boolean;
}

/** Counts so far, for a progress bar. */
export interface ImportProgress {
  /** Rows read this run, skipped ones included. */
  readonly rows: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly skipped: number;
}

/** The outcome of one run of an import. */
export interface ImportSummary extends ImportProgress {
  /** False when the signal stopped the import before the end of the file. */
  readonly completed: boolean;
  readonly ms: number;
  /** Rows handled this run (skipped ones excluded) per second. */
  readonly rowsPerSecond: number;
  /** Where refused rows were written (undefined when none was refused in any run). */
  readonly rejectsPath: string | undefined;
  readonly checkpointPath: string;
}

/** One line of the rejects file. */
export interface RejectedRow {
  /** 1-based record number (a CSV's header excluded). */
  readonly row: number;
  readonly field: string;
  readonly reason: string;
  /** The row as read, or null when the line could not be parsed at all. */
  readonly record: Readonly<Record<string, unknown>> | null;
}

const checkpointSchema = z.object({
  version: z.literal(1),
  fingerprint: z.string(),
  tenant: z.string(),
  mappingHash: z.string(),
  rowsDone: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  rejectsBytes: z.number().int().nonnegative(),
  completed: z.boolean(),
  updatedAt: z.string(),
});

/** What `<file>.pulse-import.json` holds after every acknowledged batch. */
export type Checkpoint = z.infer<typeof checkpointSchema>;

/** A file's identity: its size and the SHA-256 of its bytes, and how many lines it has. */
export interface FileFingerprint {
  readonly id: string;
  readonly lines: number;
}

/**
 * Reads the file once (constant memory): SHA-256 of the bytes as stored, and the number of lines
 * of the content (decompressed when gzip) for an estimate of the rows.
 */
export async function fingerprintFile(path: string): Promise<FileFingerprint> {
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer | undefined;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      head ??= chunk.subarray(0, 2);
      done(null, chunk);
    },
  });
  let lines = 0;
  let last = 0x0a;
  const counter = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
      if (chunk.length > 0) last = chunk[chunk.length - 1] ?? last;
      done();
    },
  });
  const gzip = await isGzip(path);
  if (gzip) await pipeline(createReadStream(path), tap, createGunzip(), counter);
  else await pipeline(createReadStream(path), tap, counter);
  return { id: `${size}:${hash.digest('hex')}`, lines: lines + (last === 0x0a ? 0 : 1) };
}

/**
 * The messageId of a row: the same tenant, file content, mapping and row number always give the
 * same id, so a row sent again after an interruption is de-duplicated by Pulse.
 */
export function rowMessageId(tenant: string, fingerprint: string, mapping: string, row: number): string {
  return `imp-${createHash('sha256').update(`${tenant}\n${fingerprint}\n${mapping}\n${row}`).digest('hex').slice(0, 40)}`;
}

/** Reads a checkpoint; undefined when there is none or it is not one of ours. */
async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = checkpointSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function writeCheckpoint(path: string, c: Checkpoint): Promise<void> {
  // Write-then-rename: a crash mid-write leaves the previous checkpoint, never half of one.
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(c, null, 2)}\n`);
  await rename(tmp, path);
}

interface Batch {
  readonly lastRow: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectsBytes: number;
  /** Settles with the publish error, or null once JetStream acknowledged the batch. */
  readonly acked: Promise<PulseError | null>;
}

// The message a batch travels in: `{"batch":[...]}`.
const ENVELOPE_BYTES = '{"batch":[]}'.length;

/** The batch being filled. */
class Pending {
  events: JsonObject[] = [];
  bytes = ENVELOPE_BYTES;
  rejects: string[] = [];
  rows = 0;
  accepted = 0;
  rejected = 0;
  lastRow = 0;
}

type Screened = { readonly event: JsonObject; readonly size: number } | { readonly reject: RejectedRow };

/**
 * Imports a CSV or NDJSON file (gzip too) into a tenant: each row is mapped to an event,
 * validated and normalized by the shared step, and published in batches with at most
 * `concurrency` awaiting JetStream's ack, so memory stays constant and a slow log slows the
 * reading. Refused rows go to the rejects file with their reason. After every acknowledged batch
 * the checkpoint records how far the file is imported; a later run over the same file, tenant and
 * mapping skips those rows, and rows sent twice carry the same messageId so Pulse keeps one.
 */
export async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const { file, tenant, mapping, publisher } = options;
  if (!TENANT_PATTERN.test(tenant)) throw new PulseError('INVALID_ARGUMENT', `tenant: must match ${TENANT_PATTERN.source}`, { field: 'tenant' });
  const format: RecordFormat = formatOf(file);
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? 500;
  const concurrency = options.concurrency ?? 4;
  const rejectsPath = options.rejectsPath ?? `${file}.rejects.ndjson`;
  const checkpointPath = options.checkpointPath ?? `${file}.pulse-import.json`;
  const started = now();

  const fingerprint = await fingerprintFile(file).catch((err: unknown) => {
    throw new PulseError('INVALID_ARGUMENT', `${file}: cannot be read: ${(err as Error).message}`, { field: 'file', cause: err });
  });
  const hash = mappingHash(mapping);
  const previous = await readCheckpoint(checkpointPath);
  let checkpointIgnored: string | undefined;
  let resume = previous;
  if (previous !== undefined && (previous.fingerprint !== fingerprint.id || previous.tenant !== tenant)) {
    checkpointIgnored = previous.fingerprint !== fingerprint.id ? 'the file changed since the checkpoint was written' : `the checkpoint is for tenant ${previous.tenant}`;
    resume = undefined;
  } else if (previous !== undefined && previous.mappingHash !== hash) {
    throw new PulseError('FAILED_PRECONDITION', `${checkpointPath} was written by an import of this file with another mapping: `
      + 'run it with that mapping to finish it, or delete the checkpoint to import every row again with the new one', { field: 'mapping' });
  }
  const checkpoint: Checkpoint = resume ?? {
    version: 1, fingerprint: fingerprint.id, tenant, mappingHash: hash, rowsDone: 0, accepted: 0, rejected: 0, rejectsBytes: 0, completed: false, updatedAt: new Date(started).toISOString(),
  };
  const resumeFrom = checkpoint.rowsDone;
  // Rejects written past the checkpoint belong to rows this run reads again.
  const rejectsSize = await stat(rejectsPath).then((s) => s.size, () => undefined);
  if (rejectsSize !== undefined && rejectsSize > checkpoint.rejectsBytes) await truncate(rejectsPath, checkpoint.rejectsBytes);
  options.onStart?.({ estimatedRows: Math.max(0, fingerprint.lines - (format === 'csv' ? 1 : 0)), resumeFrom, checkpointIgnored, alreadyCompleted: checkpoint.completed });
  if (checkpoint.completed) {
    return {
      rows: resumeFrom, accepted: 0, rejected: 0, skipped: resumeFrom, completed: true, ms: Math.max(1, now() - started), rowsPerSecond: 0,
      rejectsPath: checkpoint.rejectsBytes > 0 ? rejectsPath : undefined, checkpointPath,
    };
  }

  let rejectsFile: FileHandle | undefined;
  let rejectsBytes = checkpoint.rejectsBytes;
  const counts = { rows: 0, accepted: 0, rejected: 0, skipped: 0 };
  const inFlight: Batch[] = [];
  let pending = new Pending();
  // A CSV row holds every header column (short rows aside): a column the first batch never shows
  // is not in the header, and every row would be mapped without it.
  let unseenColumns: Set<string> | undefined = format === 'csv' ? new Set(mappingColumns(mapping)) : undefined;
  const seenColumns = new Set<string>();

  const screen = (n: number, record: Readonly<Record<string, unknown>>): Screened => {
    const mapped = mapRecord(mapping, record, rowMessageId(tenant, fingerprint.id, hash, n));
    if (!mapped.ok) return { reject: { row: n, field: mapped.problem.field, reason: mapped.problem.reason, record } };
    const screened = acceptWithinLimits([mapped.event], now(), options.normalize);
    const event = screened.accepted[0];
    if (event !== undefined) return { event, size: Buffer.byteLength(JSON.stringify(event)) + 1 };
    const problem = screened.rejected[0]?.problem ?? { field: 'event', reason: 'event: refused' };
    return { reject: { row: n, field: problem.field, reason: problem.reason, record } };
  };

  const settleHead = async (): Promise<void> => {
    const head = inFlight.shift();
    if (head === undefined) return;
    const err = await head.acked;
    if (err !== null) throw err;
    checkpoint.rowsDone = head.lastRow;
    checkpoint.accepted += head.accepted;
    checkpoint.rejected += head.rejected;
    checkpoint.rejectsBytes = head.rejectsBytes;
    checkpoint.updatedAt = new Date(now()).toISOString();
    await writeCheckpoint(checkpointPath, checkpoint);
  };

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = new Pending();
    if (batch.rows === 0) return;
    if (unseenColumns !== undefined) {
      if (unseenColumns.size > 0) {
        throw new PulseError('INVALID_ARGUMENT', `mapping: the CSV has no column ${[...unseenColumns].map((c) => JSON.stringify(c)).join(', ')} (its columns: ${[...seenColumns].map((c) => JSON.stringify(c)).join(', ')})`, { field: 'mapping' });
      }
      unseenColumns = undefined;
    }
    if (batch.rejects.length > 0) {
      // Written (and so kept by the OS even if this process is killed) before the batch is
      // published: the checkpoint never counts a rejected row whose line is not in the file.
      rejectsFile ??= await open(rejectsPath, 'a');
      const text = batch.rejects.join('');
      await rejectsFile.write(text);
      rejectsBytes += Buffer.byteLength(text);
    }
    const acked = publishWithRetry(publisher, tenant, batch.events).then(() => null, (err: unknown) => toPulseError(err));
    inFlight.push({ lastRow: batch.lastRow, accepted: batch.accepted, rejected: batch.rejected, rejectsBytes, acked });
    counts.accepted += batch.accepted;
    counts.rejected += batch.rejected;
    while (inFlight.length >= concurrency) await settleHead();
    options.onProgress?.({ ...counts });
  };

  let completed = true;
  try {
    for await (const r of records(file, format)) {
      if (options.signal?.aborted === true) {
        completed = false;
        break;
      }
      counts.rows++;
      if (r.n <= resumeFrom) {
        counts.skipped++;
        if (counts.skipped % batchSize === 0) options.onProgress?.({ ...counts });
        continue;
      }
      let outcome: Screened;
      if (r.record === undefined) {
        outcome = { reject: { row: r.n, field: 'row', reason: r.error ?? 'unreadable', record: null } };
      } else {
        if (unseenColumns !== undefined) {
          for (const c of Object.keys(r.record)) seenColumns.add(c);
          for (const c of unseenColumns) if (c in r.record) unseenColumns.delete(c);
        }
        outcome = screen(r.n, r.record);
      }
      if ('event' in outcome && pending.events.length > 0 && pending.bytes + outcome.size > MAX_BATCH_BYTES) await flush();
      pending.rows++;
      pending.lastRow = r.n;
      if ('event' in outcome) {
        pending.events.push(outcome.event);
        pending.bytes += outcome.size;
        pending.accepted++;
      } else {
        pending.rejects.push(`${JSON.stringify(outcome.reject)}\n`);
        pending.rejected++;
      }
      if (pending.rows >= batchSize) await flush();
    }
    await flush();
    while (inFlight.length > 0) await settleHead();
    if (completed) {
      checkpoint.completed = true;
      await writeCheckpoint(checkpointPath, checkpoint);
    }
  } finally {
    // On a failure, batches already published still settle before the file is closed.
    await Promise.all(inFlight.map((b) => b.acked));
    await rejectsFile?.close();
  }
  const ms = Math.max(1, now() - started);
  const handled = counts.rows - counts.skipped;
  options.onProgress?.({ ...counts });
  return {
    ...counts, completed, ms, rowsPerSecond: Math.round((handled * 1000) / ms),
    rejectsPath: checkpoint.rejectsBytes > 0 ? rejectsPath : undefined, checkpointPath,
  };
}

/** readRecords with a read failure (a CSV quote never closed...) as INVALID_ARGUMENT naming the place. */
async function* records(file: string, format: RecordFormat): AsyncGenerator<FileRecord> {
  let last = 0;
  try {
    for await (const r of readRecords(file, format)) {
      last = r.n;
      yield r;
    }
  } catch (err) {
    throw new PulseError('INVALID_ARGUMENT', `${file}: cannot be read after row ${last}: ${(err as Error).message}`, { field: 'file', cause: err });
  }
}

const RETRY_DELAYS_MS = [500, 2_000, 5_000];

/** Publishing a batch again is harmless (same messageIds), so a blip of the log is retried. */
async function publishWithRetry(publisher: EventPublisher, tenant: string, events: readonly JsonObject[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await publisher.publish(tenant, events);
      return;
    } catch (err) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay === undefined || !(err instanceof PulseError && err.code === 'UNAVAILABLE')) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** A one-line summary of a run, for the CLI. */
export function describeSummary(s: ImportSummary): string {
  const seconds = (s.ms / 1000).toFixed(1);
  const parts = [
    `${s.completed ? 'imported' : 'stopped after'} ${s.rows - s.skipped} rows in ${seconds} s (${s.rowsPerSecond} rows/s)`,
    `${s.accepted} accepted`,
    `${s.rejected} rejected${s.rejected > 0 && s.rejectsPath !== undefined ? ` (see ${s.rejectsPath})` : ''}`,
  ];
  if (s.skipped > 0) parts.push(`${s.skipped} skipped (already imported)`);
  return parts.join(', ');
}
