import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { PulseError } from '../errors.ts';

/** Record file formats Pulse reads (either may be gzip-compressed). */
export type RecordFormat = 'csv' | 'ndjson';

/** One record of a file, with its 1-based record number (header excluded for CSV). */
export interface FileRecord {
  readonly n: number;
  /** The parsed record, or the reason it could not be parsed. */
  readonly record: Record<string, unknown> | undefined;
  readonly error: string | undefined;
}

/** The format named by a file's extension (`.csv`, `.ndjson`, `.jsonl`, optionally `.gz`). */
export function formatOf(path: string): RecordFormat {
  const base = path.toLowerCase().replace(/\.gz$/, '');
  if (base.endsWith('.csv')) return 'csv';
  if (base.endsWith('.ndjson') || base.endsWith('.jsonl') || base.endsWith('.json')) return 'ndjson';
  throw new PulseError('INVALID_ARGUMENT', `cannot tell the format of ${path}: use .csv, .ndjson or .jsonl (optionally .gz)`, { field: 'file' });
}

/** True when the file starts with gzip's magic bytes (whatever its name says). */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Streams the records of a CSV (header row = field names) or NDJSON file, gzip detected by its
 * magic bytes. Memory stays constant: records are pulled one at a time, so a slow consumer holds
 * the file read back. A line that does not parse yields an error record instead of stopping.
 */
export async function* readRecords(path: string, format: RecordFormat = formatOf(path)): AsyncGenerator<FileRecord> {
  const raw: Readable = createReadStream(path);
  const input: Readable = (await isGzip(path)) ? raw.pipe(createGunzip()) : raw;
  raw.on('error', (err) => input.destroy(err));
  if (format === 'csv') {
    const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, bom: true, relax_column_count: true, trim: true }));
    let n = 0;
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      n++;
      yield { n, record, error: undefined };
    }
    return;
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    n++;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) yield { n, record: undefined, error: 'not a JSON object' };
      else yield { n, record: value as Record<string, unknown>, error: undefined };
    } catch (err) {
      yield { n, record: undefined, error: `not valid JSON: ${(err as Error).message}` };
    }
  }
}
