import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

/** A segment definition was created, updated (a new version) or deleted. */
export interface DefinitionChange {
  readonly kind: 'created' | 'updated' | 'deleted';
  readonly segmentId: string;
  /** The new version (0 for a deletion). */
  readonly version: number;
}

/**
 * Publishes definition changes to `<namespace>.changes.<tenant>.definition`, so that readers that
 * cache segment names or membership (the targeting near-cache) drop the tenant's entries; the
 * message id makes a retried publish a duplicate JetStream drops.
 */
export function natsDefinitionChanges(nc: NatsConnection, namespace: string): (tenant: string, change: DefinitionChange) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, change) => {
    const at = new Date().toISOString();
    await js.publish(`${namespace}.changes.${tenant}.definition`, JSON.stringify({ ...change, at }), {
      msgID: `${change.segmentId}:${change.kind}:${change.version}:${at}`,
    });
  };
}
