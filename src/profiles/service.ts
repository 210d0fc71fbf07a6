import { randomUUID } from 'node:crypto';
import { structToJson } from '../collection/event-proto.ts';
import { acceptEvents, type EventPublisher } from '../collection/publisher.ts';
import { PulseError } from '../errors.ts';
import type { ProfileServiceHandlers } from '../gen/pulse/v1/ProfileService.ts';
import { requireIdentifiers } from '../identity/identifier.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import { toStruct, toTimestamp } from '../infra/struct.ts';
import type { ProfileStore } from './store.ts';
import type { ProfileUnmerger } from './unmerge.ts';
import { SOURCE_PATTERN, updateEvent } from './update.ts';

/**
 * gRPC ProfileService. Updates go through the event log (`publisher`), so the processor applies
 * them; unmerges run here (`unmerger`; without it UnmergeProfile answers UNAVAILABLE).
 */
export function profileHandlers(ctx: HandlerContext, store: ProfileStore, publisher: EventPublisher, unmerger?: ProfileUnmerger): ProfileServiceHandlers {
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
    UpdateProfile: unary(ctx, 'UpdateProfile', 'profiles:write', async (req, principal) => {
      const ids = requireIdentifiers(req.identifiers);
      // A key that declares its source writes as that source only.
      if (principal.source !== undefined && req.source !== '' && req.source !== principal.source) {
        throw new PulseError('PERMISSION_DENIED', `source: this key writes as ${JSON.stringify(principal.source)}, not ${JSON.stringify(req.source)}`, { field: 'source' });
      }
      const source = principal.source ?? (req.source === '' ? 'api' : req.source);
      if (!SOURCE_PATTERN.test(source)) throw new PulseError('INVALID_ARGUMENT', `source: must match ${SOURCE_PATTERN.source}`, { field: 'source' });
      const traits = req.traits === null ? {} : structToJson(req.traits);
      if (Object.keys(traits).length === 0) throw new PulseError('INVALID_ARGUMENT', 'traits: at least one trait is required', { field: 'traits' });
      const now = Date.now();
      const messageId = `update-${randomUUID()}`;
      const { accepted, rejected } = acceptEvents([updateEvent(ids, traits, source, principal.keyId, messageId, now)], now);
      const problem = rejected[0]?.problem;
      if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', `${problem.field}: ${problem.reason}`, { field: problem.field });
      await publisher.publish(principal.tenant, accepted);
      return { messageId };
    }),
    // profiles:write, like UpdateProfile: a key that may rewrite a profile's traits may also split
    // it, and the unmerge is audited (profile_merges row with the key's fingerprint).
    UnmergeProfile: unary(ctx, 'UnmergeProfile', 'profiles:write', async (req, principal) => {
      const ids = requireIdentifiers(req.identifiers);
      const split = requireIdentifiers(req.split, 'split');
      if (unmerger === undefined) throw new PulseError('UNAVAILABLE', 'UnmergeProfile is not served by this process (it needs the warehouse)');
      const pid = await store.resolve(principal.tenant, ids);
      if (pid === undefined) throw new PulseError('NOT_FOUND', 'no profile for these identifiers');
      const r = await unmerger.unmerge(principal.tenant, pid, split, { allowPartialHistory: req.allowPartialHistory, keyId: principal.keyId });
      return {
        profileId: r.profileId, splitProfileId: r.splitProfileId, unmergeId: r.unmergeId,
        profileIdentifiers: r.profileIdentifiers.map((i) => ({ type: i.type, id: i.id })),
        splitIdentifiers: r.splitIdentifiers.map((i) => ({ type: i.type, id: i.id })),
        eventsProfile: String(r.eventsProfile), eventsSplit: String(r.eventsSplit), eventsSkipped: String(r.eventsSkipped),
        segmentChanges: r.segmentChanges.map((c) => ({ profileId: c.profileId, segmentId: c.segmentId, kind: c.kind })),
        attempts: r.attempts, warnings: [...r.warnings],
      };
    }),
  };
}
