import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { MembershipChange } from './store.ts';

/**
 * Publishes segment enter/exit to `<namespace>.changes.<tenant>.segment`, dated by the evaluation
 * that found them (`at`, else the publish time). The message id (profile, version, evaluation
 * time, segment, kind) makes a republished change a duplicate JetStream drops, while a profile
 * that leaves and re-enters with time at the same version still gets both messages.
 */
export function natsSegmentChanges(nc: NatsConnection, namespace: string): (tenant: string, changes: readonly (MembershipChange & { version: number; at?: number })[]) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, changes) => {
    const subject = `${namespace}.changes.${tenant}.segment`;
    const published = Date.now();
    await Promise.all(changes.map((c) => js.publish(
      subject,
      JSON.stringify({ kind: c.kind, segmentId: c.segmentId, profileId: c.profileId, version: c.version, at: new Date(c.at ?? published).toISOString() }),
      { msgID: `${c.profileId}:${c.version}:${c.at ?? ''}:${c.segmentId}:${c.kind}` },
    )));
  };
}
