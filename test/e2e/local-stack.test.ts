import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { probe } from '../../src/infra/local-stack.ts';
import { eventually, freePort, tempDir, uniqueNamespace } from '../support/env.ts';
import { bearer, grpcClients, startPulseProcess } from '../support/pulse-process.ts';

// When nothing answers at the configured local NATS and Redis, `pulse start` runs its own
// nats-server -js and redis-server with data under the data dir, and stops them when it stops.
void t.test('start runs local NATS and Redis when none answers, and stops them on exit', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const natsPort = await freePort();
  const redisPort = await freePort();
  const ns = uniqueNamespace('local');
  const pulse = await startPulseProcess({
    PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path,
    PULSE_NATS_URL: `nats://127.0.0.1:${natsPort}`, PULSE_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  });
  t.teardown(() => pulse.stop('SIGKILL'));
  const out = pulse.output();
  t.match(out, `started NATS (JetStream) on 127.0.0.1:${natsPort}`);
  t.match(out, `started Redis on 127.0.0.1:${redisPort}`);
  t.ok(existsSync(join(dir.path, 'nats', 'jetstream')), 'JetStream data lives under the data dir');
  t.ok(existsSync(join(dir.path, 'redis')), 'Redis data lives under the data dir');

  const key = /(pk_\S+)/.exec(out)?.[1];
  const nc = await connect({ servers: `nats://127.0.0.1:${natsPort}` });
  await jetstream(nc).publish(`${ns}.events.default`, JSON.stringify({ type: 'identify', messageId: 'local-1', userId: 'u-local', traits: { a: 1 } }), { msgID: 'local-1' });
  await nc.close();
  const c = grpcClients(pulse.grpcPort);
  t.teardown(() => c.close());
  const audience = await eventually(async () => {
    const r = await c.getAudience({ identifiers: [{ type: 'user_id', id: 'u-local' }] }, bearer(key));
    return r.profileId !== '' ? r : undefined;
  }, 20_000, 'the event to be applied');
  t.ok(audience.profileId, 'the event went through the local stack');

  const stopped = await pulse.stop('SIGTERM');
  t.equal(stopped.code, 0);
  await eventually(async () => (!(await probe('127.0.0.1', natsPort)) && !(await probe('127.0.0.1', redisPort)) ? true : undefined), 10_000, 'local servers to stop');
  t.pass('the local servers stopped with Pulse');
});
