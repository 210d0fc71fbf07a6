import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backoffMs, chunkEvents, compareWatermarks, firstPosition, flattenRecord, getPath, maxWatermark, nextPosition, nextRunAt,
  pageParams, parseApiSource, parseConnectors, recordMessageId, retryAfterMs, safeReason, toPartnerEvent, type ConnectorDefinition, type Pagination,
} from '../../src/collection/connectors/model.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { acceptEvents } from '../../src/collection/publisher.ts';

const BASE = {
  id: 'crm',
  tenant: 'acme',
  schedule: { everySeconds: 900 },
  request: { url: 'https://partner.example/v1/users' },
  recordId: 'id',
  mapping: { type: 'identify', externalIds: [{ type: 'partner:crm', column: 'id', as: 'string' }], traits: { plan: 'profile.plan' }, timestamp: 'updated_at' },
};

function parsed(defs: unknown[], env: Record<string, string> = {}): ConnectorDefinition[] {
  const r = parseConnectors(JSON.stringify(defs), env);
  if (!r.ok) throw new Error(`expected valid connectors: ${r.problems.join('; ')}`);
  return r.connectors;
}

function problems(defs: unknown, env: Record<string, string> = {}): string[] {
  const r = parseConnectors(JSON.stringify(defs), env);
  if (r.ok) throw new Error('expected the definitions to be refused');
  return r.problems;
}

void t.test('a minimal connector gets its defaults', async (t) => {
  const [c] = parsed([BASE]);
  t.equal(c?.request.method, 'GET');
  t.same(c?.request.query, {});
  t.equal(c?.request.timeoutMs, 30_000);
  t.same(c?.auth, { type: 'none' });
  t.same(c?.pagination, { type: 'none' });
  t.equal(c?.recordsPath, '');
  t.same(c?.retry, { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 300_000 });
  t.equal(c?.incremental, undefined);
  t.equal(c?.version, undefined);
  t.equal(c?.mapping.type, 'identify');
});

void t.test('secrets come from the environment; the version defaults to the incremental field', async (t) => {
  const [c] = parsed([{
    ...BASE,
    auth: { type: 'oauth2_client_credentials', tokenUrl: 'https://partner.example/oauth/token', clientId: 'pulse', clientSecret: { env: 'CRM_SECRET' }, scope: 'read:users' },
    request: { url: 'https://partner.example/v1/users', headers: { 'X-Api-Key': { env: 'CRM_KEY' } } },
    pagination: { type: 'cursor', cursorPath: 'meta.next', param: 'cursor' },
    incremental: { param: 'updated_since', field: 'updated_at' },
  }], { CRM_SECRET: 's3cret', CRM_KEY: 'k3y' });
  t.same(c?.auth, { type: 'oauth2_client_credentials', tokenUrl: 'https://partner.example/oauth/token', clientId: 'pulse', clientSecret: 's3cret', scope: 'read:users', clientAuth: 'basic' });
  t.same(c?.request.headers, { 'X-Api-Key': 'k3y' });
  t.equal(c?.version, 'updated_at');
});

void t.test('every problem is reported at once, with its place', async (t) => {
  const found = problems([
    { ...BASE, id: 'Bad Id', request: { url: 'ftp://x' } },
    { ...BASE, schedule: { cron: 'every tuesday' } },
  ]);
  t.match(found, [/^\[0\]\.id: must match/, /^\[0\]\.request\.url: must be an http\(s\) URL/]);
  t.equal(found.length, 2, 'schema problems of every connector');

  const later = problems([
    { ...BASE, schedule: { cron: 'every tuesday' } },
    { ...BASE, auth: { type: 'bearer', token: { env: 'MISSING_TOKEN' } } },
    { ...BASE, id: 'other', mapping: { type: 'identify', userId: { column: 'id', as: 'numbr' } } },
  ]);
  t.ok(later.some((p) => p.startsWith('[0].schedule.cron: ')), 'a cron that does not parse');
  t.ok(later.includes('[1].auth.token: environment variable MISSING_TOKEN is not set'), 'a missing secret');
  t.ok(later.includes('[1].id: duplicate id "crm" (also [0])'), 'a duplicate id');
  t.ok(later.some((p) => /^\[2\]\.mapping\.userId\.as\.0: unknown transform "numbr"/.test(p)), `the shared mapping's own problems, placed: ${later.join(' | ')}`);
  t.same(problems('nope'), ['(root): Invalid input: expected array, received string']);
  t.match(parseConnectors('{', {}), { ok: false, problems: [/^not valid JSON/] });
});

