import type { NatsConnection } from '@nats-io/transport-node';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { connectNats, ensureStreams } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { cleanupNamespace, NATS_URL, REDIS_URL, tempDir } from './env.ts';

/** Real NATS (with the namespace's streams), Redis and an embedded warehouse for one test file. */
export interface TestStack {
  readonly nc: NatsConnection;
  readonly redis: RedisClient;
  readonly warehouse: EmbeddedWarehouse;
  /** Closes the connections and deletes what the namespace created (streams, keys, data dir). */
  close(): Promise<void>;
}

/** Opens the stack a pipeline integration test runs against, under its own namespace. */
export async function openTestStack(namespace: string, name: string): Promise<TestStack> {
  const dir = tempDir();
  const nc = await connectNats(NATS_URL, name);
  await ensureStreams(nc, namespace, 5_000);
  const redis = await connectRedis(REDIS_URL, name);
  const warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(namespace)) await warehouse.exec(ddl);
  return {
    nc, redis, warehouse,
    close: async () => {
      await warehouse.close();
      await redis.quit();
      await nc.close();
      await cleanupNamespace(namespace);
      dir.remove();
    },
  };
}
