import t from 'tap';
import { createHash } from 'node:crypto';
import { acceptEvents } from '../../src/collection/publisher.ts';
import { acceptWithinLimits } from '../../src/collection/limits.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const event = { type: 'identify', messageId: 'm-1', userId: 'u-1', traits: { phone: '030 1234567' } };

// Collectors normalize first and drop the raw phone, so the configured region must reach them:
// the processor's second pass cannot re-read a number that is already hashed.
void t.test('collectors hash phones in the configured region', async (t) => {
  const ids = (wire: Record<string, unknown> | undefined) => ((wire?.['context'] as { externalIds?: { type: string; id: string }[] } | undefined)?.externalIds ?? []);
  const de = acceptEvents([event], 0, { phoneRegion: 'DE' }).accepted[0];
  t.same(ids(de).filter((x) => x.type === 'phone_sha256'), [{ type: 'phone_sha256', id: sha('+49301234567') }], 'read as a German number');
  t.notOk(JSON.stringify(de).includes('1234567'), 'the raw number is gone');
  const screened = acceptWithinLimits([event], 0, { phoneRegion: 'DE' }).accepted[0];
  t.same(ids(screened), ids(de), 'the size-limited path passes the region on');
  const us = acceptEvents([event], 0).accepted[0];
  t.not(ids(us).find((x) => x.type === 'phone_sha256')?.id, sha('+49301234567'), 'the default region reads it differently');
});
