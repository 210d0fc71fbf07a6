// Stored consent and the lookup near-cache (issue 5 items 1 and 7): when an event changes a
// profile's stored TC string (a new grant, a withdrawal, or a refusal the consent gate records),
// the processor announces it on `<ns>.changes.<tenant>.profile`, so a partner's cached answer
// follows within moments instead of the cache's 30 s safety TTL.
import t from 'tap';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';
import { OTHER_VENDOR, PULSE_VENDOR, tcString } from '../support/tcf.ts';

const ADMIN = 'consent-cache-admin-0001';
const DSP = 'consent-cache-dsp-a-0001';
/** Well under the near-cache's 30 s TTL: only an announcement can make the change visible this fast. */
const VISIBLE_WITHIN_MS = 5_000;
const e2e = startE2e(t, {
  prefix: 'cc',
  keys: [
    { key: ADMIN, tenant: 'acme', scopes: ['*'] },
    { key: DSP, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp-a', iabVendorId: PULSE_VENDOR } },
  ],
});
let sent = 0;

t.before(async () => {
  await e2e.clients.createSegment({ id: 'vip', name: 'VIP', rule: 'tier = "vip"' }, bearer(ADMIN));
  const sharing = await e2e.cli(['sharing', 'set', '--partner', 'dsp-a', '--all']);
  if (sharing.code !== 0) throw new Error(`pulse sharing set failed: ${sharing.stderr}`);
});

async function publish(event: Record<string, unknown>): Promise<void> {
  const messageId = `m-${++sent}`;
  await e2e.publish('acme', { messageId, timestamp: new Date(Date.now() + sent).toISOString(), ...event });
}

const u1 = { identifiers: [{ type: 'user_id', id: 'u1' }] };
const dspSees = async () => (await e2e.clients.getAudience(u1, bearer(DSP))).segments.map((s) => s.id);

/** Waits until the partner's answer is `want`, and says how long that took. */
async function until(want: string[], what: string): Promise<number> {
  const started = Date.now();
  await eventually(async () => (JSON.stringify(await dspSees()) === JSON.stringify(want) ? true : undefined), VISIBLE_WITHIN_MS, what);
  return Date.now() - started;
}

void t.test('a withdrawal, a new grant and a recorded refusal each reach cached partner lookups at once', async (t) => {
  const grant = tcString({ purposes: [1, 3, 4], vendors: [PULSE_VENDOR, OTHER_VENDOR] });
  const withdrawn = tcString({ purposes: [1, 3, 4], vendors: [OTHER_VENDOR] });
  await publish({ type: 'identify', userId: 'u1', traits: { tier: 'vip' }, context: { consent: { tcf: grant } } });
  await eventually(async () => ((await dspSees()).length === 1 ? true : undefined), 30_000, 'u1 in vip for dsp-a');
  t.same(await dspSees(), ['vip'], 'dsp-a (vendor 1234) has consent for purposes 3 and 4');
  t.match(await e2e.metrics(), /pulse_near_cache_lookups_total\{result="hit"\} [1-9]/, 'the answer is now served from the near-cache');

  // The vendor loses consent; the person is still a member (first-party use is unaffected).
  await publish({ type: 'track', userId: 'u1', event: 'Visit', context: { consent: { tcf: withdrawn } } });
  t.ok(await until([], 'the withdrawal to reach dsp-a') < VISIBLE_WITHIN_MS, 'the withdrawal reached the cached lookup');
  t.same((await e2e.clients.getAudience(u1, bearer(ADMIN))).segments.map((s) => s.id), ['vip'], 'the tenant itself still sees the membership');

  await publish({ type: 'track', userId: 'u1', event: 'Visit', context: { consent: { tcf: grant } } });
  t.ok(await until(['vip'], 'the new grant to reach dsp-a') < VISIBLE_WITHIN_MS, 'a new grant reached it too');

  // Purpose 3 refused: the consent gate denies the event and records the refusal on the profile.
  await publish({ type: 'track', userId: 'u1', event: 'Visit', context: { consent: { tcf: tcString({ purposes: [1], vendors: [PULSE_VENDOR] }) } } });
  t.ok(await until([], 'the recorded refusal to reach dsp-a') < VISIBLE_WITHIN_MS, 'a refusal recorded by the gate reached it');
});
