import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

void t.test('defaults when nothing is set', async (t) => {
  const c = loadConfig({}, '/srv');
  t.equal(c.natsUrl, 'nats://127.0.0.1:4222');
  t.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  t.equal(c.clickhouseUrl, undefined, 'embedded ClickHouse by default');
  t.equal(c.grpcPort, 50051);
  t.equal(c.httpPort, 8080);
  t.equal(c.dataDir, '/srv/.pulse');
  t.equal(c.namespace, 'pulse');
  t.equal(c.apiKeys, undefined);
  t.ok(c.natsDefaulted && c.redisDefaulted);
  t.ok(Object.isFrozen(c));
});

void t.test('reads every variable', async (t) => {
  const c = loadConfig({
    PULSE_NATS_URL: 'nats://10.0.0.1:4222', PULSE_REDIS_URL: 'redis://r:6380', PULSE_CLICKHOUSE_URL: 'http://ch:8123',
    PULSE_GRPC_PORT: '6000', PULSE_HTTP_PORT: '0', PULSE_DATA_DIR: '/data', PULSE_NAMESPACE: 'test_1',
    PULSE_API_KEYS: '[{"key":"0123456789abcdef","tenant":"acme","scopes":["targeting:read"]}]',
  }, '/srv');
  t.equal(c.clickhouseUrl, 'http://ch:8123');
  t.equal(c.grpcPort, 6000);
  t.equal(c.httpPort, 0);
  t.equal(c.dataDir, '/data');
  t.equal(c.namespace, 'test_1');
  t.same(c.apiKeys, [{ key: '0123456789abcdef', tenant: 'acme', scopes: ['targeting:read'] }]);
  t.notOk(c.natsDefaulted);
});

void t.test('reads keys from a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cfg-'));
  writeFileSync(join(dir, 'keys.json'), '[{"key":"0123456789abcdef0","tenant":"t1","scopes":["*"]}]');
  const c = loadConfig({ PULSE_API_KEYS: 'keys.json' }, dir);
  t.equal(c.apiKeys?.[0]?.tenant, 't1');
});

void t.test('reports every problem at once', async (t) => {
  const err = t.throws(() => loadConfig({
    PULSE_NATS_URL: 'http://x', PULSE_GRPC_PORT: '70000', PULSE_HTTP_PORT: 'abc', PULSE_NAMESPACE: 'Bad-NS',
    PULSE_API_KEYS: '[{"key":"short","tenant":"ACME","scopes":["nope"]}]', PULSE_TYPO: '1',
  })) as ConfigError;
  t.ok(err instanceof ConfigError);
  const text = err.problems.join('\n');
  for (const name of ['PULSE_NATS_URL', 'PULSE_GRPC_PORT', 'PULSE_HTTP_PORT', 'PULSE_NAMESPACE', 'PULSE_TYPO']) t.match(text, name);
  t.match(text, /PULSE_API_KEYS: \[0\]\.key/);
  t.match(text, /PULSE_API_KEYS: \[0\]\.tenant/);
  t.match(text, /PULSE_API_KEYS: \[0\]\.scopes/);
  t.ok(err.problems.length >= 8, `all problems listed (${err.problems.length})`);
});

void t.test('a keys path that does not exist is a problem, not a crash', async (t) => {
  t.throws(() => loadConfig({ PULSE_API_KEYS: '/nonexistent/keys.json' }), /PULSE_API_KEYS: not a JSON array and not a readable file/);
});

void t.test('a Redis Cluster is reached through seed node URLs', async (t) => {
  t.equal(loadConfig({}, '/srv').redisCluster, false, 'one server by default');
  const c = loadConfig({ PULSE_REDIS_CLUSTER: 'true', PULSE_REDIS_URL: 'redis://a:7000, redis://b:7001' }, '/srv');
  t.equal(c.redisCluster, true);
  t.equal(c.redisUrl, 'redis://a:7000,redis://b:7001', 'every seed kept, trimmed');
  t.throws(() => loadConfig({ PULSE_REDIS_CLUSTER: 'yes' }, '/srv'), /PULSE_REDIS_CLUSTER: must be true or false \(got "yes"\)/);
  t.throws(() => loadConfig({ PULSE_REDIS_CLUSTER: 'true', PULSE_REDIS_URL: 'redis://a:7000,http://b:1' }, '/srv'), /PULSE_REDIS_URL: protocol must be one of redis:, rediss: \(got http:\)/);
  t.throws(() => loadConfig({ PULSE_REDIS_URL: 'redis://a:7000,redis://b:7001' }, '/srv'), /PULSE_REDIS_URL/, 'a list without PULSE_REDIS_CLUSTER is refused');
});

void t.test('the Redis key layout and its bucket count', async (t) => {
  const d = loadConfig({}, '/srv');
  t.same([d.redisLayout, d.redisBuckets], ['tenant', 64], 'one hash tag per tenant and 64 buckets by default');
  const c = loadConfig({ PULSE_REDIS_LAYOUT: 'profile', PULSE_REDIS_BUCKETS: '1024' }, '/srv');
  t.same([c.redisLayout, c.redisBuckets], ['profile', 1024]);
  t.equal(loadConfig({ PULSE_REDIS_BUCKETS: '1' }, '/srv').redisBuckets, 1);
  t.equal(loadConfig({ PULSE_REDIS_BUCKETS: '4096' }, '/srv').redisBuckets, 4096);
  t.throws(() => loadConfig({ PULSE_REDIS_LAYOUT: 'cluster' }, '/srv'), /PULSE_REDIS_LAYOUT: must be one of tenant, profile \(got "cluster"\)/);
  for (const bad of ['0', '4097', '1.5', 'many']) {
    t.throws(() => loadConfig({ PULSE_REDIS_BUCKETS: bad }, '/srv'), /PULSE_REDIS_BUCKETS: must be an integer from 1 to 4096/, `${bad} is refused`);
  }
});
