import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../infra/log.ts';
import { streamNames } from '../infra/nats.ts';
import { memoDecoder } from '../privacy/consent.ts';
import { buildUpload, parseSegmentChange, retryDelayMs, type PushPartner, type SegmentChange } from './audience-push.ts';
import type { RedisIdSync } from './id-sync.redis.ts';

/** A running audience push: one delivery loop per partner. */
export interface AudiencePush {
  stop(): Promise<void>;
}

/** How long a partner may take to answer an upload. */
const UPLOAD_TIMEOUT_MS = 10_000;

/**
 * Delivers segment changes to each partner from its own durable consumer on
 * `<namespace>.changes.<tenant>.segment`, so one partner's outage neither blocks nor repeats
 * another's uploads. Only one batch per partner is in flight (max_ack_pending = batch size) and
 * a failed upload is retried in place with growing delays until it succeeds, so a partner sees
 * a person's enter and exit in the order they happened. Messages are acked only after the
 * partner answered 2xx.
 */
export async function startAudiencePush(
  nc: NatsConnection, namespace: string, partners: readonly PushPartner[], sync: RedisIdSync, log: Logger,
): Promise<AudiencePush> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = streamNames(namespace).changes;
  const decode = memoDecoder();
  let stopped = false;
  const loops = await Promise.all(partners.map(async (p) => {
    const durable = `push_${p.tenant}_${p.partner}`;
    const settings = { max_ack_pending: p.batchSize, ack_wait: nanos(30_000) };
    try {
      await jsm.consumers.info(stream, durable);
      // A restart with another batch size keeps the partner's position.
      await jsm.consumers.update(stream, durable, settings);
    } catch (err) {
      if (!(err instanceof Error && /not found/i.test(err.message))) throw err;
      // A new partner receives changes from now on, not the stream's backlog.
      await jsm.consumers.add(stream, {
        durable_name: durable, filter_subject: `${namespace}.changes.${p.tenant}.segment`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, ...settings,
      });
    }
    const consumer = await js.consumers.get(stream, durable);
    const plog = log.child({ partner: p.partner, tenant: p.tenant });
    // Wrapped: returning the loop's promise itself would make Promise.all wait for it to end.
    return { done: (async () => {
      while (!stopped) {
        const msgs: JsMsg[] = [];
        try {
          for await (const m of await consumer.fetch({ max_messages: p.batchSize, expires: 1000 })) msgs.push(m);
        } catch (err) {
          plog.warn({ err }, 'fetching changes failed');
          await sleep(1000);
          continue;
        }
        if (msgs.length > 0) await deliver(p, msgs, plog);
      }
    })() };
  }));

  async function deliver(p: PushPartner, msgs: readonly JsMsg[], plog: Logger): Promise<void> {
    const changes = msgs.map((m) => parseSegmentChange(m.data)).filter((c): c is SegmentChange => c !== undefined);
    for (let attempt = 1; ; attempt++) {
      try {
        const subjects = await sync.subjects(p.tenant, p.partner, [...new Set(changes.map((c) => c.profileId))]);
        const { updates, skipped } = buildUpload(p, changes, subjects, decode);
        if (updates.length > 0) await upload(p, updates, UPLOAD_TIMEOUT_MS);
        for (const m of msgs) m.ack();
        await sync.report(p.tenant, p.partner, { ok: true, updates: updates.length, changes: changes.length, skipped, at: Date.now() });
        return;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        plog.warn({ err, attempt }, 'audience upload failed; retrying');
        await sync.report(p.tenant, p.partner, { ok: false, error, at: Date.now() }).catch(() => undefined);
        if (stopped) {
          for (const m of msgs) m.nak();
          return;
        }
        await waitWorking(msgs, retryDelayMs(attempt), () => stopped);
      }
    }
  }

  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops.map((l) => l.done));
    },
  };
}

async function upload(p: PushPartner, updates: readonly unknown[], timeoutMs: number): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (p.authorization !== undefined) headers['authorization'] = p.authorization;
  const res = await fetch(p.url, {
    method: 'POST', headers, body: JSON.stringify({ partner: p.partner, updates }), signal: AbortSignal.timeout(timeoutMs),
  });
  // The body is not needed; reading it releases the connection.
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`partner answered HTTP ${res.status}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits `ms` while telling JetStream the messages are still being worked on (no redelivery meanwhile). */
async function waitWorking(msgs: readonly JsMsg[], ms: number, stopped: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !stopped()) {
    for (const m of msgs) m.working();
    await sleep(Math.min(5000, until - Date.now()));
  }
}
