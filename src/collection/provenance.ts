import type { Principal } from '../auth/keys.ts';
import type { JsonObject } from '../json.ts';

/**
 * Stamps accepted events (wire JSON) with the provenance of the key that sent them: `context.keyId`
 * always (the key's fingerprint, for trait history and audit), and `context.source` when the key
 * declares a source. What the client wrote in those two fields is replaced, so an event cannot
 * claim another key's identity or a source with a higher priority than its key's.
 */
export function stampProvenance(events: readonly JsonObject[], principal: Pick<Principal, 'keyId' | 'source'>): void {
  for (const e of events) {
    const context = e['context'];
    const base = context !== null && typeof context === 'object' && !Array.isArray(context) ? context : {};
    e['context'] = { ...base, keyId: principal.keyId, ...(principal.source === undefined ? {} : { source: principal.source }) };
  }
}
