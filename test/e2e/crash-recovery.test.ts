import t from 'tap';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { cleanupNamespace, eventually, NATS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { bearer, grpcClients, runCli, startPulseProcess, type PulseProcess } from '../support/pulse-process.ts';

const ns = uniqueNamespace('crash');
const dir = tempDir();
const USERS = 20;
const PER_USER = 250;
const TOTAL = USERS * PER_USER;
const running: PulseProcess[] = [];

t.teardown(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await cleanupNamespace(ns);
  dir.remove();
});

void t.test('a processor killed mid-stream and restarted reflects every event exactly once', async (t) => {
  // No PULSE_API_KEYS: start creates an admin key under the data dir and prints it.
  const vars = { PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path, PULSE_ACK_WAIT_MS: '2000', PULSE_BATCH_SIZE: '20' };
  const first = await startPulseProcess(vars);
  running.push(first);
  const key = /created an admin key for tenant "default" in .*:\n\s+(pk_\S+)/.exec(first.output())?.[1];
  t.ok(key, 'start printed the admin key it created');
  const admin = bearer(key);
  const c1 = grpcClients(first.grpcPort);
  await c1.createSegment({ id: 'loyal', name: 'Loyal', rule: JSON.stringify({ event: 'Purchase', op: 'gte', count: PER_USER }) }, admin);
  c1.close();

  const nc = await connect({ servers: NATS_URL });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const consumerInfo = () => jsm.consumers.info(`${ns.toUpperCase()}_EVENTS`, `${ns}-processor`);

  // The publisher keeps going while the processor is killed: nothing it was acknowledged for may be lost.
  const publishing = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      const h = headers();
      h.set('Content-Type', 'application/json');
      const messageId = `evt-${i}`;
      await js.publish(`${ns}.events.default`, JSON.stringify({
        type: 'track', messageId, userId: `user-${i % USERS}`, event: 'Purchase', properties: { value: i }, timestamp: 1_780_000_000_000 + i,
      }), { headers: h, msgID: messageId });
    }
  })();

  await eventually(async () => ((await consumerInfo()).ack_floor.stream_seq >= TOTAL / 5 ? true : undefined), 60_000, 'a fifth of the stream acked');
  const killed = await first.stop('SIGKILL');
  t.equal(killed.signal, 'SIGKILL', 'the first processor was killed');
  const ackedAtKill = (await consumerInfo()).ack_floor.stream_seq;
  t.ok(ackedAtKill < TOTAL, `killed in the middle of the stream (${ackedAtKill} of ${TOTAL} acked)`);

  const second = await startPulseProcess(vars);
  running.push(second);
  await publishing;
  await eventually(async () => {
    const info = await consumerInfo();
    return info.ack_floor.stream_seq >= TOTAL && info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  }, 120_000, 'every event acked after the restart');

  const c2 = grpcClients(second.grpcPort);
  t.teardown(() => c2.close());
  const counts: string[] = [];
  const inSegment: number[] = [];
  for (let u = 0; u < USERS; u++) {
    const profile = await c2.getProfile({ identifiers: [{ type: 'user_id', id: `user-${u}` }] }, admin);
    counts.push(profile.eventCounts['Purchase'] ?? 'missing');
    const audience = await c2.getAudience({ identifiers: [{ type: 'user_id', id: `user-${u}` }] }, admin);
    inSegment.push(audience.segments.length);
  }
  t.same(counts, Array.from({ length: USERS }, () => String(PER_USER)), `every user counted exactly ${PER_USER} purchases`);
  t.same(inSegment, Array.from({ length: USERS }, () => 1), 'every user is in the segment');

  const sql = await runCli(['sql', `SELECT count() AS n, uniqExact(message_id) AS u FROM ${ns}.events`], second.env);
  t.equal(sql.code, 0, sql.stderr);
  t.match(sql.stdout, new RegExp(`n\\s+\\|\\s+u\\s*\\n[-+]+\\s*\\n${TOTAL}\\s+\\|\\s+${TOTAL}\\s*\\n`), `exactly ${TOTAL} rows, one per event`);

  const metrics = await (await fetch(`http://127.0.0.1:${second.httpPort}/metrics`)).text();
  const applied = Number(/pulse_events_processed_total\{result="applied"\} (\d+)/.exec(metrics)?.[1]);
  const duplicates = Number(/pulse_events_processed_total\{result="duplicate"\} (\d+)/.exec(metrics)?.[1]);
  t.ok(applied < TOTAL, `the restarted processor applied only what was left (${applied})`);
  t.ok(applied + duplicates >= TOTAL - ackedAtKill, `the restart handled everything unacked at the kill (${applied} applied + ${duplicates} recognised as already applied)`);

  const stopped = await second.stop('SIGTERM');
  t.equal(stopped.code, 0);
});
