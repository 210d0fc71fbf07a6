import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { Logger } from '../infra/log.ts';
import type { NearCache } from './near-cache.ts';
import type { SharingChange } from './sharing.ts';

/**
 * Keeps a NearCache in step with `<namespace>.changes.<tenant>.<kind>` through a core NATS
 * subscription (changes are JetStream-published, so they reach core subscribers too):
 * - `segment` (enter/exit) drops the entries of its `profileId`;
 * - `profile` (merge, erasure) drops the entries of every profile id it names (`profileId`,
 *   `survivor`, `merged`, `profileIds`), or the tenant when it names none;
 * - any other kind (`sharing`, `taxonomy`...) drops the tenant's entries.
 * A disconnect clears the cache and stops caching until the reconnect, which clears it again:
 * changes published in between were missed.
 */
export function subscribeInvalidation(nc: NatsConnection, namespace: string, cache: NearCache, log: Logger): { stop(): Promise<void> } {
  const sub: Subscription = nc.subscribe(`${namespace}.changes.*.*`, {
    callback: (err, msg) => {
      if (err !== null) {
        log.warn({ err }, 'change feed error: near-cache cleared');
        cache.clear();
        return;
      }
      const parts = msg.subject.split('.');
      const tenant = parts[parts.length - 2];
      const kind = parts[parts.length - 1];
      if (tenant === undefined || kind === undefined) return;
      let body: Record<string, unknown> = {};
      try {
        const parsed: unknown = msg.json();
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch {
        // An unreadable change still says something changed in this tenant.
      }
      const listed: unknown[] = Array.isArray(body['profileIds']) ? (body['profileIds'] as unknown[]) : [];
      const ids = [body['profileId'], body['survivor'], body['merged'], ...listed]
        .filter((v): v is string => typeof v === 'string' && v !== '');
      if ((kind === 'segment' || kind === 'profile') && ids.length > 0) for (const id of ids) cache.invalidateProfile(tenant, id);
      else cache.invalidateTenant(tenant);
    },
  });
  let stopped = false;
  // The status iterator ends when the connection closes; until then it follows reconnects.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) return;
      if (s.type === 'disconnect') cache.clear(false);
      else if (s.type === 'reconnect') cache.clear(true);
    }
  })();
  return {
    stop: () => {
      stopped = true;
      sub.unsubscribe();
      return Promise.resolve();
    },
  };
}

/** Publishes data-sharing changes to `<namespace>.changes.<tenant>.sharing` (JetStream, de-duplicated). */
export function natsSharingChanges(nc: NatsConnection, namespace: string): (change: SharingChange) => Promise<void> {
  const js = jetstream(nc);
  return async (c) => {
    await js.publish(`${namespace}.changes.${c.tenant}.sharing`, JSON.stringify({
      partner: c.partner, before: c.before, after: c.after, keyId: c.keyId, at: new Date(c.at).toISOString(),
    }), { msgID: `sharing:${c.tenant}:${c.partner}:${c.at}:${c.keyId}` });
  };
}

/** Publishes a segment's taxonomy change to `<namespace>.changes.<tenant>.taxonomy`. */
export function natsTaxonomyChanges(nc: NatsConnection, namespace: string): (tenant: string, segmentId: string, taxonomyId: string) => Promise<void> {
  const js = jetstream(nc);
  return async (tenant, segmentId, taxonomyId) => {
    await js.publish(`${namespace}.changes.${tenant}.taxonomy`, JSON.stringify({ segmentId, taxonomyId, at: new Date().toISOString() }));
  };
}
