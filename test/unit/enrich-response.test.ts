// The hand-written EnrichBidRequestResponse encoder reads back (through the proto loader's
// deserializer) as what it was given, and gives protobufjs' bytes whenever no field holds its
// default (protobufjs also writes a field set to its default, which proto3 leaves out).
import t from 'tap';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { encodeEnrichResponse, withFastEnrichResponse } from '../../src/targeting/enrich-response.ts';

const service = loadPulseGrpc().pulse.v1.TargetingService.service;
const method = service.EnrichBidRequest;

const decode = (b: Buffer) => method.responseDeserialize(b);

void t.test('what protobufjs reads back, and its bytes, for every length class and flag', async (t) => {
  const sizes = [0, 1, 2, 127, 128, 129, 1291, 16_383, 16_384, 16_385, 2_097_151, 2_097_152];
  for (const n of sizes) {
    const json = Buffer.alloc(n, 0x7b);
    for (const enriched of [false, true]) {
      const value = { openrtbJson: json, enriched };
      const ours = encodeEnrichResponse(value);
      t.same(decode(ours), decode(method.responseSerialize(value)), `${n} bytes, enriched ${enriched}: read back the same`);
      t.ok(decode(ours).openrtbJson.equals(json));
      if (n > 0 && enriched) t.same(ours, method.responseSerialize(value), `${n} bytes: protobufjs' bytes`);
      else t.ok(ours.byteLength < method.responseSerialize(value).byteLength, 'shorter: the default fields are left out');
    }
  }
  t.same(encodeEnrichResponse({}), method.responseSerialize({}), 'an empty message');
  t.same(encodeEnrichResponse({ openrtbJson: new Uint8Array([1, 2, 3]), enriched: true }), method.responseSerialize({ openrtbJson: new Uint8Array([1, 2, 3]), enriched: true }), 'a Uint8Array');
  t.same(encodeEnrichResponse({ openrtbJson: 'e30=', enriched: true }), method.responseSerialize({ openrtbJson: 'e30=', enriched: true }), 'base64 text, as protobufjs reads a string for bytes');
});

void t.test('the definition keeps every other method and only replaces the answer encoder', async (t) => {
  const fast = withFastEnrichResponse(service);
  t.same(Object.keys(fast).sort(), Object.keys(service).sort());
  t.equal(fast['EnrichBidRequest']?.responseSerialize, encodeEnrichResponse);
  t.equal(fast['EnrichBidRequest']?.requestDeserialize, method.requestDeserialize);
  t.equal(fast['GetAudience'], service.GetAudience);
});
