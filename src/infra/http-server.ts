import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { httpStatusOf, PulseError, toPulseError } from '../errors.ts';
import type { Warehouse } from '../warehouse/port.ts';
import { readOnlyProblem } from '../warehouse/schema.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

/** A dependency /healthz reports on. */
export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface HttpDeps {
  readonly keys: KeyRing;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly checks: readonly HealthCheck[];
  /** Absent in roles that do not own the warehouse. */
  readonly warehouse: Warehouse | undefined;
  /** More routes (the collector), each registered in its own encapsulated context. */
  readonly plugins?: readonly FastifyPluginAsync[] | undefined;
  /** PEM files: the server speaks HTTPS when given. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
}

/** The operator HTTP surface: /healthz, /metrics and the read-only SQL endpoint. */
export async function startHttpServer(host: string, port: number, deps: HttpDeps): Promise<{ close(): Promise<void>; port: number }> {
  const options = { logger: false, bodyLimit: 1024 * 1024 } as const;
  const app: FastifyInstance = deps.tls === undefined
    ? Fastify(options)
    : Fastify({ ...options, https: { cert: readFileSync(deps.tls.certFile), key: readFileSync(deps.tls.keyFile) } });

  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof PulseError ? err : (err as { validation?: unknown }).validation ? new PulseError('INVALID_ARGUMENT', (err as Error).message) : toPulseError(err);
    if (e.code === 'INTERNAL') deps.log.error({ err: e.cause ?? e }, 'http request failed');
    void reply.code(httpStatusOf(e.code)).send({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });
  });

  app.get('/healthz', async (_req, reply) => {
    const results = await Promise.all(deps.checks.map(async (c) => {
      try {
        await c.check();
        return [c.name, 'ok'] as const;
      } catch (err) {
        return [c.name, `down: ${(err as Error).message}`] as const;
      }
    }));
    const healthy = results.every(([, s]) => s === 'ok');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', checks: Object.fromEntries(results) });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.post<{ Body: { query?: unknown } }>('/v1/sql', async (req) => {
    deps.keys.authorize(req.headers.authorization, 'warehouse:read');
    if (deps.warehouse === undefined) throw new PulseError('FAILED_PRECONDITION', 'this process does not serve the warehouse (role)');
    const query = req.body?.query;
    if (typeof query !== 'string') throw new PulseError('INVALID_ARGUMENT', 'query: a string is required', { field: 'query' });
    const problem = readOnlyProblem(query);
    if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', `query: ${problem}`, { field: 'query' });
    return { rows: await deps.warehouse.query(query) };
  });

  for (const plugin of deps.plugins ?? []) await app.register(plugin);

  await app.listen({ host, port });
  const address = app.server.address();
  return { close: () => app.close(), port: typeof address === 'object' && address !== null ? address.port : port };
}
