import { PulseError } from '../errors.ts';
import type { Timestamp__Output } from '../gen/google/protobuf/Timestamp.ts';
import type { Inventory as InventoryMessage } from '../gen/pulse/v1/Inventory.ts';
import type { InventoryServiceHandlers } from '../gen/pulse/v1/InventoryService.ts';
import type { ValueSource as ValueSourceMessage } from '../gen/pulse/v1/ValueSource.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import type { RedisInventoryStore } from './inventory.redis.ts';
import {
  INVENTORY_ID_PATTERN, rankDeals, rankSegments, sspRow, validateInventory, validatePeriod, type Inventory, type ValueSource,
} from './model.ts';
import type { OutcomeReports } from './report.clickhouse.ts';

/** How far back MatchAudience reads wins: recent enough to reflect today's prices. */
export const MATCH_LOOKBACK_MS = 30 * 86_400_000;
/** Segments MatchAudience returns when the request sets no limit, and the most it returns. */
export const DEFAULT_MATCH_LIMIT = 20;
export const MAX_MATCH_LIMIT = 1000;

/** What the inventory handlers use; `now` is injectable so tests control the lookback window. */
export interface InventoryDeps {
  readonly store: RedisInventoryStore;
  readonly reports: OutcomeReports;
  readonly now: () => number;
}

function millisOf(ts: Timestamp__Output | null): number | undefined {
  return ts === null ? undefined : Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
}

function inventoryMessage(i: Inventory): InventoryMessage {
  return {
    id: i.id, kind: i.kind === 'site' ? 'INVENTORY_KIND_SITE' : 'INVENTORY_KIND_APP', domain: i.domain, bundle: i.bundle, name: i.name,
    placements: i.placements.map((p) => ({
      id: p.id, floor: p.floor, currency: p.currency, deals: p.deals.map((d) => ({ id: d.id, floor: d.floor })),
      formats: p.formats.map((f) => (f.type === 'banner' ? { banner: { w: f.w, h: f.h } } : f.type === 'video' ? { video: true } : { native: true })),
    })),
  };
}

const VALUE_SOURCES: Record<ValueSource, ValueSourceMessage> = {
  observed: 'VALUE_SOURCE_OBSERVED', placement: 'VALUE_SOURCE_PLACEMENT', floor: 'VALUE_SOURCE_FLOOR',
};

/** gRPC InventoryService; every method requires `inventory:write` (the SSP's key). */
export function inventoryHandlers(ctx: HandlerContext, deps: InventoryDeps): InventoryServiceHandlers {
  return {
    RegisterInventory: unary(ctx, 'RegisterInventory', 'inventory:write', async (req, principal) => {
      const kind = typeof req.kind === 'string' && req.kind.startsWith('INVENTORY_KIND_') ? req.kind.slice('INVENTORY_KIND_'.length).toLowerCase() : String(req.kind);
      const inventory = validateInventory({
        id: req.id, kind, domain: req.domain, bundle: req.bundle, name: req.name,
        placements: req.placements.map((p) => ({
          id: p.id, floor: p.floor, currency: p.currency, deals: p.deals.map((d) => ({ id: d.id, floor: d.floor })),
          formats: p.formats.map((f) => ({ banner: f.banner ?? null, video: f.video ?? false, native: f.native ?? false, format: f.format ?? '' })),
        })),
      });
      await deps.store.upsert(principal.tenant, inventory);
      return inventoryMessage(inventory);
    }),
    ListInventory: unary(ctx, 'ListInventory', 'inventory:write', async (_req, principal) => ({
      inventory: (await deps.store.list(principal.tenant)).map(inventoryMessage),
    })),
    MatchAudience: unary(ctx, 'MatchAudience', 'inventory:write', async (req, principal) => {
      const { tenant } = principal;
      if (!INVENTORY_ID_PATTERN.test(req.placementId)) {
        throw new PulseError('INVALID_ARGUMENT', 'placement_id: required: 1-200 printable ASCII characters without spaces', { field: 'placement_id' });
      }
      if (req.limit < 0 || req.limit > MAX_MATCH_LIMIT) throw new PulseError('INVALID_ARGUMENT', `limit: 0-${MAX_MATCH_LIMIT}`, { field: 'limit' });
      const found = await deps.store.placement(tenant, req.placementId);
      if (found === undefined) throw new PulseError('NOT_FOUND', `placement ${req.placementId} is not registered`, { field: 'placement_id' });
      const { placement } = found;
      const [wins, segments] = await Promise.all([
        deps.reports.placementWins(tenant, placement.id, placement.currency, deps.now() - MATCH_LOOKBACK_MS),
        deps.store.segmentReach(tenant),
      ]);
      const bySegment = await deps.store.winsBySegment(tenant, wins.byProfile);
      const total = [...wins.byDeal.values()].reduce((s, d) => ({ wins: s.wins + d.wins, priceSum: s.priceSum + d.priceSum }), { wins: 0, priceSum: 0 });
      const ranked = rankSegments(placement, segments.map((s) => ({ ...s, won: bySegment.get(s.id) ?? { wins: 0, priceSum: 0 } })), total, req.limit === 0 ? DEFAULT_MATCH_LIMIT : req.limit);
      return {
        placementId: placement.id,
        currency: placement.currency,
        segments: ranked.map((s) => ({
          segmentId: s.segmentId, name: s.name, reach: String(s.reach), ecpm: s.ecpm, valueSource: VALUE_SOURCES[s.valueSource], wins: String(s.wins), score: s.score,
        })),
        deals: rankDeals(placement, wins.byDeal).map((d) => ({
          dealId: d.dealId, floor: d.floor, ecpm: d.ecpm, valueSource: VALUE_SOURCES[d.valueSource], wins: String(d.wins), reach: String(d.reach), aboveFloor: d.aboveFloor,
        })),
      };
    }),
    SspReport: unary(ctx, 'SspReport', 'inventory:write', async (req, principal) => {
      const { from, to } = validatePeriod(millisOf(req.from), millisOf(req.to));
      const rows = (await deps.reports.sspCounts(principal.tenant, from, to)).map(sspRow);
      return {
        rows: rows.map((r) => ({
          ssp: r.ssp, placementId: r.placementId, day: r.day, requests: String(r.requests), bids: String(r.bids), wins: String(r.wins),
          impressions: String(r.impressions), fillRate: r.fillRate, winRate: r.winRate, ecpm: r.ecpm, revenue: r.revenue,
        })),
      };
    }),
  };
}
