import t from 'tap';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const ADMIN = 'near-cache-admin-key-0001';
const ROUNDS = 25;
const e2e = startE2e(t, { prefix: 'nc', keys: [{ key: ADMIN, tenant: 'acme', scopes: ['*'] }] });
const publish = (event: Record<string, unknown>) => e2e.publish('acme', event);

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

void t.test(`a segment change is visible to cached lookups within 50 ms (${ROUNDS} rounds)`, async (t) => {
  const c = e2e.clients;
  const md = bearer(ADMIN);
  await c.createSegment({ id: 'vip', name: 'VIP', rule: '{"trait":"tier","op":"eq","value":"vip"}' }, md);
  // Per profile: when the processor published the enter change (its `at`), and when the change
  // reached this test's own subscriber on the same NATS server.
  const changes = new Map<string, { publishedAt: number; deliveredAt: number }>();
  const sub = e2e.nc.subscribe(`${e2e.ns}.changes.acme.segment`, {
    callback: (_err, msg) => {
      const body = msg.json<{ kind: string; profileId: string; at: string }>();
      if (body.kind === 'enter') changes.set(body.profileId, { publishedAt: Date.parse(body.at), deliveredAt: Date.now() });
    },
  });
  t.teardown(() => sub.unsubscribe());

  const fromPublication: number[] = [];
  const fromDelivery: number[] = [];
  let lookups = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const user = { identifiers: [{ type: 'user_id', id: `user-${round}` }] };
    await publish({ type: 'identify', messageId: `base-${round}`, userId: `user-${round}`, traits: { tier: 'basic' } });
    const profileId = await eventually(async () => {
      const r = await c.getAudience(user, md);
      return r.profileId === '' ? undefined : r.profileId;
    }, 20_000, 'the profile');
    // The profile is known and cached with no segments; now make it enter `vip` and poll.
    await publish({ type: 'identify', messageId: `vip-${round}`, userId: `user-${round}`, traits: { tier: 'vip' } });
    const deadline = Date.now() + 10_000;
    let seenAt: number | undefined;
    while (Date.now() < deadline) {
      const r = await c.getAudience(user, md);
      lookups += 1;
      if (r.segments.some((s) => s.id === 'vip')) {
        seenAt = Date.now();
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const change = changes.get(profileId);
    if (seenAt === undefined || change === undefined) {
      t.fail(`round ${round}: the change ${change === undefined ? 'was never published' : 'never became visible'}`);
      return;
    }
    fromPublication.push(seenAt - change.publishedAt);
    fromDelivery.push(seenAt - change.deliveredAt);
  }
  const describe = (what: string, values: readonly number[]): { text: string; max: number } => {
    const sorted = [...values].sort((a, b) => a - b);
    const max = sorted[sorted.length - 1] ?? Infinity;
    return { text: `ms from ${what} to the first lookup showing it: min ${sorted[0]}, p50 ${quantile(sorted, 0.5)}, p90 ${quantile(sorted, 0.9)}, max ${max}`, max };
  };
  const published = describe('the change\'s publication', fromPublication);
  const delivered = describe('the change reaching another subscriber', fromDelivery);
  t.comment(`${published.text} (${lookups} lookups)`);
  t.comment(delivered.text);
  t.equal(fromPublication.length, ROUNDS, 'every round saw its change');
  // The bound is on the time Pulse takes once the change is on the bus. From publication it also
  // holds on an idle machine (max 24-41 ms measured), but not when parallel suites saturate the
  // cores and NATS itself delivers late: both distributions are reported above.
  t.ok(delivered.max <= 50, delivered.text);
});
