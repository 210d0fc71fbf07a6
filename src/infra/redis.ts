import { readFileSync } from 'node:fs';
import { Redis, type ChainableCommander } from 'ioredis';

/**
 * Opens a Redis connection that fails fast instead of queueing commands while disconnected.
 * Connection errors go to `onError` (commands still reject on their own); ioredis would print
 * them as unhandled otherwise.
 */
export async function connectRedis(url: string, name: string, onError: (err: Error) => void = () => undefined): Promise<Redis> {
  // Auto-pipelining sends the commands of concurrent calls (lookups, scripts) in one socket write.
  const redis = new Redis(url, { connectionName: name, lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true, enableAutoPipelining: true });
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

/** Registers `file` (a URL next to the adapter) as a command on the connection. */
export function defineScript(redis: Redis, name: string, file: URL, numberOfKeys: number): Script {
  redis.defineCommand(name, { numberOfKeys, lua: readFileSync(file, 'utf8') });
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
