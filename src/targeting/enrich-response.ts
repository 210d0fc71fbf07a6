import type { ServiceDefinition } from '@grpc/grpc-js';
import type { EnrichBidRequestResponse } from '../gen/pulse/v1/EnrichBidRequestResponse.ts';

/*
 * EnrichBidRequestResponse (targeting.proto: `bytes openrtb_json = 1; bool enriched = 2;`) encoded
 * by hand: the bid path's answer is one buffer with the tag, the length and the request's bytes,
 * instead of protobufjs' writer (its op list and a second copy of the ~1.5 KB answer). Proto3
 * rules: an empty `bytes` and a false `bool` are left out. Held to protobufjs' encoding by
 * test/unit/enrich-response.test.ts.
 */

/** The wire form of an EnrichBidRequestResponse. */
export function encodeEnrichResponse(res: EnrichBidRequestResponse): Buffer {
  const json = res.openrtbJson;
  const bytes = json === undefined || typeof json === 'string' ? Buffer.from(json ?? '', 'base64') : json;
  const n = bytes.byteLength;
  let head = 0;
  if (n > 0) head = 1 + varintLength(n);
  const out = Buffer.allocUnsafe(head + n + (res.enriched === true ? 2 : 0));
  let at = 0;
  if (n > 0) {
    out[at++] = 0x0a;
    at = writeVarint(out, at, n);
    out.set(bytes, at);
    at += n;
  }
  if (res.enriched === true) {
    out[at++] = 0x10;
    out[at++] = 0x01;
  }
  return out;
}

function varintLength(n: number): number {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) len++;
  return len;
}

function writeVarint(out: Buffer, start: number, n: number): number {
  let at = start;
  let v = n;
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** TargetingService's definition with EnrichBidRequest's answer encoded by encodeEnrichResponse. */
export function withFastEnrichResponse(definition: ServiceDefinition): ServiceDefinition {
  const method = definition['EnrichBidRequest'];
  if (method === undefined) throw new Error('TargetingService has no EnrichBidRequest');
  return { ...definition, EnrichBidRequest: { ...method, responseSerialize: encodeEnrichResponse } };
}
