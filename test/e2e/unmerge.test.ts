import t from 'tap';
import type { Profile__Output } from '../../src/gen/pulse/v1/Profile.ts';
import type { UnmergeProfileResponse__Output } from '../../src/gen/pulse/v1/UnmergeProfileResponse.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';

const ADMIN = 'admin-key-for-unmerge-e2e-01';
const e2e = startE2e(t, { prefix: 'e2eum', keys: [{ key: ADMIN, tenant: 'acme', scopes: ['*'] }] });
const HOUR = 3_600_000;
const at = (hoursAgo: number) => new Date(Date.now() - hoursAgo * HOUR).toISOString();
const getProfile = (type: string, id: string) => e2e.call<Profile__Output>('ProfileService', 'GetProfile', { identifiers: [{ type, id }] }, ADMIN);

void t.test('pulse profiles unmerge splits a wrongly merged profile in the running process', async (t) => {
  await e2e.call('SegmentService', 'CreateSegment', { id: 'oslo', name: 'Oslo', rule: 'city = "Oslo"' }, ADMIN);
  await e2e.publish('acme', [
    { type: 'identify', messageId: 'u1', userId: 'alice', traits: { name: 'Alice' }, timestamp: at(5) },
    { type: 'identify', messageId: 'u2', anonymousId: 'bob-phone', traits: { name: 'Bob', city: 'Oslo' }, timestamp: at(4) },
    // A shared tablet cookie fuses the two.
    { type: 'page', messageId: 'u3', userId: 'alice', name: 'Home', context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(3) },
    { type: 'track', messageId: 'u4', anonymousId: 'bob-phone', event: 'Search', context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(2) },
  ]);
  const fused = await eventually(async () => {
    const p = await getProfile('anonymous_id', 'bob-phone').catch(() => undefined);
    return p !== undefined && p.identifiers.some((i) => i.type === 'user_id') ? p : undefined;
  }, 20_000, 'the two profiles to merge');

  const run = await e2e.cli(['profiles', 'unmerge', '--identifier', 'user_id:alice', '--split', 'anonymous_id:bob-phone']);
  t.equal(run.code, 0, run.stderr);
  const res = JSON.parse(run.stdout) as UnmergeProfileResponse__Output;
  t.equal(res.profileId, fused.id);
  t.same([res.eventsProfile, res.eventsSplit], ['2', '2']);
  t.same(res.segmentChanges.map((c) => [c.profileId === res.profileId ? 'alice' : 'bob', c.kind, c.segmentId]).sort(), [['alice', 'exit', 'oslo'], ['bob', 'enter', 'oslo']]);

  const alice = await getProfile('user_id', 'alice');
  const bob = await getProfile('anonymous_id', 'bob-phone');
  t.equal(bob.id, res.splitProfileId);
  t.same(alice.traits?.fields['name'], { stringValue: 'Alice', kind: 'stringValue' });
  t.same(bob.traits?.fields['city'], { stringValue: 'Oslo', kind: 'stringValue' });
  t.same([alice.eventCounts, bob.eventCounts], [{ $identify: '1', $page: '1' }, { $identify: '1', Search: '1' }]);

  const again = await e2e.cli(['profiles', 'unmerge', '--identifier', 'user_id:alice', '--split', 'anonymous_id:bob-phone']);
  t.equal(again.code, 1);
  t.match(again.stderr, /split\[0\]: this anonymous_id is not an identifier of the profile/);
});
