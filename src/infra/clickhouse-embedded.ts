import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { PulseError } from '../errors.ts';
import type { QueryParams, Warehouse } from '../warehouse/port.ts';

/** ClickHouse in-process (chdb). One process at a time may open a data directory. */
export class EmbeddedWarehouse implements Warehouse {
  readonly kind = 'embedded' as const;
  readonly #session: Session;

  constructor(path: string) {
    mkdirSync(path, { recursive: true });
    try {
      this.#session = new Session(path);
    } catch (err) {
      throw new PulseError('UNAVAILABLE', `cannot open embedded ClickHouse at ${path} (is another Pulse process using it?)`, { cause: err });
    }
  }

  async exec(sql: string, params: QueryParams = {}): Promise<void> {
    await this.#run(() => this.#session.queryBindAsync(sql, params, { format: 'TabSeparated' }));
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    const body = rows.map((r) => JSON.stringify(r)).join('\n');
    await this.#run(() => this.#session.insert({ table, values: Buffer.from(body), format: 'JSONEachRow' }));
  }

  async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
    const result = await this.#run(() => this.#session.queryBindAsync(sql, params, { format: 'JSONEachRow' }));
    const text = result.text();
    return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T);
  }

  close(): Promise<void> {
    this.#session.cleanup();
    return Promise.resolve();
  }

  async #run<R>(op: () => Promise<R>): Promise<R> {
    try {
      return await op();
    } catch (err) {
      throw new PulseError('INVALID_ARGUMENT', firstLine(err), { cause: err });
    }
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.slice(0, 500) ?? 'query failed';
}
