import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { ServerWarehouse } from '../../src/infra/clickhouse-server.ts';
import { startClickHouseServer } from '../support/clickhouse-server.ts';
import { freePort, uniqueNamespace } from '../support/env.ts';

/** The PulseError a warehouse call rejects with; anything else fails the test. */
async function failure(call: Promise<unknown>): Promise<PulseError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof PulseError) return err;
    throw new Error(`expected a PulseError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected the call to reject');
}

void t.test('an unreachable server is UNAVAILABLE', async (t) => {
  const wh = new ServerWarehouse(`http://127.0.0.1:${await freePort()}`);
  t.teardown(() => wh.close());
  const calls = { query: () => wh.query('SELECT 1'), exec: () => wh.exec('CREATE DATABASE x'), insert: () => wh.insert('x.t', [{ a: 1 }]) };
  for (const [what, call] of Object.entries(calls)) {
    const err = await failure(call());
    t.equal(err.code, 'UNAVAILABLE', `${what}: code`);
    t.match(err.message, /ECONNREFUSED/, `${what}: message says why`);
  }
});

const server = await startClickHouseServer();
if ('skipped' in server) {
  void t.skip(`clickhouse-server transport: ${server.skipped}`, (t) => {
    t.end();
  });
} else {
  const wh = new ServerWarehouse(server.url);
  t.teardown(async () => {
    await wh.close();
    await server.stop();
  });
  const db = uniqueNamespace('pulse_it');
  const table = `${db}.t`;

  void t.test('the server answers a query', async (t) => {
    const [row] = await wh.query<{ v: string }>('SELECT version() AS v');
    t.match(row?.v, /^\d+\.\d+\.\d+/, `clickhouse-server ${row?.v ?? '?'}`);
  });

  void t.test('DDL creates a database and a MergeTree table', async (t) => {
    await wh.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await wh.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await wh.exec(`CREATE TABLE ${table} (id String, n UInt32, ts DateTime) ENGINE = MergeTree ORDER BY id`);
    const tables = await wh.query(`SELECT name, engine FROM system.tables WHERE database = '${db}'`);
    t.same(tables, [{ name: 't', engine: 'MergeTree' }]);
    const again = await failure(wh.exec(`CREATE TABLE ${table} (id String) ENGINE = MergeTree ORDER BY id`));
    t.equal(again.code, 'INVALID_ARGUMENT', 'creating it twice is rejected');
    t.match(again.message, /already exists/);
  });

  void t.test('rows inserted in one statement read back with their values', async (t) => {
    const rows = [
      { id: 'c', n: 3, ts: '2024-03-01 12:00:00' },
      { id: 'a', n: 1, ts: '2024-01-31 23:59:59' },
      { id: 'b', n: 4_000_000_000, ts: '2024-02-29 00:00:01' },
    ];
    await wh.insert(table, rows);
    await wh.insert(table, []);
    const back = await wh.query<{ id: string; n: number; ts: string }>(`SELECT id, n, ts FROM ${table} ORDER BY id`);
    t.same(back, [
      { id: 'a', n: 1, ts: '2024-01-31 23:59:59' },
      { id: 'b', n: 4_000_000_000, ts: '2024-02-29 00:00:01' },
      { id: 'c', n: 3, ts: '2024-03-01 12:00:00' },
    ]);
    const [epoch] = await wh.query<{ s: string }>(`SELECT toUnixTimestamp(ts) AS s FROM ${table} WHERE id = 'a'`);
    t.equal(Number(epoch?.s), Date.UTC(2024, 0, 31, 23, 59, 59) / 1000, 'DateTime stored as sent (server time zone UTC)');
    const [parts] = await wh.query<{ parts: string; rows: string }>(
      `SELECT count() AS parts, sum(rows) AS rows FROM system.parts WHERE database = '${db}' AND table = 't' AND active`,
    );
    t.same(parts, { parts: '1', rows: '3' }, 'one insert made one part; the empty insert sent nothing');
  });

  void t.test('an unknown table is INVALID_ARGUMENT naming the table', async (t) => {
    const err = await failure(wh.query(`SELECT * FROM ${db}.missing`));
    t.equal(err.code, 'INVALID_ARGUMENT');
    t.match(err.message, `${db}.missing`);
    t.notMatch(err.message, /\n/, 'one line');
    const insertErr = await failure(wh.insert(`${db}.missing`, [{ id: 'x' }]));
    t.equal(insertErr.code, 'INVALID_ARGUMENT', 'insert into it too');
    t.match(insertErr.message, `${db}.missing`);
  });

  void t.test('query() runs read-only: the server refuses a write through it', async (t) => {
    const err = await failure(wh.query(`CREATE TABLE ${db}.sneaky (id String) ENGINE = Memory`));
    t.equal(err.code, 'INVALID_ARGUMENT');
    t.match(err.message, /readonly/i);
    const tables = await wh.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db}' AND name = 'sneaky'`);
    t.same(tables, [], 'no table was created');
  });
}
