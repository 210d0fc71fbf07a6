import { PulseError } from '../errors.ts';
import type { ProfileServiceHandlers } from '../gen/pulse/v1/ProfileService.ts';
import { requireIdentifiers } from '../identity/identifier.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import { toStruct, toTimestamp } from '../infra/struct.ts';
import type { ProfileStore } from './store.ts';

/** gRPC ProfileService. */
export function profileHandlers(ctx: HandlerContext, store: ProfileStore): ProfileServiceHandlers {
  return {
    GetProfile: unary(ctx, 'GetProfile', 'profiles:read', async (req, principal) => {
      const ids = requireIdentifiers(req.identifiers);
      const pid = await store.resolve(principal.tenant, ids);
      const profile = pid === undefined ? undefined : await store.get(principal.tenant, pid);
      if (profile === undefined) throw new PulseError('NOT_FOUND', 'no profile for these identifiers');
      return {
        id: profile.id,
        identifiers: profile.identifiers.map((i) => ({ type: i.type, id: i.id })),
        traits: toStruct(profile.traits),
        firstSeen: toTimestamp(profile.firstSeen),
        lastSeen: toTimestamp(profile.lastSeen),
        eventCounts: Object.fromEntries(Object.entries(profile.eventCounts).map(([k, v]) => [k, String(v)])),
        version: String(profile.version),
      };
    }),
  };
}
