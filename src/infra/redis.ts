import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ChainableCommander, type RedisOptions } from 'ioredis';

/**
 * A connection to Redis: one server, or a Redis Cluster. Every key Pulse writes carries the
 * tenant's hash tag (`<namespace>:{<tenant>}:...`), so the scripts and pipelines of one tenant
 * always address one slot and run unchanged on a cluster.
 */
export type RedisClient = Redis | Cluster;

/** Whether `PULSE_REDIS_URL` names the seed nodes of a Redis Cluster, and which ones. */
export interface RedisTarget {
  /** One URL, or with `cluster` a comma-separated list of seed node URLs. */
  readonly url: string;
  readonly cluster?: boolean;
}

/**
 * Opens a Redis connection (or a cluster client that discovers the cluster from the seed URLs).
 * Connection errors go to `onError` (commands still reject on their own); ioredis would print
 * them as unhandled otherwise.
 */
export async function connectRedis(target: string | RedisTarget, name: string, onError: (err: Error) => void = () => undefined): Promise<RedisClient> {
  const { url, cluster = false } = typeof target === 'string' ? { url: target } : target;
  // Per connection (each cluster node's too). Auto-pipelining sends the commands of concurrent
  // calls (lookups, scripts) in one socket write.
  const connection: RedisOptions = { connectionName: name, maxRetriesPerRequest: 2 };
  const client = { lazyConnect: true, enableOfflineQueue: true, enableAutoPipelining: true } as const;
  let redis: RedisClient;
  if (cluster) {
    const seeds = url.split(',').map((u) => new URL(u.trim()));
    const first = seeds[0];
    if (first === undefined) throw new Error('a Redis Cluster needs at least one seed URL');
    redis = new Cluster(seeds.map((u) => ({ host: u.hostname, port: Number(u.port || 6379) })), {
      ...client,
      redisOptions: {
        ...connection,
        ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
        ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
        ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
      },
    });
  } else {
    redis = new Redis(url, { ...connection, ...client });
  }
  redis.on('error', onError);
  await redis.connect();
  return redis;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** A Lua script file registered on a connection; ioredis runs it by SHA with a fallback to EVAL. */
export interface Script {
  run(keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly (string | number)[]): void;
}

/**
 * Registers `file` (a URL next to the adapter) as a command on the connection; with `prelude`, that
 * file's Lua goes first (helpers and guards shared by several scripts: Lua scripts cannot import).
 */
export function defineScript(redis: RedisClient, name: string, file: URL, numberOfKeys: number, options: { prelude?: URL } = {}): Script {
  const lua = readFileSync(file, 'utf8');
  redis.defineCommand(name, { numberOfKeys, lua: options.prelude === undefined ? lua : `${readFileSync(options.prelude, 'utf8')}\n${lua}` });
  const fn = (target: unknown): ScriptFn => {
    const f = (target as Record<string, ScriptFn | undefined>)[name];
    if (f === undefined) throw new Error(`script ${name} is not defined on this connection`);
    return f.bind(target);
  };
  return {
    run: (keys, args) => fn(redis)(...keys, ...args),
    queue: (pipeline, keys, args) => { void fn(pipeline)(...keys, ...args); },
  };
}

/** Runs a pipeline and throws the first command error instead of returning it in the results. */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
