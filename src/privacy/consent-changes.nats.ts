import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

/** Most profile ids one announcement names; a larger set is split over several messages. */
const IDS_PER_MESSAGE = 500;

/**
 * Announces profiles whose stored consent (`$consent`) changed on
 * `<namespace>.changes.<tenant>.profile` as `{"kind":"consent","profileIds":[...]}`, so lookup
 * near-caches drop what they answered under the old consent (a withdrawal must not wait for a
 * cache's TTL). Resolves once the changes stream stored every message. An announcement repeated
 * after a redelivery only drops cache entries again, so no message id is needed.
 */
export function natsConsentChanges(nc: NatsConnection, namespace: string): (tenant: string, profileIds: readonly string[]) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, profileIds) => {
    const ids = [...new Set(profileIds)];
    const subject = `${namespace}.changes.${tenant}.profile`;
    const at = new Date().toISOString();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
      sends.push(js.publish(subject, JSON.stringify({ kind: 'consent', profileIds: ids.slice(i, i + IDS_PER_MESSAGE), at })));
    }
    await Promise.all(sends);
  };
}
