import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { PulseEvent } from '../collection/event.ts';
import { identifierKey } from '../identity/identifier.ts';
import { MERGE_REASON, mergeMessages, type MergeMessage } from './history.ts';
import type { Applied, Merge } from './model.ts';
import type { UnmergeMessage } from './unmerge.ts';

/**
 * Publishes merges to `<namespace>.changes.<tenant>.profile`. A profile is merged away once, so
 * the merged id makes the message id: a republished merge (after a redelivery) is dropped.
 */
export function natsProfileChanges(nc: NatsConnection, namespace: string): (tenant: string, events: readonly PulseEvent[], results: readonly Applied[]) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, events, results) => {
    const subject = `${namespace}.changes.${tenant}.profile`;
    await Promise.all(mergeMessages(events, results).map((m) => js.publish(subject, JSON.stringify(m), { msgID: `merge:${m.merged}` })));
  };
}

/**
 * Publishes one merge a merge runner finished (the sweeper, or a processor helping a merge another
 * left frozen), where no event's answer lists it; the same message id as natsProfileChanges, so a
 * merge published both ways is kept once. Its time is when it was finished.
 */
export function natsMergeChange(nc: NatsConnection, namespace: string): (tenant: string, merge: Merge, messageId: string) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, merge, messageId) => {
    const message: MergeMessage = {
      kind: 'merge', survivor: merge.survivor, merged: merge.merged, identifiers: merge.identifiers.map(identifierKey),
      at: new Date().toISOString(), messageId, reason: MERGE_REASON,
    };
    await js.publish(`${namespace}.changes.${tenant}.profile`, JSON.stringify(message), { msgID: `merge:${merge.merged}` });
  };
}

/**
 * Publishes an unmerge to `<namespace>.changes.<tenant>.profile`. The new profile id is made once
 * per unmerge, so it makes the message id.
 */
export function natsUnmergeChanges(nc: NatsConnection, namespace: string): (tenant: string, message: UnmergeMessage) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, message) => {
    await js.publish(`${namespace}.changes.${tenant}.profile`, JSON.stringify(message), { msgID: message.unmergeId });
  };
}
