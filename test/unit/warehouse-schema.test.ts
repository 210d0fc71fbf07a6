import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { chDateTime, databaseOf, eventRow, readOnlyProblem, schemaStatements } from '../../src/warehouse/schema.ts';

const ONLY = 'only SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN queries are allowed';

void t.test('read-only statements are accepted', async (t) => {
  for (const sql of [
    'SELECT 1',
    '  select count() from pulse.events  ',
    'SELECT 1;',
    'SELECT 1 ;  \n',
    'WITH x AS (SELECT 1 AS n) SELECT n FROM x',
    'SHOW TABLES FROM pulse',
    'DESCRIBE TABLE pulse.events',
    'DESC pulse.events',
    'EXPLAIN SELECT * FROM pulse.events',
    'EXISTS TABLE pulse.events',
    '\n\tSeLeCt 1',
  ]) t.equal(readOnlyProblem(sql), undefined, JSON.stringify(sql));
});

void t.test('a semicolon inside a string literal is fine', async (t) => {
  t.equal(readOnlyProblem("SELECT ';' AS s"), undefined);
  t.equal(readOnlyProblem("SELECT count() FROM pulse.events WHERE event = 'a;b'; "), undefined);
  t.equal(readOnlyProblem("SELECT 'it\\'s; fine', 'x;y'"), undefined, 'backslash-escaped quote');
  t.equal(readOnlyProblem("SELECT 'it''s; fine'"), undefined, 'doubled quote');
});

void t.test('writes and DDL are refused', async (t) => {
  for (const sql of [
    'INSERT INTO pulse.events VALUES (1)',
    'DROP TABLE pulse.events',
    'ALTER TABLE pulse.events DELETE WHERE 1',
    'CREATE TABLE x (a UInt8) ENGINE = Memory',
    'TRUNCATE TABLE pulse.events',
    'OPTIMIZE TABLE pulse.events FINAL',
    'SYSTEM SHUTDOWN',
    'selection',
    '(SELECT 1)',
  ]) t.equal(readOnlyProblem(sql), ONLY, JSON.stringify(sql));
});

void t.test('empty queries', async (t) => {
  t.equal(readOnlyProblem(''), 'empty query');
  t.equal(readOnlyProblem('   \n'), 'empty query');
  t.equal(readOnlyProblem(' ; '), 'empty query');
});

void t.test('one statement at a time', async (t) => {
  t.equal(readOnlyProblem('SELECT 1; DROP TABLE pulse.events'), 'one statement at a time');
  t.equal(readOnlyProblem('SELECT 1;;'), 'one statement at a time');
  t.equal(readOnlyProblem("SELECT 'a'; SELECT 'b'"), 'one statement at a time');
});

void t.test('SELECT that writes is refused', async (t) => {
  t.equal(readOnlyProblem("SELECT * FROM pulse.events INTO OUTFILE '/tmp/x.csv'"), 'the query writes: refused');
  t.equal(readOnlyProblem("select 1 into\n outfile 'x'"), 'the query writes: refused');
  t.equal(readOnlyProblem('WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x'), 'the query writes: refused');
});

void t.test('quotes in identifiers or comments do not hide a second statement', async (t) => {
  t.equal(readOnlyProblem(`SELECT "'"; DROP TABLE pulse.events; SELECT "'"`), 'one statement at a time', 'double-quoted identifier');
  t.equal(readOnlyProblem('SELECT `\'`; DROP TABLE pulse.events; SELECT `\'`'), 'one statement at a time', 'backquoted identifier');
  t.equal(readOnlyProblem("SELECT 1 -- it's\n; DROP TABLE pulse.events; -- '"), 'one statement at a time', 'line comment');
  t.equal(readOnlyProblem("SELECT 1 /* ' */; DROP TABLE pulse.events; /* ' */"), 'one statement at a time', 'block comment');
  t.equal(readOnlyProblem("SELECT 1 /* never closed"), 'unclosed quote or comment');
  t.equal(readOnlyProblem("SELECT 'never closed"), 'unclosed quote or comment');
  t.equal(readOnlyProblem("SELECT 'it''s' AS a, \"col;\" FROM t -- done;"), undefined, 'quotes and a trailing comment are fine');
  t.equal(readOnlyProblem("/* lead */ SELECT 1"), undefined, 'a leading comment is fine');
});

void t.test('chDateTime: ClickHouse DateTime64(3) text in UTC', async (t) => {
  t.equal(chDateTime(0), '1970-01-01 00:00:00.000');
  t.equal(chDateTime(Date.UTC(2024, 4, 1, 12, 34, 56, 789)), '2024-05-01 12:34:56.789');
  t.equal(chDateTime(Date.UTC(2024, 11, 31, 23, 59, 59, 5)), '2024-12-31 23:59:59.005');
  t.throws(() => chDateTime(9e15), RangeError, 'beyond the Date range');
});

void t.test('eventRow maps an event to the events table', async (t) => {
  const e: PulseEvent = {
    type: 'track', messageId: 'm1', timestamp: Date.UTC(2024, 4, 1, 12, 0, 0, 250), userId: 'u1', anonymousId: undefined,
    event: 'Purchase', properties: { price: 9.5, items: ['a'] }, traits: { plan: 'pro' }, context: { ip: '10.0.0.1' },
    identifiers: [{ type: 'user_id', id: 'u1' }], extra: {},
  };
  t.same(eventRow('acme', e, 'p-1', Date.UTC(2024, 4, 1, 12, 0, 1)), {
    tenant: 'acme',
    message_id: 'm1',
    type: 'track',
    event: 'Purchase',
    profile_id: 'p-1',
    user_id: 'u1',
    anonymous_id: '',
    timestamp: '2024-05-01 12:00:00.250',
    received_at: '2024-05-01 12:00:01.000',
    properties: '{"price":9.5,"items":["a"]}',
    traits: '{"plan":"pro"}',
    context: '{"ip":"10.0.0.1"}',
    identifiers: ['user_id:u1'],
  });
  const anon = eventRow('acme', { ...e, userId: undefined, anonymousId: 'a1', properties: {}, traits: {}, context: {} }, 'p-2', 0);
  t.equal(anon['user_id'], '');
  t.equal(anon['anonymous_id'], 'a1');
  t.equal(anon['properties'], '{}');
});

void t.test('databaseOf and schemaStatements use a valid namespace only', async (t) => {
  t.equal(databaseOf('pulse'), 'pulse');
  t.throws(() => databaseOf('Bad-NS'), /invalid namespace "Bad-NS"/);
  t.throws(() => schemaStatements('x; DROP'), /invalid namespace/);
  const [db, table] = schemaStatements('test_1');
  t.equal(db, 'CREATE DATABASE IF NOT EXISTS test_1');
  t.match(table, /^CREATE TABLE IF NOT EXISTS test_1\.events \(/);
  t.match(table, /ENGINE = ReplacingMergeTree/);
});
