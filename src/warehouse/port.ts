/** Query parameters are bound by the engine (`{name:Type}` placeholders), never spliced into SQL. */
export type QueryParams = Readonly<Record<string, string | number | readonly string[] | readonly number[]>>;

/** The ClickHouse port: the embedded engine (chdb) and a server (@clickhouse/client) both fit it. */
export interface Warehouse {
  readonly kind: 'embedded' | 'server';
  /** Runs a statement that returns no rows (DDL, or a mutation with bound `params`). */
  exec(sql: string, params?: QueryParams): Promise<void>;
  /** Inserts rows (JSONEachRow) in one statement. */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Runs a read-only query and returns its rows as objects. */
  query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]>;
  close(): Promise<void>;
}
