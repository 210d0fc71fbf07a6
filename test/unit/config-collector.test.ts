import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { tempDir } from '../support/env.ts';

/** The problems loadConfig reports for `env`, or undefined when it accepts it. */
function problemsOf(env: NodeJS.ProcessEnv, cwd: string): readonly string[] | undefined {
  try {
    loadConfig(env, cwd);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

void t.test('the collector rate limit: 1000 per second per key unless set', async (t) => {
  t.equal(loadConfig({}, '/srv').httpRateLimit, 1000);
  t.equal(loadConfig({ PULSE_HTTP_RATE_LIMIT: '25' }, '/srv').httpRateLimit, 25);
  t.match(problemsOf({ PULSE_HTTP_RATE_LIMIT: '0' }, '/srv'), [/PULSE_HTTP_RATE_LIMIT: must be an integer from 1/]);
});

void t.test('TLS: both files or neither, readable, and a usable pair; every problem at once', async (t) => {
  const dir = tempDir('pulse-config-tls-');
  t.teardown(dir.remove);
  t.equal(loadConfig({}, '/srv').tls, undefined, 'plain HTTP by default');
  t.match(problemsOf({ PULSE_TLS_CERT: 'cert.pem' }, dir.path), [/set both \(HTTPS\) or neither/]);
  const missing = problemsOf({ PULSE_TLS_CERT: 'missing-cert.pem', PULSE_TLS_KEY: 'missing-key.pem', PULSE_HTTP_RATE_LIMIT: 'x' }, dir.path);
  t.match(missing, [/PULSE_HTTP_RATE_LIMIT/, /PULSE_TLS_CERT: not a readable file/, /PULSE_TLS_KEY: not a readable file/]);
  t.equal(missing?.length, 3);
  writeFileSync(join(dir.path, 'cert.pem'), 'not a certificate');
  writeFileSync(join(dir.path, 'key.pem'), 'not a key');
  t.match(problemsOf({ PULSE_TLS_CERT: 'cert.pem', PULSE_TLS_KEY: join(dir.path, 'key.pem') }, dir.path), [/PULSE_TLS_CERT, PULSE_TLS_KEY: not a usable certificate and key/]);
});
