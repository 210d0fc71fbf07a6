import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import { startAudiencePush } from './activation/audience-push.nats.ts';
import { RedisFrequencyStore } from './activation/frequency.redis.ts';
import { FrequencyStoreV2 } from './activation/frequency-v2.redis.ts';
import { RedisIdSync } from './activation/id-sync.redis.ts';
import { OutcomeWriter } from './activation/outcomes.clickhouse.ts';
import { frequencyHandlers, outcomeHandlers, type ActivationDeps } from './activation/service.ts';
import { userSync } from './activation/user-sync.http.ts';
import { KeyRing, type ApiKey } from './auth/keys.ts';
import { natsDeadLetter } from './collection/dlq.nats.ts';
import { httpCollector } from './collection/http-collector.ts';
import { ingestHandlers } from './collection/ingest-service.ts';
import { natsEventPublisher } from './collection/publisher.nats.ts';
import { ConnectorRunner } from './collection/connectors/runner.ts';
import { RedisConnectorStore } from './collection/connectors/state.redis.ts';
import type { Config } from './config/config.ts';
import { ServerWarehouse } from './infra/clickhouse-server.ts';
import { RateLimiter, startGrpcServer, type GrpcServer, type HandlerContext } from './infra/grpc-server.ts';
import { startHttpServer, type HealthCheck } from './infra/http-server.ts';
import { jetStreamSource, type MessageSource } from './infra/jetstream-source.ts';
import type { Logger } from './infra/log.ts';
import { createMetrics, exportNearCacheStats } from './infra/metrics.ts';
import { connectNats, ensureStreams, streamNames } from './infra/nats.ts';
import { loadPulseGrpc } from './infra/proto.ts';
import { connectRedis, type RedisClient } from './infra/redis.ts';
import { RedisInventoryStore } from './inventory/inventory.redis.ts';
import { OutcomeReports } from './inventory/report.clickhouse.ts';
import { inventoryHandlers } from './inventory/service.ts';
import { natsConsentChanges } from './privacy/consent-changes.nats.ts';
import { RedisConsentStore } from './privacy/consent.redis.ts';
import { RedisConsentStoreV2 } from './privacy/consent-v2.redis.ts';
import type { ConsentStore } from './privacy/store.ts';
import { natsMergeChange, natsProfileChanges, natsUnmergeChanges } from './profiles/changes.nats.ts';
import { ProfileHistoryWriter } from './profiles/history.clickhouse.ts';
import { TenantLayouts } from './profiles/layout.redis.ts';
import { RedisProfileStore } from './profiles/profile.redis.ts';
import { RedisProfileStoreV2 } from './profiles/profile-v2.redis.ts';
import type { Merge } from './profiles/model.ts';
import type { ProfileStore } from './profiles/store.ts';
import { profileHandlers } from './profiles/service.ts';
import { ProfileUnmerger } from './profiles/unmerge.ts';
import { ClickHouseUnmergeHistory } from './profiles/unmerge.clickhouse.ts';
import { RedisUnmergeState } from './profiles/unmerge.redis.ts';
import { RedisUnmergeStateV2, sweepJournals } from './profiles/unmerge-v2.redis.ts';
import type { UnmergeState } from './profiles/unmerge.ts';
import { natsSegmentChanges } from './segments/changes.nats.ts';
import { RedisFeatureStore } from './segments/features.redis.ts';
import { FeatureStoreV2 } from './segments/features-v2.redis.ts';
import { ClickHouseMembershipHistory } from './segments/history.clickhouse.ts';
import { RealtimeSegments } from './segments/realtime.ts';
import { RedisSegmentStore } from './segments/segment.redis.ts';
import { RedisMembershipStoreV2, RedisSegmentStoreV2 } from './segments/segment-v2.redis.ts';
import type { FeatureStore, ProfileIndex, SegmentStore } from './segments/store.ts';
import { segmentHandlers } from './segments/service.ts';
import { Backfills, RuleFactsLoader } from './segments/backfill.ts';
import { natsDefinitionChanges } from './segments/definition-changes.nats.ts';
import { RedisSegmentDefinitions } from './segments/definitions.redis.ts';
import { ClickHouseEventHistory } from './segments/event-history.clickhouse.ts';
import { RedisAudienceReader } from './targeting/audience.redis.ts';
import { RedisAudienceReaderV2 } from './targeting/audience-v2.redis.ts';
import type { AudienceReader } from './targeting/store.ts';
import { natsSharingChanges, natsTaxonomyChanges, subscribeInvalidation } from './targeting/invalidation.nats.ts';
import { withFastEnrichResponse } from './targeting/enrich-response.ts';
import { NearCache } from './targeting/near-cache.ts';
import { sharingHandlers, targetingHandlers, type TargetingDeps } from './targeting/service.ts';
import { sharingAudit } from './targeting/sharing-audit.clickhouse.ts';
import { RedisSharingStore } from './targeting/sharing.redis.ts';
import { targetingSettingsFor } from './targeting/settings.ts';
import { EventWriter } from './warehouse/events.ts';
import type { Warehouse } from './warehouse/port.ts';
import { schemaStatements } from './warehouse/schema.ts';
import { ingest, type BatchReport } from '../processors/ingest.ts';
import { startSegmentClock, sweepCounts, type SweepCounts } from '../processors/segment-clock.ts';

