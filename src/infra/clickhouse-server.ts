import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { PulseError } from '../errors.ts';
import type { QueryParams, Warehouse } from '../warehouse/port.ts';

/** A ClickHouse server (or cluster) over HTTP with the official client. */
export class ServerWarehouse implements Warehouse {
  readonly kind = 'server' as const;
  readonly #client: ClickHouseClient;

  constructor(url: string) {
    // The client's own logger would print failures a second time; PulseError carries them.
    this.#client = createClient({ url, request_timeout: 30_000, application: 'pulse', log: { level: ClickHouseLogLevel.OFF } });
  }

  async exec(sql: string, params: QueryParams = {}): Promise<void> {
    await this.#run(() => this.#client.command({ query: sql, query_params: { ...params } }));
  }

  async insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#run(() => this.#client.insert({ table, values: [...rows], format: 'JSONEachRow' }));
  }

  async query<T>(sql: string, params: QueryParams = {}): Promise<T[]> {
    return this.#run(async () => {
      // Queries only read: the server enforces it too (2 = read-only, settings may still be set).
      const rs = await this.#client.query({ query: sql, format: 'JSONEachRow', query_params: { ...params }, clickhouse_settings: { readonly: '2' } });
      return rs.json<T>();
    });
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  async #run<R>(op: () => Promise<R>): Promise<R> {
    try {
      return await op();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const unreachable = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Timeout/i.test(msg);
      throw new PulseError(unreachable ? 'UNAVAILABLE' : 'INVALID_ARGUMENT', msg.split('\n')[0]?.slice(0, 500) ?? 'query failed', { cause: err });
    }
  }
}
