import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import rateLimit from '@fastify/rate-limit';
import { errorCodes, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import type { KeyRing, Principal } from '../auth/keys.ts';
import { httpStatusOf, PulseError, toPulseError } from '../errors.ts';
import type { Logger } from '../infra/log.ts';
import type { JsonObject } from '../json.ts';
import { EVENT_TYPES } from './event.ts';
import { acceptWithinLimits, MAX_BATCH_BYTES, MAX_EVENT_BYTES } from './limits.ts';
import type { EventPublisher } from './publisher.ts';
import type { NormalizeOptions } from './normalize.ts';
import { stampProvenance } from './provenance.ts';

const gunzipAsync = promisify(gunzip);

/** What the HTTP collector needs. */
export interface CollectorDeps {
  readonly keys: KeyRing;
  readonly publisher: EventPublisher;
  /** Requests per second one write key may make; above it the collector answers 429. */
  readonly rateLimit: number;
  readonly log: Logger;
  /** Normalization settings (phone region); the raw values are gone after this first pass. */
  readonly normalize?: NormalizeOptions;
}

/** One refused event of a batch, as the collector reports it. */
export interface RejectedEvent {
  readonly index: number;
  readonly field: string;
  readonly reason: string;
}

/** The JSON error body every collector failure has. */
interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly field?: string };
  readonly rejected?: readonly RejectedEvent[];
}

/**
 * The Segment-compatible collector: `POST /v1/{track,identify,page,screen,group,alias}` (one event,
 * at most 32 KB) and `POST /v1/batch` (`{"batch": [...]}`, at most 500 KB), authenticated with the
 * write key as the HTTP Basic user (scope `events:write`; the tenant comes from the key), gzip
 * bodies accepted. It answers `200 {"success": true}` only once JetStream has stored the events.
 * A batch with some invalid events publishes the valid ones and answers 200 with the refused ones
 * in `rejected` ({index, field, reason}); a request with no valid event is a 400.
 */
