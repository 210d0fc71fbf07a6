import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { MembershipChange } from './store.ts';

const PUBLISH_WINDOW = 256;

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
    // At most PUBLISH_WINDOW acks awaited at once: thousands of simultaneous publishes (a
    // backlog batch) time out waiting for their acks and fail the whole batch.
    for (let i = 0; i < changes.length; i += PUBLISH_WINDOW) {
      await Promise.all(changes.slice(i, i + PUBLISH_WINDOW).map((c) => js.publish(
        subject,
        JSON.stringify({ kind: c.kind, segmentId: c.segmentId, profileId: c.profileId, version: c.version, at: new Date(c.at ?? published).toISOString() }),
        { msgID: `${c.profileId}:${c.version}:${c.at ?? ''}:${c.segmentId}:${c.kind}` },
      )));
    }
  };
}
