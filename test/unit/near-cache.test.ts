import t from 'tap';
import type { Identifier } from '../../src/identity/identifier.ts';
import { NearCache } from '../../src/targeting/near-cache.ts';
import type { AudienceReader, AudienceRecord } from '../../src/targeting/store.ts';

// The near-cache's recency and its synchronous hit path, over an in-memory reader that counts reads.

function reader(): AudienceReader & { reads: string[] } {
  const reads: string[] = [];
  const record = (id: string): AudienceRecord => ({ profileId: `p-${id}`, segments: [{ id: 's', name: 'S' }], storedConsent: undefined });
  return {
    reads,
    records: (_tenant, lookups) => Promise.resolve(lookups.map((ids) => {
      const id = ids[0]?.id ?? '';
      reads.push(id);
      return record(id);
    })),
    audience: () => Promise.resolve(undefined),
  };
}
const ids = (id: string): Identifier[] => [{ type: 'user_id', id }];

void t.test('cached() answers hits without I/O and misses with undefined', async (t) => {
  const r = reader();
  const cache = new NearCache(r);
  t.equal(cache.cached('acme', ids('a')), undefined, 'a miss before any read');
  await cache.records('acme', [ids('a')]);
  t.equal(cache.cached('acme', ids('a'))?.profileId, 'p-a', 'a hit after the read');
  t.equal(cache.cached('other', ids('a')), undefined, 'per tenant');
  t.strictSame(r.reads, ['a'], 'one read');
  t.equal(cache.stats().hits, 1, 'the hit is counted');
});

void t.test('an entry in use stays while others come and go; an unused one is evicted first', async (t) => {
  const r = reader();
  const cache = new NearCache(r, { maxEntries: 8 });
  await cache.records('acme', [ids('hot'), ids('cold')]);
  for (let i = 0; i < 40; i++) {
    await cache.records('acme', [ids(`k${i}`)]);
    if (i % 2 === 0) t.ok(cache.cached('acme', ids('hot')) !== undefined, `hot still cached after ${i + 1} insertions`);
    t.ok(cache.stats().entries <= 8, 'bounded');
  }
  t.equal(cache.cached('acme', ids('cold')), undefined, 'the unused entry went');
  t.notOk(r.reads.slice(2).includes('hot'), 'hot was never read again');
  const before = r.reads.length;
  await cache.records('acme', [ids('k39'), ids('k38'), ids('k37')]);
  t.equal(r.reads.length, before, 'the newest entries are still there');
});
