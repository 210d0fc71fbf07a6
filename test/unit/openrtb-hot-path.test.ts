import t from 'tap';
import { eidPartner, identifiersOf, parseBidRequest } from '../../src/targeting/openrtb.ts';

// The EnrichBidRequest hot path remembers eids source names and validates without copying; these
// pin that the shortcuts answer exactly what the plain computation does.

void t.test('a remembered source name is the same answer, whatever came before', async (t) => {
  const sources = ['liveramp.com', 'https://www.LiveRamp.com/path', ' id5-sync.com ', 'idp.example-graph.io', 'Some Vendor!', '...', ''];
  const first = sources.map((s) => eidPartner(s));
  t.strictSame(first, ['liveramp', 'liveramp', 'id5', 'idp_example-graph_io', 'some_vendor_', undefined, undefined]);
  t.strictSame(sources.map((s) => eidPartner(s)), first, 'asked again (now remembered)');
});

void t.test('the UID2 exception of adserver.org holds after adserver.org was remembered', async (t) => {
  t.equal(eidPartner('adserver.org', { ext: { rtiPartner: 'TDID' } }), 'ttd');
  t.equal(eidPartner('adserver.org', { ext: { rtiPartner: 'UID2' } }), 'uid2');
  t.equal(eidPartner('https://adserver.org', { ext: { rtiPartner: 'UID2' } }), 'uid2');
  t.equal(eidPartner('adserver.org'), 'ttd');
});

void t.test('sources named like Object.prototype members are names, not inherited properties', async (t) => {
  for (const s of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    t.equal(typeof eidPartner(s), 'string', s);
  }
  const r = parseBidRequest(Buffer.from(JSON.stringify({ id: 'r', imp: [{ id: '1', banner: {} }], user: { eids: [{ source: 'constructor', uids: [{ id: 'x1' }] }] } })));
  t.strictSame(identifiersOf(r).identifiers, [{ type: 'partner:constructor', id: 'x1' }]);
});

void t.test('many distinct sources: every answer stays right while the memory of names turns over', async (t) => {
  for (let i = 0; i < 3000; i++) {
    const got = eidPartner(`vendor-${i}.example`);
    if (got !== `vendor-${i}_example`) t.fail(`vendor-${i}.example -> ${String(got)}`);
  }
  t.equal(eidPartner('vendor-7.example'), 'vendor-7_example');
  t.equal(eidPartner('liveramp.com'), 'liveramp');
});

void t.test('validation ignores unknown fields and returns the parsed object itself', async (t) => {
  const body = { id: 'r', imp: [{ id: '1', banner: { w: 1, extra: [1, { deep: true }] }, ext: { data: { k: 'v' }, x: 1 } }], user: { eids: [{ source: 's.com', uids: [{ id: 'a', atype: 1, ext: { z: 1 } }], more: 1 }] }, future: null };
  const r = parseBidRequest(Buffer.from(JSON.stringify(body)));
  t.strictSame(r, body);
  t.equal(JSON.stringify(r), JSON.stringify(body), 'key order kept');
});
