import type { TargetingServiceHandlers } from '../gen/pulse/v1/TargetingService.ts';
import { requireIdentifiers } from '../identity/identifier.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import type { AudienceReader } from './store.ts';

/** gRPC TargetingService: decode, look up, encode. */
export function targetingHandlers(ctx: HandlerContext, reader: AudienceReader): TargetingServiceHandlers {
  return {
    GetAudience: unary(ctx, 'GetAudience', 'targeting:read', async (req, principal) => {
      const audience = await reader.audience(principal.tenant, requireIdentifiers(req.identifiers));
      return audience === undefined ? { profileId: '', segments: [] } : { profileId: audience.profileId, segments: [...audience.segments] };
    }),
  };
}
