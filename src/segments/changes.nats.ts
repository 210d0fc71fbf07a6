import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { MembershipChange } from './store.ts';

/**
 * Publishes segment enter/exit to `<namespace>.changes.<tenant>.segment`; the message id makes a
 * republished change (after a redelivery) a duplicate JetStream drops.
 */
export function natsSegmentChanges(nc: NatsConnection, namespace: string): (tenant: string, changes: readonly (MembershipChange & { version: number })[]) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, changes) => {
    const subject = `${namespace}.changes.${tenant}.segment`;
    const at = new Date().toISOString();
    await Promise.all(changes.map((c) => js.publish(
      subject,
      JSON.stringify({ kind: c.kind, segmentId: c.segmentId, profileId: c.profileId, version: c.version, at }),
      { msgID: `${c.profileId}:${c.version}:${c.segmentId}:${c.kind}` },
    )));
  };
}