void t.test('an API source (for bulk imports) parses alone', async (t) => {
  const r = parseApiSource(JSON.stringify({ id: 'seg-feed', request: { url: 'http://127.0.0.1:1/s' }, auth: { type: 'basic', username: 'u', password: { env: 'P' } }, pagination: { type: 'offset', limit: 2 } }), { P: 'pw' });
  t.match(r, { ok: true, source: { id: 'seg-feed', auth: { type: 'basic', username: 'u', password: 'pw' }, pagination: { type: 'offset', offsetParam: 'offset', limitParam: 'limit', limit: 2 } } });
  t.match(parseApiSource('{"id":"x"}', {}), { ok: false, problems: [/^request: /] });
});

void t.test('schedules: intervals from the last start, cron from now', async (t) => {
  const now = Date.UTC(2026, 0, 1, 10, 7, 30);
  t.equal(nextRunAt({ everySeconds: 60 }, now, undefined), now, 'never ran: now');
  t.equal(nextRunAt({ everySeconds: 60 }, now, now - 10_000), now + 50_000);
  t.equal(nextRunAt({ everySeconds: 60 }, now, now - 3_600_000), now, 'overdue: now');
  t.equal(nextRunAt({ cron: '*/15 * * * *', timezone: 'UTC' }, now, undefined), Date.UTC(2026, 0, 1, 10, 15, 0));
  t.equal(nextRunAt({ cron: '0 3 * * *', timezone: 'UTC' }, now, now), Date.UTC(2026, 0, 2, 3, 0, 0));
});

void t.test('cursor pagination follows the next cursor until there is none or it repeats', async (t) => {
  const p: Pagination = { type: 'cursor', cursorPath: 'meta.next', param: 'after' };
  t.equal(firstPosition(p), undefined);
  t.same(pageParams(p, undefined), {});
  t.same(pageParams(p, 'c2'), { after: 'c2' });
  t.equal(nextPosition(p, undefined, { meta: { next: 'c2' } }, 3), 'c2');
  t.equal(nextPosition(p, 'c2', { meta: { next: 42 } }, 3), '42', 'numeric cursors are sent as text');
  t.equal(nextPosition(p, 'c2', { meta: { next: null } }, 3), undefined);
  t.equal(nextPosition(p, 'c2', { meta: { next: '' } }, 3), undefined);
  t.equal(nextPosition(p, 'c2', { meta: {} }, 3), undefined);
  t.equal(nextPosition(p, 'c2', { meta: { next: 'c2' } }, 3), undefined, 'the same cursor again ends the listing instead of looping');
});

void t.test('page pagination runs until an empty page; offset until a short one', async (t) => {
  const page: Pagination = { type: 'page', param: 'page', start: 0, sizeParam: 'per_page', size: 50 };
  t.equal(firstPosition(page), 0);
  t.same(pageParams(page, 3), { page: '3', per_page: '50' });
  t.equal(nextPosition(page, 3, {}, 50), 4);
  t.equal(nextPosition(page, 3, {}, 1), 4, 'a short page is not the end: only an empty one is');
  t.equal(nextPosition(page, 4, {}, 0), undefined);

  const offset: Pagination = { type: 'offset', offsetParam: 'skip', limitParam: 'take', limit: 100 };
  t.equal(firstPosition(offset), 0);
  t.same(pageParams(offset, 200), { skip: '200', take: '100' });
  t.equal(nextPosition(offset, 200, {}, 100), 300);
  t.equal(nextPosition(offset, 300, {}, 99), undefined);
  t.equal(nextPosition({ type: 'none' }, undefined, {}, 100), undefined);
});