/** Which parts a process runs: everything, only the stream processor, or only the APIs. */
export const ROLES = ['all', 'processor', 'api'] as const;
export type Role = (typeof ROLES)[number];

/** A running Pulse process. */
export interface RunningPulse {
  readonly grpcPort: number | undefined;
  readonly httpPort: number;
  readonly warehouse: Warehouse;
  /** Drains in-flight work and closes every connection. */
  stop(): Promise<void>;
}

/** Opens the warehouse the config names: a ClickHouse server, or chdb under the data dir. */
export async function openWarehouse(config: Config): Promise<Warehouse> {
  if (config.clickhouseUrl !== undefined) return new ServerWarehouse(config.clickhouseUrl);
  // Loaded on demand: the embedded engine costs ~220 MB and seconds to load, which CLI commands
  // that never touch the warehouse (import, send, dlq...) should not pay.
  const { EmbeddedWarehouse } = await import('./infra/clickhouse-embedded.ts');
  return new EmbeddedWarehouse(join(config.dataDir, 'warehouse'));
}

/** The Redis adapters of profile and segment state, for one key layout. */
interface RedisAdapters {
  readonly profiles: ProfileStore;
  readonly segments: SegmentStore;
  readonly index: ProfileIndex;
  readonly features: FeatureStore;
  readonly consent: ConsentStore;
  readonly frequency: RedisFrequencyStore;
  readonly audiences: AudienceReader;
  readonly unmerge: UnmergeState;
  /** The profile layout's bucketed membership (reach for MatchAudience). */
  readonly membership?: RedisMembershipStoreV2;
  /**
   * The sweeper of half-done merges and unmerges (the profile layout's journals), for the segment
   * clock: what it did, and the unmerges it finished (their profiles still need their segments).
   */
  readonly sweep?: (tenant: string) => Promise<{ counts: SweepCounts; unmerged: { profileId: string; splitProfileId: string }[] }>;
}

/**
 * The adapters of the Redis key layout this process writes (PULSE_REDIS_LAYOUT,
 * src/profiles/per-profile-layout.md): `tenant` keeps each tenant under one hash tag, `profile`
 * gives each profile its own (identifiers and the cross-profile indexes get theirs), so one tenant
 * spreads over a Redis Cluster. On `profile`, a tenant's layout marker is checked before its
 * events are applied: a tenant written in the other layout, or being migrated, is refused.
 */
