import type { PulseEvent } from '../collection/event.ts';
import type { Warehouse } from './port.ts';
import { databaseOf, eventRow } from './schema.ts';

/** An event ready for the warehouse, with the profile it was applied to. */
export interface EventRecord {
  readonly event: PulseEvent;
  readonly profileId: string;
  /** It may have been written before (a redelivery or a duplicate messageId): check first. */
  readonly maybeWritten: boolean;
}

/** Writes events to `<namespace>.events`, once per messageId. */
export class EventWriter {
  readonly #warehouse: Warehouse;
  readonly #table: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#table = `${databaseOf(namespace)}.events`;
  }

  /**
   * One insert per call. Records that may have been written already are checked against the
   * table first, so a redelivered batch does not write its rows twice; the table's
   * ReplacingMergeTree collapses anything that slips past (e.g. two processors at once).
   */
  async write(tenant: string, records: readonly EventRecord[], receivedAt: number): Promise<number> {
    const suspects = [...new Set(records.filter((r) => r.maybeWritten).map((r) => r.event.messageId))];
    let written = new Set<string>();
    if (suspects.length > 0) {
      const rows = await this.#warehouse.query<{ message_id: string }>(
        `SELECT DISTINCT message_id FROM ${this.#table} WHERE tenant = {tenant:String} AND message_id IN {ids:Array(String)}`,
        { tenant, ids: suspects },
      );
      written = new Set(rows.map((r) => r.message_id));
    }
    const seen = new Set<string>();
    const rows = records.filter((r) => {
      const id = r.event.messageId;
      if (written.has(id) || seen.has(id)) return false;
      seen.add(id);
      return true;
    }).map((r) => eventRow(tenant, r.event, r.profileId, receivedAt));
    await this.#warehouse.insert(this.#table, rows);
    return rows.length;
  }
}