void t.test('backoff is exponential with full jitter and capped', async (t) => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1_000 };
  t.equal(backoffMs(1, policy, () => 0), 0, 'full jitter may retry at once');
  t.equal(backoffMs(1, policy, () => 0.999), 99);
  t.equal(backoffMs(2, policy, () => 0.999), 199);
  t.equal(backoffMs(3, policy, () => 0.5), 200);
  t.equal(backoffMs(10, policy, () => 0.999), 999, 'capped at maxDelayMs');
});

void t.test('Retry-After in seconds or as an HTTP-date', async (t) => {
  const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
  t.equal(retryAfterMs('120', now), 120_000);
  t.equal(retryAfterMs(' 0 ', now), 0);
  t.equal(retryAfterMs('Wed, 21 Oct 2026 07:28:30 GMT', now), 30_000);
  t.equal(retryAfterMs('Wed, 21 Oct 2026 07:00:00 GMT', now), 0, 'a date in the past: retry now');
  t.equal(retryAfterMs('soon', now), undefined);
  t.equal(retryAfterMs(null, now), undefined);
});

void t.test('watermarks compare as dates, numbers or text', async (t) => {
  t.ok(compareWatermarks('2026-01-01T10:00:00+02:00', '2026-01-01T09:00:00Z') < 0, 'dates by time, not by text');
  t.ok(compareWatermarks(10, 9) > 0);
  t.ok(compareWatermarks('b', 'a') > 0);
  t.equal(maxWatermark(undefined, '2026-01-01T00:00:00Z'), '2026-01-01T00:00:00Z');
  t.equal(maxWatermark('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z'), '2026-01-02T00:00:00Z');
  t.equal(maxWatermark('2026-01-02T00:00:00Z', null), '2026-01-02T00:00:00Z', 'a record without the field changes nothing');
  t.equal(maxWatermark(5, 7), 7);
});

void t.test('paths and flattened records', async (t) => {
  const body = { data: { items: [{ id: 1 }, { id: 2 }] }, meta: { next: 'x' } };
  t.same(getPath(body, 'data.items.1'), { id: 2 });
  t.equal(getPath(body, 'data.nope.x'), undefined);
  t.equal(getPath(body, ''), body);
  t.equal(getPath([1, 2], 'x'), undefined);
  t.same(flattenRecord({ id: 'u1', profile: { plan: 'pro', address: { city: 'Lyon' } }, tags: ['a'] }), {
    id: 'u1', profile: { plan: 'pro', address: { city: 'Lyon' } }, 'profile.plan': 'pro', 'profile.address': { city: 'Lyon' }, 'profile.address.city': 'Lyon', tags: ['a'],
  });
});

void t.test('a partner record becomes a partner-channel event with a deterministic messageId', async (t) => {
  const [c] = parsed([{ ...BASE, incremental: { param: 'updated_since', field: 'updated_at' } }]);
  if (c === undefined) throw new Error('no connector');
  const record = { id: 'u-17', profile: { plan: 'gold' }, updated_at: '2026-01-03T00:00:00Z' };
  const a = toPartnerEvent(c, record);
  t.same(a, {
    ok: true, recordId: 'u-17',
    event: {
      type: 'identify', messageId: recordMessageId('crm', 'u-17', '2026-01-03T00:00:00Z'), timestamp: '2026-01-03T00:00:00Z',
      traits: { plan: 'gold' }, context: { externalIds: [{ type: 'partner:crm', id: 'u-17' }], channel: 'partner', connector: 'crm' },
    },
  });
  t.same(toPartnerEvent(c, { ...record }), a, 'the same record in the same version: the same event');
  const changed = toPartnerEvent(c, { ...record, updated_at: '2026-01-04T00:00:00Z' });
  t.not(changed.ok && changed.event['messageId'], a.ok && a.event['messageId'], 'a new version: a new messageId');
  t.match(a.ok && a.event['messageId'], /^crm:[0-9a-f]{40}$/);
  t.equal(acceptEvents([a.ok ? a.event : null], 0).rejected.length, 0, 'the event passes the shared validation');

  t.same(toPartnerEvent(c, { profile: {} }), { ok: false, recordId: undefined, problem: { field: 'id', reason: 'id: the record id is missing' } });
  t.same(toPartnerEvent(c, [1]), { ok: false, recordId: undefined, problem: { field: 'record', reason: 'record: not a JSON object' } });
  const [n] = parsed([{ ...BASE, mapping: { ...BASE.mapping, traits: { ltv: { column: 'ltv', as: 'number' } } } }]);
  if (n === undefined) throw new Error('no connector');
  t.match(toPartnerEvent(n, { id: 'u-1', ltv: 'lots' }), { ok: false, recordId: 'u-1', problem: { field: 'traits.ltv' } });
});

