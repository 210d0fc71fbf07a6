import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { RedisClient } from '../../src/infra/redis.ts';
import { lastValueFrom, toArray } from 'rxjs';
import { natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { jetStreamSource } from '../../src/infra/jetstream-source.ts';
import { createLogger } from '../../src/infra/log.ts';
import type { Metrics } from '../../src/infra/metrics.ts';
import { streamNames } from '../../src/infra/nats.ts';
import type { ProfilePolicies } from '../../src/profiles/policy.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import type { ProfileStore } from '../../src/profiles/store.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { FeatureStoreV2 } from '../../src/segments/features-v2.redis.ts';
import { ClickHouseMembershipHistory } from '../../src/segments/history.clickhouse.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { RedisMembershipStoreV2, RedisSegmentStoreV2 } from '../../src/segments/segment-v2.redis.ts';
import type { FeatureStore, ProfileIndex } from '../../src/segments/store.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import type { Warehouse } from '../../src/warehouse/port.ts';
import { ingest, type BatchReport, type IngestSinks } from '../../processors/ingest.ts';
import { eventually } from './env.ts';
import { TEST_BUCKETS, TEST_LAYOUT } from './keys.ts';

/** The real-time path wired as src/main.ts wires it (in the layout of TEST_LAYOUT), with the clock the test controls. */
export interface RealtimeHarness {
  readonly profiles: ProfileStore;
  readonly segments: RedisSegmentStore;
  readonly features: FeatureStore;
  /** The profile index of the layout (the per-profile layout's is the bucketed membership store's). */
  readonly index?: ProfileIndex;
  readonly history: ClickHouseMembershipHistory;
  /** Publishes one event to `<ns>.events.<tenant>`. */
  publish(tenant: string, event: object): Promise<void>;
  /** Waits until the processor acked every event published so far. */
  settle(): Promise<void>;
  /** Every segment change on the changes stream so far, in order. */
  changes(): Promise<{ subject: string; kind: string; segmentId: string; profileId: string; version: number; at: string }[]>;
  stop(): Promise<BatchReport[]>;
}

/** What a harness may add to the plain pipeline: trait policies, and a sink for merges (as src/main.ts records them). */
export interface RealtimeOptions {
  readonly policies?: ProfilePolicies;
  readonly recordProfileChanges?: IngestSinks['recordProfileChanges'];
}

/** Starts the ingest pipeline over the namespace's JetStream stream, reading time from `now`. */
export async function startRealtime(nc: NatsConnection, redis: RedisClient, warehouse: Warehouse, ns: string, metrics: Metrics, now: () => number, options: RealtimeOptions = {}): Promise<RealtimeHarness> {
  const names = streamNames(ns);
  const policies = options.policies === undefined ? {} : { policies: options.policies };
  let profiles: ProfileStore;
  let segments: RedisSegmentStore;
  let features: FeatureStore;
  let index: ProfileIndex | undefined;
  if (TEST_LAYOUT === 'tenant') {
    profiles = new RedisProfileStore(redis, ns, 3600, policies);
    segments = new RedisSegmentStore(redis, ns);
    features = new RedisFeatureStore(redis, ns, 3600);
  } else {
    const membership = new RedisMembershipStoreV2(redis, ns, TEST_BUCKETS);
    profiles = new RedisProfileStoreV2(redis, ns, 3600, { ...policies, merge: { buckets: TEST_BUCKETS, gone: (tenant, loser, segs) => membership.gone(tenant, loser, segs) } });
    segments = new RedisSegmentStoreV2(redis, ns, membership);
    features = new FeatureStoreV2(redis, ns, 3600);
    index = membership;
  }
  const history = new ClickHouseMembershipHistory(warehouse, ns);
  const source = await jetStreamSource(nc, names.events, names.processorDurable, 100);
  const done = lastValueFrom(ingest(source.iterator, {
    profiles, segments, features, history, events: new EventWriter(warehouse, ns),
    deadLetter: natsDeadLetter(nc, ns), publishChanges: natsSegmentChanges(nc, ns),
    ...(options.recordProfileChanges === undefined ? {} : { recordProfileChanges: options.recordProfileChanges }),
  }, { namespace: ns, batchSize: 50, batchWaitMs: 10, concurrency: 1, log: createLogger('silent'), metrics, now }).pipe(toArray()));
  const js = jetstream(nc);
  let published = 0;
  return {
    profiles, segments, features, history, ...(index === undefined ? {} : { index }),
    async publish(tenant, event) {
      const h = headers();
      h.set('Content-Type', 'application/json');
      await js.publish(names.eventsSubject(tenant), JSON.stringify(event), { headers: h });
      published++;
    },
    async settle() {
      const jsm = await jetstreamManager(nc);
      await eventually(async () => {
        const info = await jsm.consumers.info(names.events, names.processorDurable);
        return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq >= published ? true : undefined;
      }, 20_000, `${published} events acked`);
    },
    async changes() {
      const jsm = await jetstreamManager(nc);
      const total = (await jsm.streams.info(names.changes)).state.messages;
      const out: { subject: string; kind: string; segmentId: string; profileId: string; version: number; at: string }[] = [];
      if (total === 0) return out;
      const consumer = await js.consumers.get(names.changes);
      for await (const m of await consumer.fetch({ max_messages: total, expires: 2_000 })) {
        out.push({ subject: m.subject, ...(m.json<{ kind: string; segmentId: string; profileId: string; version: number; at: string }>()) });
        if (out.length === total) break;
      }
      return out;
    },
    async stop() {
      await source.stop();
      return done;
    },
  };
}