function redisAdapters(config: Config, redis: RedisClient, definitions: RedisSegmentDefinitions, publishMerge: (tenant: string, merge: Merge, messageId: string) => Promise<void>): RedisAdapters {
  const ns = config.namespace;
  const policy = { policies: config.profilePolicies, limits: config.identityLimits };
  if (config.redisLayout === 'tenant') {
    const profiles = new RedisProfileStore(redis, ns, config.dedupTtlSeconds, policy);
    return {
      profiles, segments: new RedisSegmentStore(redis, ns), index: definitions, features: new RedisFeatureStore(redis, ns, config.dedupTtlSeconds),
      consent: new RedisConsentStore(redis, ns), frequency: new RedisFrequencyStore(redis, ns), audiences: new RedisAudienceReader(redis, ns),
      unmerge: new RedisUnmergeState(redis, ns, policy),
    };
  }
  const buckets = config.redisBuckets;
  const membership = new RedisMembershipStoreV2(redis, ns, buckets);
  const gone = (tenant: string, loser: string, segments: readonly string[]) => membership.gone(tenant, loser, segments);
  const store = new RedisProfileStoreV2(redis, ns, config.dedupTtlSeconds, { ...policy, merge: { buckets, gone, publish: publishMerge } });
  const layouts = new TenantLayouts(redis, ns, { layout: 'profile', buckets });
  const profiles: ProfileStore = {
    applyEvents: async (tenant, events) => {
      const marker = await layouts.assertWritable(tenant);
      if (marker.buckets !== buckets) throw new Error(`tenant ${tenant} has ${marker.buckets} buckets, this process is configured with PULSE_REDIS_BUCKETS=${buckets}`);
      return store.applyEvents(tenant, events);
    },
    facts: (tenant, ids) => store.facts(tenant, ids),
    resolve: (tenant, ids) => store.resolve(tenant, ids),
    get: (tenant, id) => store.get(tenant, id),
    refusedMerges: (tenant, limit) => store.refusedMerges(tenant, limit),
  };
  const unmerge = new RedisUnmergeStateV2(redis, ns, { buckets, dedupTtlSeconds: config.dedupTtlSeconds, ...(config.profilePolicies === undefined ? {} : { policies: config.profilePolicies }) });
  return {
    profiles, segments: new RedisSegmentStoreV2(redis, ns, membership), index: membership, features: new FeatureStoreV2(redis, ns, config.dedupTtlSeconds),
    consent: new RedisConsentStoreV2(redis, ns, store), frequency: new FrequencyStoreV2(redis, ns), audiences: new RedisAudienceReaderV2(redis, ns), unmerge, membership,
    sweep: async (tenant) => {
      const swept = await sweepJournals(redis, ns, tenant, { buckets }, { merges: store.runner(tenant), unmerges: unmerge });
      const unmerged = [...swept.unmerges].flatMap(([profileId, outcomes]) => outcomes.filter((o) => o.status === 'finished').map((o) => ({ profileId, splitProfileId: o.splitProfileId })));
      return { counts: sweepCounts([...swept.merges.values(), ...[...swept.unmerges.values()].flat()]), unmerged };
    },
  };
}