void t.test('events are chunked by count and by bytes, in order', async (t) => {
  const events = Array.from({ length: 7 }, (_, i) => ({ n: i, pad: 'x'.repeat(90) }));
  t.same(chunkEvents(events, 3, 1_000_000).map((c) => c.map((e) => e.n)), [[0, 1, 2], [3, 4, 5], [6]]);
  t.same(chunkEvents(events, 100, 250).map((c) => c.length), [2, 2, 2, 1], 'about 110 bytes each, 250 bytes a chunk');
  t.same(chunkEvents([], 3, 100), []);
  t.same(chunkEvents([{ big: 'y'.repeat(500) }], 3, 100).length, 1, 'an event larger than the limit still goes, alone');
});

void t.test('the shipped examples are valid definitions', async (t) => {
  const read = (name: string) => readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');
  const connectors = parseConnectors(read('connectors.example.json'), { CRM_PARTNER_CLIENT_SECRET: 'x', SHOP_PASSWORD: 'y' });
  t.ok(connectors.ok, connectors.ok ? 'connectors.example.json' : connectors.problems.join('; '));
  t.same(connectors.ok ? connectors.connectors.map((c) => [c.id, c.pagination.type, c.auth.type]) : [], [['crm-partner', 'cursor', 'oauth2_client_credentials'], ['shop-orders', 'page', 'basic']]);
  const source = parseApiSource(read('thirdparty-api.example.json'), { EXAMPLE_DATA_TOKEN: 't' });
  t.ok(source.ok, source.ok ? 'thirdparty-api.example.json' : source.problems.join('; '));
});

void t.test('PULSE_CONNECTORS: inline JSON or a file, problems placed and reported with the others', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-connectors-'));
  writeFileSync(join(dir, 'connectors.json'), JSON.stringify([BASE]));
  t.same(loadConfig({ PULSE_CONNECTORS: 'connectors.json' }, dir).connectors.map((c) => c.id), ['crm']);
  t.same(loadConfig({ PULSE_CONNECTORS: JSON.stringify([BASE]) }, dir).connectors.map((c) => c.tenant), ['acme']);
  t.same(loadConfig({}, dir).connectors, [], 'none by default');
  let problems: readonly string[] = [];
  try {
    loadConfig({ PULSE_CONNECTORS: JSON.stringify([{ ...BASE, auth: { type: 'bearer', token: { env: 'NOPE' } } }]), PULSE_HTTP_PORT: 'x' }, dir);
  } catch (err) {
    if (err instanceof ConfigError) problems = err.problems;
  }
  t.ok(problems.includes('PULSE_CONNECTORS: [0].auth.token: environment variable NOPE is not set'), 'the connector problem, placed');
  t.ok(problems.some((p) => p.startsWith('PULSE_HTTP_PORT')), 'together with the other variables\' problems');
  t.throws(() => loadConfig({ PULSE_CONNECTORS: 'missing.json' }, dir), /PULSE_CONNECTORS: not a JSON array and not a readable file/);
});

void t.test('reasons are stripped of quoted values before they are logged or stored', async (t) => {
  t.equal(safeReason('traits.email: column "mail": "ann@example.com" is not a number'), 'traits.email: column "…": "…" is not a number');
  t.equal(safeReason('traits.x: column "c": "a very long value that the preview cut…" is not a date'), 'traits.x: column "…": "…" is not a date');
  t.equal(safeReason('context.externalIds.1: email_sha256 must be 64 lowercase hex characters'), 'context.externalIds.1: email_sha256 must be 64 lowercase hex characters');
});
