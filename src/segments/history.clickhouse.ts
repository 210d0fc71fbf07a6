import type { Warehouse } from '../warehouse/port.ts';
import { chDateTime, databaseOf } from '../warehouse/schema.ts';
import type { MembershipHistory, MembershipRecord } from './store.ts';

/**
 * Segment membership history in `<ns>.segment_membership`: one row per enter/exit, so "who was in
 * segment X at time T" is the profiles whose last change at or before T is an enter.
 */
export class ClickHouseMembershipHistory implements MembershipHistory {
  readonly #warehouse: Warehouse;
  readonly #table: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#table = `${databaseOf(namespace)}.segment_membership`;
  }

  async write(tenant: string, records: readonly MembershipRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#warehouse.insert(this.#table, records.map((r) => ({
      tenant, segment_id: r.segmentId, profile_id: r.profileId, kind: r.kind, version: r.version, at: chDateTime(r.at),
    })));
  }

  /** Profile ids in the segment at `at` (epoch ms), sorted. */
  async membersAt(tenant: string, segmentId: string, at: number): Promise<string[]> {
    const rows = await this.#warehouse.query<{ profile_id: string }>(
      `SELECT profile_id FROM ${this.#table} FINAL
       WHERE tenant = {tenant:String} AND segment_id = {segment:String} AND at <= {at:DateTime64(3, 'UTC')}
       GROUP BY profile_id
       HAVING argMax(kind, (at, version, kind = 'enter')) = 'enter'
       ORDER BY profile_id`,
      { tenant, segment: segmentId, at: chDateTime(at) },
    );
    return rows.map((r) => r.profile_id);
  }
}
