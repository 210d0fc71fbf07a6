// `npm run bench -- --only enrich-floor` (child process): TargetingService/EnrichBidRequest served
// by one of the handlers that bracket Pulse's cost, to show where EnrichBidRequest's time goes:
//   empty             answers an empty message (the bench's ceiling)
//   echo              answers the request's bytes back (the transport of a 1.3 KB answer)
//   parse-echo        Pulse's auth/metrics wrapper, UTF-8 check and JSON.parse, then the bytes back
//   scan-echo         Pulse's auth/metrics wrapper and scanBidRequest (how Pulse reads the
//                     request: checks, identifiers' fields, where enrichment goes), then the bytes back
//   pulse             Pulse's own handler (targetingHandlers) over a near-cache that holds the user
// Usage: enrich-floor-server.ts <variant> <api key>. Prints {"port": N} once
// listening; exits on SIGTERM or when stdin closes (the bench died).
import { isUtf8 } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import { serveChild } from './grpc-child.ts';
import { KeyRing } from '../src/auth/keys.ts';
import type { EnrichBidRequestRequest__Output } from '../src/gen/pulse/v1/EnrichBidRequestRequest.ts';
import type { EnrichBidRequestResponse } from '../src/gen/pulse/v1/EnrichBidRequestResponse.ts';
import { unary } from '../src/infra/grpc-server.ts';
import { createLogger } from '../src/infra/log.ts';
import { createMetrics } from '../src/infra/metrics.ts';
import { loadPulseGrpc } from '../src/infra/proto.ts';
import { withFastEnrichResponse } from '../src/targeting/enrich-response.ts';
import { NearCache } from '../src/targeting/near-cache.ts';
import { scanBidRequest } from '../src/targeting/openrtb.ts';
import { targetingHandlers } from '../src/targeting/service.ts';
import type { AudienceRecord } from '../src/targeting/store.ts';

const VARIANTS = ['empty', 'echo', 'parse-echo', 'scan-echo', 'pulse'] as const;
type Variant = (typeof VARIANTS)[number];

type Handler = grpc.handleUnaryCall<EnrichBidRequestRequest__Output, EnrichBidRequestResponse>;

function main(): void {
  const [variant, apiKey] = process.argv.slice(2);
  if (!VARIANTS.includes(variant as Variant) || apiKey === undefined) {
    throw new Error(`usage: enrich-floor-server.ts <${VARIANTS.join('|')}> <api key>`);
  }
  const ctx = {
    keys: new KeyRing([{ key: apiKey, tenant: 'bench', scopes: ['targeting:read'] }]),
    metrics: createMetrics(), log: createLogger('warn'),
  };
  // The bench user as the near-cache holds it after a first lookup (the bench's GetAudience user).
  const record: AudienceRecord = { profileId: 'bench-user', segments: [{ id: 'buyers', name: 'Bought twice' }, { id: 'pro', name: 'Pro plan' }, { id: 'pro-buyers', name: 'Pro and bought twice' }], storedConsent: undefined };
  const reader = new NearCache({
    records: (_tenant, lookups) => Promise.resolve(lookups.map(() => record)),
    audience: () => Promise.resolve(record),
  });
  const pulse = targetingHandlers(ctx, { reader, agreement: () => Promise.resolve({ partner: 'none', all: true, segmentIds: [] }) }).EnrichBidRequest as Handler;
  let handler: Handler;
  switch (variant as Variant) {
    case 'empty':
      handler = (_call, callback) => callback(null, {});
      break;
    case 'echo':
      handler = (call, callback) => callback(null, { openrtbJson: call.request.openrtbJson, enriched: false });
      break;
    case 'parse-echo':
      handler = unary(ctx, 'EnrichBidRequest', 'targeting:read', (req: EnrichBidRequestRequest__Output) => {
        const bytes = req.openrtbJson;
        if (!isUtf8(bytes)) throw new Error('not UTF-8');
        JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
        return Promise.resolve({ openrtbJson: bytes, enriched: false });
      });
      break;
    case 'scan-echo':
      handler = unary(ctx, 'EnrichBidRequest', 'targeting:read', (req: EnrichBidRequestRequest__Output) => {
        scanBidRequest(req.openrtbJson);
        return Promise.resolve({ openrtbJson: req.openrtbJson, enriched: false });
      });
      break;
    case 'pulse':
      handler = pulse;
      break;
  }
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  // Every handler that answers bytes encodes its answer as Pulse does (the empty one stays the bench's ceiling).
  const service = loadPulseGrpc().pulse.v1.TargetingService.service;
  server.addService(variant === 'empty' ? service : withFastEnrichResponse(service), { EnrichBidRequest: handler });
  serveChild(server);
}

main();