/** The composition root: wires adapters to contexts for the given role and starts serving. */
export async function startPulse(config: Config, keys: readonly ApiKey[], role: Role, log: Logger): Promise<RunningPulse> {
  const metrics = createMetrics();
  const keyRing = new KeyRing(keys);
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, 'error while closing');
      }
    }
  };
  try {
    const nc: NatsConnection = await connectNats(config.natsUrl, `pulse-${role}`);
    closers.push(() => nc.drain());
    await ensureStreams(nc, config.namespace, config.ackWaitMs);
    const redis: RedisClient = await connectRedis({ url: config.redisUrl, cluster: config.redisCluster }, `pulse-${role}`, (err) => log.warn({ err: err.message }, 'redis connection error'));
    closers.push(() => redis.quit());
    const warehouse = await openWarehouse(config);
    closers.push(() => warehouse.close());
    for (const ddl of schemaStatements(config.namespace)) await warehouse.exec(ddl);

    const segmentDefinitions = new RedisSegmentDefinitions(redis, config.namespace);
    const adapters = redisAdapters(config, redis, segmentDefinitions, natsMergeChange(nc, config.namespace));
    const { profiles, segments, features, index } = adapters;
    const membershipHistory = new ClickHouseMembershipHistory(warehouse, config.namespace);

    let processor: { source: MessageSource; done: Promise<BatchReport | undefined> } | undefined;
    if (role === 'all' || role === 'processor') {
      const names = streamNames(config.namespace);
      const source = await jetStreamSource(nc, names.events, names.processorDurable, config.batchSize * 2);
      const publishMerges = natsProfileChanges(nc, config.namespace);
      const profileHistory = new ProfileHistoryWriter(warehouse, config.namespace);
      const reports: Observable<BatchReport> = ingest(source.iterator, {
        profiles, segments, features, history: membershipHistory,
        events: new EventWriter(warehouse, config.namespace),
        deadLetter: natsDeadLetter(nc, config.namespace),
        publishChanges: natsSegmentChanges(nc, config.namespace),
        consent: adapters.consent,
        announceConsent: natsConsentChanges(nc, config.namespace),
        recordProfileChanges: async (tenant, events, results) => {
          await Promise.all([
            publishMerges(tenant, events, results), profileHistory.write(tenant, events, results),
            // Duplicates too: a crash between applying and indexing is repaired by the redelivery.
            index.indexProfiles(tenant, results.map((r) => r.profileId)),
          ]);
        },
      }, {
        namespace: config.namespace, batchSize: config.batchSize, batchWaitMs: config.batchWaitMs, concurrency: 2,
        log: log.child({ component: 'processor' }), metrics, consent: config.consent, normalize: config.normalize,
      });
      processor = { source, done: lastValueFrom(reports, { defaultValue: undefined }) };
      processor.done.catch((err: unknown) => log.fatal({ err }, 'processor stopped'));
      const running = processor;
      closers.push(async () => {
        await running.source.stop();
        await Promise.race([running.done.catch(() => undefined), new Promise((r) => setTimeout(r, 5_000))]);
      });
    }

    if (role === 'all' || role === 'processor') {
      // Time-based exits: profiles whose membership lapses with no new event (processors/segment-clock.ts).
      const clockLog = log.child({ component: 'segment-clock' });
      const clockRealtime = new RealtimeSegments({ segments, profiles, features, history: membershipHistory, log: clockLog, metrics, now: Date.now });
      const publishSegmentChanges = natsSegmentChanges(nc, config.namespace);
      const sweeper = adapters.sweep;
      const clock = startSegmentClock({
        realtime: clockRealtime, segments, publishChanges: publishSegmentChanges,
        ...(sweeper === undefined ? {} : {
          // An unmerge a crash left after its swap is finished here; what the unmerge would have
          // done next is done too: the new profile indexed, both sides' segments evaluated.
          sweep: async (tenant: string) => {
            const { counts, unmerged } = await sweeper(tenant);
            if (unmerged.length > 0) {
              await index.indexProfiles(tenant, unmerged.map((u) => u.splitProfileId));
              const targets = new Map(unmerged.flatMap((u) => [[u.profileId, 'all' as const], [u.splitProfileId, 'all' as const]]));
              await publishSegmentChanges(tenant, await clockRealtime.evaluate(tenant, targets, 'unmerge'));
            }
            return counts;
          },
        }),
      }, { periodMs: config.segmentClockMs, log: clockLog, metrics });
      closers.push(() => clock.stop());
    }

    // Collectors answer only after JetStream stored the events; past this wait they answer 503.
    const publisher = natsEventPublisher(nc, config.namespace, { ackTimeoutMs: 5_000 });

    if ((role === 'all' || role === 'processor') && config.connectors.length > 0) {
      const connectors = new ConnectorRunner(config.connectors, {
        publisher, normalize: config.normalize, store: new RedisConnectorStore(redis, config.namespace), log: log.child({ component: 'connectors' }), metrics,
      });
      connectors.start();
      closers.push(() => connectors.stop());
    }

    const idSync = new RedisIdSync(redis, config.namespace, config.redisLayout);
    if ((role === 'all' || role === 'processor') && config.audiencePush.length > 0) {
      const push = await startAudiencePush(nc, config.namespace, config.audiencePush, idSync, log.child({ component: 'audience-push' }));
      closers.push(() => push.stop());
    }

    let grpcServer: GrpcServer | undefined;
    if (role === 'all' || role === 'api') {
      const ctx: HandlerContext = { keys: keyRing, metrics, log: log.child({ component: 'grpc' }), limiter: new RateLimiter() };
      const sharing = new RedisSharingStore(redis, config.namespace);
      const audiences = adapters.audiences;
      const settings = (tenant: string) => targetingSettingsFor(config.targeting, tenant);
      let targeting: TargetingDeps = { reader: audiences, agreement: (tenant, partner) => sharing.get(tenant, partner), settings };
      if (config.nearCacheEntries > 0) {
        const cache = new NearCache(audiences, { maxEntries: config.nearCacheEntries });
        exportNearCacheStats(metrics, () => cache.stats());
        const feed = subscribeInvalidation(nc, config.namespace, cache, log.child({ component: 'near-cache' }));
        closers.push(() => feed.stop());
        targeting = { reader: cache, agreement: (tenant, partner) => cache.agreement(tenant, partner, () => sharing.get(tenant, partner)), settings };
      }
      const audit = sharingAudit(warehouse, config.namespace);
      const announce = natsSharingChanges(nc, config.namespace);
      const loader = new RuleFactsLoader({
        profiles, index, history: new ClickHouseEventHistory(warehouse, config.namespace),
        keptFeatures: (tenant, pids, needed, now) => features.read(tenant, pids, needed, now),
      });
      const backfills = new Backfills({
        definitions: segmentDefinitions, index, segments, loader, publishChanges: natsSegmentChanges(nc, config.namespace), history: membershipHistory,
        seedFeatures: (tenant, events, needed, now) => features.record(tenant, events, needed, now), log: log.child({ component: 'backfill' }), batchSize: 500,
      });
      closers.push(() => backfills.stop());
      // Backfills a stopped or crashed process left unfinished are taken over (every 10 s).
      const stopResuming = backfills.watch(() => segments.tenants(), 10_000);
      closers.push(() => { stopResuming(); return Promise.resolve(); });
      const unmergeLog = log.child({ component: 'unmerge' });
      const unmergeSegments = new RealtimeSegments({ segments, profiles, features, history: membershipHistory, log: unmergeLog, metrics, now: Date.now });
      const unmerger = new ProfileUnmerger({
        state: adapters.unmerge,
        history: new ClickHouseUnmergeHistory(warehouse, config.namespace),
        features: async (tenant) => (await unmergeSegments.definitions(tenant)).features,
        evaluate: (tenant, targets) => unmergeSegments.evaluate(tenant, targets, 'unmerge'),
        publishSegmentChanges: natsSegmentChanges(nc, config.namespace), publishProfileChange: natsUnmergeChanges(nc, config.namespace),
        indexProfiles: (tenant, ids) => index.indexProfiles(tenant, ids), consent: config.consent, log: unmergeLog, metrics,
      });
      const pkg = loadPulseGrpc();
      const activation: ActivationDeps = {
        profiles, frequency: adapters.frequency, outcomes: new OutcomeWriter(warehouse, config.namespace), now: Date.now,
      };
      grpcServer = await startGrpcServer(config.host, config.grpcPort, [
        { name: 'pulse.v1.TargetingService', definition: withFastEnrichResponse(pkg.pulse.v1.TargetingService.service), handlers: targetingHandlers(ctx, targeting) },
        {
          name: 'pulse.v1.DataSharingService', definition: pkg.pulse.v1.DataSharingService.service,
          handlers: sharingHandlers(ctx, { store: sharing, record: async (c) => { await audit(c); await announce(c); }, taxonomyChanged: natsTaxonomyChanges(nc, config.namespace) }),
        },
        { name: 'pulse.v1.ProfileService', definition: pkg.pulse.v1.ProfileService.service, handlers: profileHandlers(ctx, profiles, publisher, unmerger) },
        { name: 'pulse.v1.SegmentService', definition: pkg.pulse.v1.SegmentService.service, handlers: segmentHandlers(ctx, segments, { definitions: segmentDefinitions, index, backfills, loader, profiles, announce: natsDefinitionChanges(nc, config.namespace) }) },
        { name: 'pulse.v1.IngestService', definition: pkg.pulse.v1.IngestService.service, handlers: ingestHandlers(ctx, publisher, config.normalize) },
        { name: 'pulse.v1.OutcomeService', definition: pkg.pulse.v1.OutcomeService.service, handlers: outcomeHandlers(ctx, activation) },
        { name: 'pulse.v1.FrequencyService', definition: pkg.pulse.v1.FrequencyService.service, handlers: frequencyHandlers(ctx, activation) },
        {
          name: 'pulse.v1.InventoryService', definition: pkg.pulse.v1.InventoryService.service,
          handlers: inventoryHandlers(ctx, { store: new RedisInventoryStore(redis, config.namespace, adapters.membership), reports: new OutcomeReports(warehouse, config.namespace), now: Date.now }),
        },
     ], config.grpcTls);
      const server = grpcServer;
      // gRPC stops first (closers run in reverse), so no call starts against closed stores.
      closers.push(() => server.stop(5_000));
    }

    const checks: HealthCheck[] = [
      { name: 'nats', check: async () => { if (nc.isClosed()) throw new Error('closed'); await nc.flush(); } },
      { name: 'redis', check: async () => { await redis.ping(); } },
      { name: 'clickhouse', check: async () => { await warehouse.query('SELECT 1 AS ok'); } },
    ];
    const collector = httpCollector({ keys: keyRing, publisher, rateLimit: config.httpRateLimit, log: log.child({ component: 'collector' }), normalize: config.normalize });
    const http = await startHttpServer(config.host, config.httpPort, {
      keys: keyRing, metrics, log, checks, warehouse, tls: config.tls, plugins: role === 'processor' ? [] : [collector, userSync({ keys: keyRing, partners: config.audiencePush, sync: idSync })],
    });
    closers.push(() => http.close());

    return { grpcPort: grpcServer?.port, httpPort: http.port, warehouse, stop: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
