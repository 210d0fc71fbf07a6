import { PulseError } from '../errors.ts';
import type { Segment } from '../gen/pulse/v1/Segment.ts';
import type { SegmentServiceHandlers } from '../gen/pulse/v1/SegmentService.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import { toTimestamp } from '../infra/struct.ts';
import { newSegment, SEGMENT_ID_PATTERN, type SegmentDefinition } from './model.ts';
import type { SegmentStore } from './store.ts';

/** gRPC SegmentService. */
export function segmentHandlers(ctx: HandlerContext, store: SegmentStore, now: () => number = Date.now): SegmentServiceHandlers {
  const encode = (d: SegmentDefinition): Segment => ({ id: d.id, name: d.name, rule: d.rule, createdAt: toTimestamp(d.createdAt) });
  const requireId = (id: string): string => {
    if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `id: must match ${SEGMENT_ID_PATTERN.source}`, { field: 'id' });
    return id;
  };
  return {
    CreateSegment: unary(ctx, 'CreateSegment', 'segments:write', async (req, principal) => {
      const def = newSegment({ id: req.id, name: req.name, rule: req.rule }, now());
      await store.create(principal.tenant, def);
      return encode(def);
    }),
    GetSegment: unary(ctx, 'GetSegment', 'segments:read', async (req, principal) => {
      const def = await store.get(principal.tenant, requireId(req.id));
      if (def === undefined) throw new PulseError('NOT_FOUND', `segment ${req.id} not found`);
      return encode(def);
    }),
    ListSegments: unary(ctx, 'ListSegments', 'segments:read', async (_req, principal) => ({
      segments: (await store.list(principal.tenant)).map(encode),
    })),
    DeleteSegment: unary(ctx, 'DeleteSegment', 'segments:write', async (req, principal) => {
      const deleted = await store.delete(principal.tenant, requireId(req.id));
      if (!deleted) throw new PulseError('NOT_FOUND', `segment ${req.id} not found`);
      return { deleted };
    }),
  };
}
