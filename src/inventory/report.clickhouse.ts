import type { Warehouse } from '../warehouse/port.ts';
import { chDateTime, databaseOf } from '../warehouse/schema.ts';
import type { SspCounts, WinStats } from './model.ts';

/** Most winning profiles MatchAudience reads for one placement (the ones with most wins). */
export const MAX_WINNING_PROFILES = 10_000;

/**
 * Reads `<namespace>.outcomes` for the SSP side. FINAL collapses rows two concurrent reports of the
 * same (kind, id) may both have written, so counts are exact.
 */
export class OutcomeReports {
  readonly #warehouse: Warehouse;
  readonly #table: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#table = `${databaseOf(namespace)}.outcomes`;
  }

  /**
   * Wins on a placement since `since` in `currency`, by deal ('' = open auction) with distinct
   * winning profiles, and by profile (at most MAX_WINNING_PROFILES, most wins first).
   */
  async placementWins(tenant: string, placementId: string, currency: string, since: number): Promise<{
    byDeal: Map<string, WinStats & { profiles: number }>;
    byProfile: { profileId: string; wins: number; priceSum: number }[];
  }> {
    const params = { tenant, placement: placementId, currency, since: chDateTime(since), limit: MAX_WINNING_PROFILES };
    const where = `tenant = {tenant:String} AND kind = 'win' AND placement_id = {placement:String} AND currency = {currency:String}
      AND timestamp >= {since:DateTime64(3, 'UTC')}`;
    const [deals, profiles] = await Promise.all([
      this.#warehouse.query<{ deal_id: string; wins: string | number; total: number; profiles: string | number }>(
        `SELECT deal_id, count() AS wins, sum(price) AS total, uniqExactIf(profile_id, profile_id != '') AS profiles
         FROM ${this.#table} FINAL WHERE ${where} GROUP BY deal_id`,
        params,
      ),
      this.#warehouse.query<{ profile_id: string; wins: string | number; total: number }>(
        `SELECT profile_id, count() AS wins, sum(price) AS total
         FROM ${this.#table} FINAL WHERE ${where} AND profile_id != ''
         GROUP BY profile_id ORDER BY wins DESC, profile_id LIMIT {limit:UInt32}`,
        params,
      ),
    ]);
    return {
      byDeal: new Map(deals.map((d) => [d.deal_id, { wins: Number(d.wins), priceSum: Number(d.total), profiles: Number(d.profiles) }])),
      byProfile: profiles.map((p) => ({ profileId: p.profile_id, wins: Number(p.wins), priceSum: Number(p.total) })),
    };
  }

  /**
   * Counts by SSP, placement and UTC day over [from, to), in one GROUP BY. Outcomes have no
   * request kind, so requests are the distinct auctions with a bid, win or loss.
   */
  async sspCounts(tenant: string, from: number, to: number): Promise<SspCounts[]> {
    const rows = await this.#warehouse.query<{
      ssp: string; placement_id: string; day: string; requests: string | number; bids: string | number; wins: string | number; impressions: string | number; win_total: number;
    }>(
      `SELECT ssp, placement_id, toString(toDate(timestamp, 'UTC')) AS day,
         uniqExactIf(auction_id, kind IN ('bid', 'win', 'loss')) AS requests,
         countIf(kind = 'bid') AS bids, countIf(kind = 'win') AS wins, countIf(kind = 'impression') AS impressions,
         sumIf(price, kind = 'win') AS win_total
       FROM ${this.#table} FINAL
       WHERE tenant = {tenant:String} AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}
       GROUP BY ssp, placement_id, day ORDER BY ssp, placement_id, day`,
      { tenant, from: chDateTime(from), to: chDateTime(to) },
    );
    return rows.map((r) => ({
      ssp: r.ssp, placementId: r.placement_id, day: r.day, requests: Number(r.requests), bids: Number(r.bids),
      wins: Number(r.wins), impressions: Number(r.impressions), winPriceSum: Number(r.win_total),
    }));
  }
}
