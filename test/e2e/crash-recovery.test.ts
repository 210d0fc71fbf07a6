import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const USERS = 20;
const PER_USER = 250;
const TOTAL = USERS * PER_USER;
// No keys: start creates an admin key under the data dir and prints it.
const e2e = startE2e(t, { prefix: 'crash', env: { PULSE_ACK_WAIT_MS: '2000', PULSE_BATCH_SIZE: '20' } });

void t.test('a processor killed mid-stream and restarted reflects every event exactly once', async (t) => {
  const first = e2e.pulse;
  const key = /created an admin key for tenant "default" in .*:\n\s+(pk_\S+)/.exec(first.output())?.[1];
  t.ok(key, 'start printed the admin key it created');
  const admin = bearer(key);
  await e2e.clients.createSegment({ id: 'loyal', name: 'Loyal', rule: JSON.stringify({ event: 'Purchase', op: 'gte', count: PER_USER }) }, admin);

  const jsm = await jetstreamManager(e2e.nc);
  const consumerInfo = () => jsm.consumers.info(`${e2e.ns.toUpperCase()}_EVENTS`, `${e2e.ns}-processor`);

  // The publisher keeps going while the processor is killed: nothing it was acknowledged for may be lost.
  const publishing = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      await e2e.publish('default', {
        type: 'track', messageId: `evt-${i}`, userId: `user-${i % USERS}`, event: 'Purchase', properties: { value: i }, timestamp: 1_780_000_000_000 + i,
      });
    }
  })();

  await eventually(async () => ((await consumerInfo()).ack_floor.stream_seq >= TOTAL / 5 ? true : undefined), 60_000, 'a fifth of the stream acked');
  const killed = await first.stop('SIGKILL');
  t.equal(killed.signal, 'SIGKILL', 'the first processor was killed');
  const ackedAtKill = (await consumerInfo()).ack_floor.stream_seq;
  t.ok(ackedAtKill < TOTAL, `killed in the middle of the stream (${ackedAtKill} of ${TOTAL} acked)`);

  const second = await e2e.restart();
  await publishing;
  await eventually(async () => {
    const info = await consumerInfo();
    return info.ack_floor.stream_seq >= TOTAL && info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  }, 120_000, 'every event acked after the restart');

  const c2 = e2e.clients;
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

  const sql = await e2e.cli(['sql', `SELECT count() AS n, uniqExact(message_id) AS u FROM ${e2e.ns}.events`]);
  t.equal(sql.code, 0, sql.stderr);
  t.match(sql.stdout, new RegExp(`n\\s+\\|\\s+u\\s*\\n[-+]+\\s*\\n${TOTAL}\\s+\\|\\s+${TOTAL}\\s*\\n`), `exactly ${TOTAL} rows, one per event`);

  const metrics = await e2e.metrics();
  const applied = Number(/pulse_events_processed_total\{result="applied"\} (\d+)/.exec(metrics)?.[1]);
  const duplicates = Number(/pulse_events_processed_total\{result="duplicate"\} (\d+)/.exec(metrics)?.[1]);
  t.ok(applied < TOTAL, `the restarted processor applied only what was left (${applied})`);
  t.ok(applied + duplicates >= TOTAL - ackedAtKill, `the restart handled everything unacked at the kill (${applied} applied + ${duplicates} recognised as already applied)`);

  const stopped = await second.stop('SIGTERM');
  t.equal(stopped.code, 0);
});
