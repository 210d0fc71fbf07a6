import type { Principal } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import type { Event__Output } from '../gen/pulse/v1/Event.ts';
import type { EventResult } from '../gen/pulse/v1/EventResult.ts';
import type { IngestServiceHandlers } from '../gen/pulse/v1/IngestService.ts';
import type { SendRequest__Output } from '../gen/pulse/v1/SendRequest.ts';
import { clientStream, unary, type HandlerContext } from '../infra/grpc-server.ts';
import { eventFromProto } from './event-proto.ts';
import { acceptWithinLimits, MAX_BATCH_BYTES, SIZE_FIELD, type Screened } from './limits.ts';
import type { EventPublisher } from './publisher.ts';
import type { NormalizeOptions } from './normalize.ts';
import { stampProvenance } from './provenance.ts';

/** gRPC IngestService: protobuf events through the same validation and publisher as HTTP. */
export function ingestHandlers(ctx: HandlerContext, publisher: EventPublisher, normalize?: NormalizeOptions): IngestServiceHandlers {
  return {
    Send: unary(ctx, 'Send', 'events:write', async (req: SendRequest__Output, principal) => {
      const screened = await store(req.events, principal, publisher, normalize);
      const refused = new Map(refusals(screened, 0).map((r) => [Number(r.index), r]));
      const results: EventResult[] = req.events.map((_e, i) => refused.get(i) ?? { index: i, accepted: true });
      return { results, accepted: screened.accepted.length, rejected: refused.size };
    }),
    SendStream: clientStream(ctx, 'SendStream', 'events:write', async (requests: AsyncIterable<SendRequest__Output>, principal) => {
      const results: EventResult[] = [];
      let offset = 0;
      let accepted = 0;
      for await (const req of requests) {
        const screened = await store(req.events, principal, publisher, normalize);
        results.push(...refusals(screened, offset));
        accepted += screened.accepted.length;
        offset += req.events.length;
      }
      return { results, accepted, rejected: results.length };
    }),
  };
}

/** Validates one request and publishes its valid events; resolves once JetStream stored them. */
async function store(events: readonly Event__Output[], principal: Principal, publisher: EventPublisher, normalize?: NormalizeOptions): Promise<Screened> {
  if (events.length === 0) throw new PulseError('INVALID_ARGUMENT', 'events: at least one event is required', { field: 'events' });
  const screened = acceptWithinLimits(events.map(eventFromProto), Date.now(), normalize);
  if (screened.bytes > MAX_BATCH_BYTES) {
    throw new PulseError('RESOURCE_EXHAUSTED', `events: ${screened.bytes} bytes as JSON, above the limit of ${MAX_BATCH_BYTES} for one request; split the events over more requests`, { field: 'events' });
  }
  stampProvenance(screened.accepted, principal);
  await publisher.publish(principal.tenant, screened.accepted);
  return screened;
}

function refusals(screened: Screened, offset: number): EventResult[] {
  return screened.rejected.map((r) => ({
    index: offset + r.index,
    accepted: false,
    error: { code: r.problem.field === SIZE_FIELD ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT', field: r.problem.field, message: r.problem.reason },
  }));
}
