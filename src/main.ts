import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { join } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import { KeyRing, type ApiKey } from './auth/keys.ts';
import { natsDeadLetter } from './collection/dlq.nats.ts';
import { httpCollector } from './collection/http-collector.ts';
import { ingestHandlers } from './collection/ingest-service.ts';
import { natsEventPublisher } from './collection/publisher.nats.ts';
import { ConnectorRunner } from './collection/connectors/runner.ts';
import { RedisConnectorStore } from './collection/connectors/state.redis.ts';
import type { Config } from './config/config.ts';
import { EmbeddedWarehouse } from './infra/clickhouse-embedded.ts';
import { ServerWarehouse } from './infra/clickhouse-server.ts';
import { startGrpcServer, type GrpcServer, type HandlerContext } from './infra/grpc-server.ts';
import { startHttpServer, type HealthCheck } from './infra/http-server.ts';
import { jetStreamSource, type MessageSource } from './infra/jetstream-source.ts';
import type { Logger } from './infra/log.ts';
import { createMetrics } from './infra/metrics.ts';
import { connectNats, ensureStreams, streamNames } from './infra/nats.ts';
import { loadPulseGrpc } from './infra/proto.ts';
import { connectRedis } from './infra/redis.ts';
import { RedisConsentStore } from './privacy/consent.redis.ts';
import { RedisProfileStore } from './profiles/profile.redis.ts';
import { profileHandlers } from './profiles/service.ts';
import { natsSegmentChanges } from './segments/changes.nats.ts';
import { RedisSegmentStore } from './segments/segment.redis.ts';
import { segmentHandlers } from './segments/service.ts';
import { RedisAudienceReader } from './targeting/audience.redis.ts';
import { targetingHandlers } from './targeting/service.ts';
import { EventWriter } from './warehouse/events.ts';
import type { Warehouse } from './warehouse/port.ts';
import { schemaStatements } from './warehouse/schema.ts';
import { ingest, type BatchReport } from '../processors/ingest.ts';

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
export function openWarehouse(config: Config): Warehouse {
  return config.clickhouseUrl === undefined ? new EmbeddedWarehouse(join(config.dataDir, 'warehouse')) : new ServerWarehouse(config.clickhouseUrl);
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
    const redis: Redis = await connectRedis(config.redisUrl, `pulse-${role}`);
    closers.push(() => redis.quit());
    const warehouse = openWarehouse(config);
    closers.push(() => warehouse.close());
    for (const ddl of schemaStatements(config.namespace)) await warehouse.exec(ddl);

    const profiles = new RedisProfileStore(redis, config.namespace, config.dedupTtlSeconds);
    const segments = new RedisSegmentStore(redis, config.namespace);

    let processor: { source: MessageSource; done: Promise<BatchReport | undefined> } | undefined;
    if (role === 'all' || role === 'processor') {
      const names = streamNames(config.namespace);
      const source = await jetStreamSource(nc, names.events, names.processorDurable, config.batchSize * 2);
      const reports: Observable<BatchReport> = ingest(source.iterator, {
        profiles, segments,
        events: new EventWriter(warehouse, config.namespace),
        deadLetter: natsDeadLetter(nc, config.namespace),
        publishChanges: natsSegmentChanges(nc, config.namespace),
        consent: new RedisConsentStore(redis, config.namespace),
      }, {
        namespace: config.namespace, batchSize: config.batchSize, batchWaitMs: config.batchWaitMs, concurrency: 1,
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

    // Collectors answer only after JetStream stored the events; past this wait they answer 503.
    const publisher = natsEventPublisher(nc, config.namespace, { ackTimeoutMs: 5_000 });

    if ((role === 'all' || role === 'processor') && config.connectors.length > 0) {
      const connectors = new ConnectorRunner(config.connectors, {
        publisher, store: new RedisConnectorStore(redis, config.namespace), log: log.child({ component: 'connectors' }), metrics,
      });
      connectors.start();
      closers.push(() => connectors.stop());
    }

    let grpcServer: GrpcServer | undefined;
    if (role === 'all' || role === 'api') {
      const ctx: HandlerContext = { keys: keyRing, metrics, log: log.child({ component: 'grpc' }) };
      const pkg = loadPulseGrpc();
      grpcServer = await startGrpcServer(config.host, config.grpcPort, [
        { name: 'pulse.v1.TargetingService', definition: pkg.pulse.v1.TargetingService.service, handlers: targetingHandlers(ctx, new RedisAudienceReader(redis, config.namespace)) },
        { name: 'pulse.v1.ProfileService', definition: pkg.pulse.v1.ProfileService.service, handlers: profileHandlers(ctx, profiles) },
        { name: 'pulse.v1.SegmentService', definition: pkg.pulse.v1.SegmentService.service, handlers: segmentHandlers(ctx, segments) },
        { name: 'pulse.v1.IngestService', definition: pkg.pulse.v1.IngestService.service, handlers: ingestHandlers(ctx, publisher) },
      ]);
      const server = grpcServer;
      // gRPC stops first (closers run in reverse), so no call starts against closed stores.
      closers.push(() => server.stop(5_000));
    }

    const checks: HealthCheck[] = [
      { name: 'nats', check: async () => { if (nc.isClosed()) throw new Error('closed'); await nc.flush(); } },
      { name: 'redis', check: async () => { await redis.ping(); } },
      { name: 'clickhouse', check: async () => { await warehouse.query('SELECT 1 AS ok'); } },
    ];
    const collector = httpCollector({ keys: keyRing, publisher, rateLimit: config.httpRateLimit, log: log.child({ component: 'collector' }) });
    const http = await startHttpServer(config.host, config.httpPort, {
      keys: keyRing, metrics, log, checks, warehouse, tls: config.tls, plugins: role === 'processor' ? [] : [collector],
    });
    closers.push(() => http.close());

    return { grpcPort: grpcServer?.port, httpPort: http.port, warehouse, stop: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
