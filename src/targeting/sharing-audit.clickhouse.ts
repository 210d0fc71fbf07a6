import { chDateTime, databaseOf } from '../warehouse/schema.ts';
import type { Warehouse } from '../warehouse/port.ts';
import { sharingDiff, type SharingChange } from './sharing.ts';

/** Writes each data-sharing change as a row of `<namespace>.sharing_audit`. */
export function sharingAudit(warehouse: Warehouse, namespace: string): (change: SharingChange) => Promise<void> {
  const table = `${databaseOf(namespace)}.sharing_audit`;
  return async (c) => {
    const { added, removed } = sharingDiff(c.before, c.after);
    await warehouse.insert(table, [{
      tenant: c.tenant, partner: c.partner, at: chDateTime(c.at), key_id: c.keyId,
      before_all: c.before.all ? 1 : 0, before_segments: [...c.before.segmentIds],
      after_all: c.after.all ? 1 : 0, after_segments: [...c.after.segmentIds],
      added, removed,
    }]);
  };
}
