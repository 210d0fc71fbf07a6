import type { Warehouse } from '../warehouse/port.ts';
import { chDateTime, databaseOf } from '../warehouse/schema.ts';
import type { PastMerge, StoredEvent, UnmergeHistory, UnmergeRecord } from './unmerge.ts';

/** Characters of message ids per mutation: a bound parameter, which a server takes in the URL (1 MiB at most by default). */
const MUTATION_CHARS = 256 * 1024;
/** Rounds of the merge walk: far more than any real chain of merges. */
const MAX_MERGE_DEPTH = 1_000;

interface EventRow {
  readonly message_id: string;
  readonly type: string;
  readonly event: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  readonly at: string | number;
  readonly properties: string;
  readonly traits: string;
  readonly context: string;
  readonly identifiers: readonly string[];
  readonly profile_id: string;
}

/**
 * The warehouse side of UnmergeProfile: which profiles were merged into one (`profile_merges`),
 * their events (`events`), moving events to the profile split off (a synchronous mutation of
 * `profile_id`, so every later reader — backfills, reports, the next unmerge — sees them there),
 * and the unmerge's own `profile_merges` row.
 */
export class ClickHouseUnmergeHistory implements UnmergeHistory {
  readonly #warehouse: Warehouse;
  readonly #db: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#db = databaseOf(namespace);
  }

  async merges(tenant: string, profileId: string): Promise<PastMerge[]> {
    const found = new Map<string, PastMerge>();
    let frontier = [profileId];
    for (let depth = 0; depth < MAX_MERGE_DEPTH && frontier.length > 0; depth++) {
      const rows = await this.#warehouse.query<{ merged: string; survivor: string; identifiers: string[] }>(
        `SELECT DISTINCT merged, survivor, identifiers FROM ${this.#db}.profile_merges
         WHERE tenant = {tenant:String} AND outcome = 'merged' AND survivor IN {ids:Array(String)}`,
        { tenant, ids: frontier },
      );
      frontier = [];
      for (const r of rows) {
        if (r.merged === profileId || found.has(r.merged)) continue;
        found.set(r.merged, { merged: r.merged, survivor: r.survivor, identifiers: r.identifiers });
        frontier.push(r.merged);
      }
    }
    return [...found.values()];
  }

  async events(tenant: string, profileIds: readonly string[]): Promise<StoredEvent[]> {
    if (profileIds.length === 0) return [];
    // A redelivered event may be stored twice until ClickHouse merges the parts: one row each.
    const rows = await this.#warehouse.query<EventRow>(
      `SELECT message_id, type, event, user_id, anonymous_id, toUnixTimestamp64Milli(timestamp) AS at,
              properties, traits, context, identifiers, profile_id
       FROM ${this.#db}.events
       WHERE tenant = {tenant:String} AND profile_id IN {ids:Array(String)}
       ORDER BY timestamp, message_id
       LIMIT 1 BY message_id`,
      { tenant, ids: profileIds },
    );
    return rows.map((r) => ({
      messageId: r.message_id, type: r.type, event: r.event, userId: r.user_id, anonymousId: r.anonymous_id, at: Number(r.at),
      properties: r.properties, traits: r.traits, context: r.context, identifiers: r.identifiers, profileId: r.profile_id,
    }));
  }

  async reattribute(tenant: string, from: readonly string[], to: string, messageIds: readonly string[]): Promise<void> {
    // Each mutation rewrites the profile_id column of the parts it touches: as few as the size allows.
    const batches: string[][] = [];
    let batch: string[] = [];
    let chars = 0;
    for (const id of messageIds) {
      if (batch.length > 0 && chars + id.length > MUTATION_CHARS) {
        batches.push(batch);
        batch = [];
        chars = 0;
      }
      batch.push(id);
      chars += id.length + 4;
    }
    if (batch.length > 0) batches.push(batch);
    for (const ids of batches) {
      await this.#warehouse.exec(
        `ALTER TABLE ${this.#db}.events UPDATE profile_id = {to:String}
         WHERE tenant = {tenant:String} AND profile_id IN {from:Array(String)} AND message_id IN {ids:Array(String)}
         SETTINGS mutations_sync = 2`,
        { tenant, from, to, ids },
      );
    }
  }

  async traitHistory(rows: readonly Record<string, unknown>[]): Promise<void> {
    if (rows.length > 0) await this.#warehouse.insert(`${this.#db}.trait_history`, rows);
  }

  async record(r: UnmergeRecord): Promise<void> {
    await this.#warehouse.insert(`${this.#db}.profile_merges`, [{
      tenant: r.tenant, survivor: r.profileId, merged: r.splitProfileId, identifiers: r.identifiers, message_id: r.unmergeId,
      at: chDateTime(r.at), outcome: 'unmerged', reason: r.reason,
    }]);
  }
}
