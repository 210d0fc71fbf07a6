import type { Warehouse } from '../warehouse/port.ts';
import { chDateTime, databaseOf } from '../warehouse/schema.ts';
import { outcomeKey, type Outcome } from './outcomes.ts';

/** An outcome ready for the warehouse, with the profile its identifiers resolved to ('' when none). */
export interface OutcomeRecord {
  readonly outcome: Outcome;
  readonly profileId: string;
}

/** Writes outcomes to `<namespace>.outcomes`, once per (kind, id). */
export class OutcomeWriter {
  readonly #warehouse: Warehouse;
  readonly #table: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#table = `${databaseOf(namespace)}.outcomes`;
  }

  /**
   * One insert per call. Ids already in the table, or repeated within the call, are not written
   * again and come back as duplicates (true at their position); the table's ReplacingMergeTree
   * collapses what two concurrent reports could both write.
   */
  async write(tenant: string, records: readonly OutcomeRecord[], receivedAt: number): Promise<boolean[]> {
    if (records.length === 0) return [];
    const kinds = [...new Set(records.map((r) => r.outcome.kind))];
    const ids = [...new Set(records.map((r) => r.outcome.id))];
    const found = await this.#warehouse.query<{ kind: string; id: string }>(
      `SELECT DISTINCT kind, id FROM ${this.#table} WHERE tenant = {tenant:String} AND kind IN {kinds:Array(String)} AND id IN {ids:Array(String)}`,
      { tenant, kinds, ids },
    );
    const seen = new Set(found.map(outcomeKey));
    const duplicate: boolean[] = [];
    const rows: Record<string, unknown>[] = [];
    for (const r of records) {
      const key = outcomeKey(r.outcome);
      duplicate.push(seen.has(key));
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(outcomeRow(tenant, r, receivedAt));
    }
    if (rows.length > 0) await this.#warehouse.insert(this.#table, rows);
    return duplicate;
  }
}

function outcomeRow(tenant: string, { outcome: o, profileId }: OutcomeRecord, receivedAt: number): Record<string, unknown> {
  return {
    tenant, kind: o.kind, id: o.id, auction_id: o.auctionId, campaign_id: o.campaignId, creative_id: o.creativeId,
    ssp: o.ssp, placement_id: o.placementId, deal_id: o.dealId, profile_id: profileId, channel: o.channel,
    timestamp: chDateTime(o.timestamp), received_at: chDateTime(receivedAt), price: o.price, currency: o.currency, loss_reason: o.lossReason,
  };
}
