import t from 'tap';
import { KeyRing, parseApiKeys } from '../../src/auth/keys.ts';
import { stampProvenance } from '../../src/collection/provenance.ts';
import type { JsonObject } from '../../src/json.ts';

void t.test('a key may declare the source its writes come from; it is validated', async (t) => {
  const ok = parseApiKeys('[{"key":"crm-import-key-000001","tenant":"acme","scopes":["events:write"],"source":"crm"}]');
  t.match(ok, { ok: true, keys: [{ source: 'crm' }] });
  const bad = parseApiKeys('[{"key":"crm-import-key-000001","tenant":"acme","scopes":["events:write"],"source":"CRM system"}]');
  t.match(bad, { ok: false, problems: [/^\[0\]\.source: source must match/] });
  const ring = new KeyRing([
    { key: 'crm-import-key-000001', tenant: 'acme', scopes: ['events:write'], source: 'crm' },
    { key: 'web-write-key-0000001', tenant: 'acme', scopes: ['events:write'] },
  ]);
  t.equal(ring.authorize('Bearer crm-import-key-000001', 'events:write').source, 'crm');
  t.equal(ring.authorize('Bearer web-write-key-0000001', 'events:write').source, undefined);
});

void t.test('accepted events carry the key\'s id and source, whatever the client wrote there', async (t) => {
  const events: JsonObject[] = [
    { type: 'identify', messageId: 'a', context: { source: 'crm', keyId: 'forged-key-id', ip: '192.0.2.1' } },
    { type: 'track', messageId: 'b' },
    { type: 'track', messageId: 'c', context: ['not', 'an', 'object'] },
  ];
  stampProvenance(events, { keyId: 'web-key-fp01', source: undefined });
  t.same(events.map((e) => e['context']), [
    { source: 'crm', keyId: 'web-key-fp01', ip: '192.0.2.1' },
    { keyId: 'web-key-fp01' },
    { keyId: 'web-key-fp01' },
  ], 'the key id is always the sender\'s; a key without a source leaves the client\'s (e.g. Segment\'s context.source)');
  stampProvenance(events, { keyId: 'crm-key-fp01', source: 'crm' });
  t.same(events.map((e) => (e['context'] as JsonObject)['source']), ['crm', 'crm', 'crm'], 'a key with a source pins it on every event');
  const web: JsonObject[] = [{ type: 'identify', messageId: 'd', context: { source: 'crm' } }];
  stampProvenance(web, { keyId: 'web-key-fp01', source: 'web' });
  t.same(web[0]?.['context'], { source: 'web', keyId: 'web-key-fp01' }, 'a web key cannot claim the CRM\'s priority');
});