export function httpCollector(deps: CollectorDeps): FastifyPluginAsync {
  return async (app) => {
    const principals = new WeakMap<FastifyRequest, Principal>();
    const principalOf = (req: FastifyRequest): Principal => {
      const p = principals.get(req);
      if (p === undefined) throw new PulseError('UNAUTHENTICATED', 'missing authorization: Basic base64(<write key>:)');
      return p;
    };

    app.setErrorHandler((err, req, reply) => {
      const { status, body } = errorResponse(err, req.routeOptions.bodyLimit);
      if (status >= 500) deps.log.error({ err: err instanceof PulseError ? (err.cause ?? err) : err, tenant: principals.get(req)?.tenant, url: req.url }, 'collector request failed');
      void reply.code(status).send(body);
    });

    // Authentication runs before the rate limiter (a route-level hook), so the limit is per key.
    app.addHook('onRequest', (req, _reply, done) => {
      try {
        principals.set(req, deps.keys.authorizeBasic(req.headers.authorization, 'events:write'));
        done();
      } catch (err) {
        done(err as Error);
      }
    });
    await app.register(rateLimit, {
      max: deps.rateLimit,
      timeWindow: 1000,
      keyGenerator: (req) => principalOf(req).keyId,
      errorResponseBuilder: (_req, ctx) =>
        new PulseError('RESOURCE_EXHAUSTED', `more than ${ctx.max} requests per second with this write key; retry in ${ctx.after}`),
    });

    // Segment clients send JSON, some without a content type, some gzipped: one parser for all.
    app.removeAllContentTypeParsers();
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body, done) => {
      decodeBody(req.headers['content-encoding'], body as Buffer, req.routeOptions.bodyLimit ?? MAX_BATCH_BYTES).then(
        (text) => parseJson(req, text, done),
        (err: unknown) => done(err as Error, undefined),
      );
    });

    for (const type of EVENT_TYPES) {
      app.post(`/v1/${type}`, { bodyLimit: MAX_EVENT_BYTES }, async (req) => {
        const principal = principalOf(req);
        if (!isObject(req.body)) throw new PulseError('INVALID_ARGUMENT', 'body: a JSON object (one event) is required', { field: 'body' });
        // The endpoint names the type, as in Segment's HTTP API.
        const { accepted, rejected } = acceptWithinLimits([{ ...req.body, type }], Date.now(), deps.normalize);
        const problem = rejected[0]?.problem;
        if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', problem.reason, { field: problem.field });
        stampProvenance(accepted, principal);
        await deps.publisher.publish(principal.tenant, accepted);
        return { success: true };
      });
    }

    app.post('/v1/batch', { bodyLimit: MAX_BATCH_BYTES }, async (req, reply) => {
      const principal = principalOf(req);
      const body = req.body;
      if (!isObject(body) || !Array.isArray(body['batch'])) throw new PulseError('INVALID_ARGUMENT', 'batch: an array of events is required', { field: 'batch' });
      const items = body['batch'];
      if (items.length === 0) throw new PulseError('INVALID_ARGUMENT', 'batch: empty', { field: 'batch' });
      const shared = body['context'];
      // Segment merges a batch-level context into every event; the event's own keys win.
      const events = isObject(shared) ? items.map((e) => (isObject(e) ? { ...e, context: { ...shared, ...(isObject(e['context']) ? e['context'] : {}) } } : e)) : items;
      const { accepted, rejected } = acceptWithinLimits(events, Date.now(), deps.normalize);
      const refused: RejectedEvent[] = rejected.map((r) => ({ index: r.index, field: r.problem.field, reason: r.problem.reason }));
      const first = refused[0];
      if (accepted.length === 0 && first !== undefined) {
        const error: ErrorBody = {
          error: { code: 'INVALID_ARGUMENT', message: `no valid event in the batch; batch[${first.index}]: ${first.reason}`, field: `batch.${first.index}.${first.field}` },
          rejected: refused,
        };
        return reply.code(httpStatusOf('INVALID_ARGUMENT')).send(error);
      }
      stampProvenance(accepted, principal);
      await deps.publisher.publish(principal.tenant, accepted);
      return refused.length === 0 ? { success: true } : { success: true, rejected: refused };
    });
  };
}

/** The body as text: gzip is decompressed with the route's limit applied to the decompressed size. */
async function decodeBody(encoding: string | undefined, body: Buffer, limit: number): Promise<string> {
  const coding = (encoding ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return body.toString('utf8');
  if (coding !== 'gzip' && coding !== 'x-gzip') {
    throw new PulseError('INVALID_ARGUMENT', `content-encoding: ${JSON.stringify(coding.slice(0, 40))} is not supported (use gzip or none)`, { field: 'content-encoding' });
  }
  try {
    // maxOutputLength stops inflating at the limit, so a gzip bomb costs at most `limit` bytes.
    return (await gunzipAsync(body, { maxOutputLength: limit })).toString('utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    throw new PulseError('INVALID_ARGUMENT', `body: not valid gzip (${(err as Error).message})`, { field: 'body', cause: err });
  }
}

/** Maps any failure to a status and the JSON error body; framework 4xx errors keep their status. */
function errorResponse(err: unknown, bodyLimit: number | undefined): { status: number; body: ErrorBody } {
  if (err instanceof PulseError) {
    return { status: httpStatusOf(err.code), body: { error: { code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) } } };
  }
  const { code, statusCode, message } = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = bodyLimit ?? MAX_BATCH_BYTES;
    return { status: 413, body: { error: { code: 'RESOURCE_EXHAUSTED', message: `body: larger than ${limit} bytes (${limit === MAX_EVENT_BYTES ? 'one event' : 'one batch'})`, field: 'body' } } };
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, body: { error: { code: 'INVALID_ARGUMENT', message: `body: ${typeof message === 'string' ? message : 'unreadable'}`, field: 'body' } } };
  }
  const e = toPulseError(err);
  return { status: httpStatusOf(e.code), body: { error: { code: e.code, message: e.message } } };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
