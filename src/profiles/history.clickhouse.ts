import type { PulseEvent } from '../collection/event.ts';
import type { Warehouse } from '../warehouse/port.ts';
import { databaseOf } from '../warehouse/schema.ts';
import { mergeRows, traitHistoryRows } from './history.ts';
import type { Applied } from './model.ts';

/**
 * Writes merges, refused merges and trait changes to `<namespace>.profile_merges` and
 * `<namespace>.trait_history`. Both tables are ReplacingMergeTrees on the full row identity, so
 * the rows a redelivered batch writes again collapse.
 */
export class ProfileHistoryWriter {
  readonly #warehouse: Warehouse;
  readonly #db: string;

  constructor(warehouse: Warehouse, namespace: string) {
    this.#warehouse = warehouse;
    this.#db = databaseOf(namespace);
  }

  async write(tenant: string, events: readonly PulseEvent[], results: readonly Applied[]): Promise<void> {
    const merges = mergeRows(tenant, events, results);
    const traits = traitHistoryRows(tenant, events, results);
    if (merges.length > 0) await this.#warehouse.insert(`${this.#db}.profile_merges`, merges);
    if (traits.length > 0) await this.#warehouse.insert(`${this.#db}.trait_history`, traits);
  }
}
