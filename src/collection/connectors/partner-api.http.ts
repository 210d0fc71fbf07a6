import { setTimeout as sleepFor } from 'node:timers/promises';
import { z } from 'zod';
import { PulseError } from '../../errors.ts';
import type { Logger } from '../../infra/log.ts';
import {
  backoffMs, firstPosition, getPath, isRetryableStatus, nextPosition, pageParams, retryAfterMs,
  type ApiSource, type PagePosition,
} from './model.ts';

/** What the API client needs from its surroundings; clocks and randomness are injectable. */
export interface PartnerApiDeps {
  readonly log: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** One retried call, as reported to the observer (for status and logs). */
export interface RetryNotice {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

const tokenSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/)]).optional(),
});

interface Reply {
  readonly status: number;
  readonly text: string;
}

/**
 * A client of one partner's HTTP JSON API: global fetch with a timeout per attempt, retries
 * with exponential backoff and full jitter on network errors, 408, 429 and 5xx, Retry-After
 * honoured (seconds or HTTP-date), and the auth the source names. OAuth2 client-credentials
 * tokens are cached until they expire and fetched again once when the API answers 401.
 * Errors are PulseErrors whose message names the host and path, never the query or secrets.
 */
export class PartnerApi {
  readonly #source: ApiSource;
  readonly #deps: Required<PartnerApiDeps>;
  #token: { value: string; expiresAt: number } | undefined;
  /** Retries made since the client was created (every call, the token endpoint included). */
  retries = 0;
  onRetry: ((notice: RetryNotice) => void) | undefined;

  constructor(source: ApiSource, deps: PartnerApiDeps) {
    this.#source = source;
    this.#deps = {
      log: deps.log,
      now: deps.now ?? Date.now,
      random: deps.random ?? Math.random,
      sleep: deps.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal })),
    };
  }

  /** GETs (or POSTs) the source's URL with its query plus `params` and returns the JSON body. */
  async fetchJson(params: Readonly<Record<string, string>>, signal: AbortSignal): Promise<unknown> {
    const { request, auth } = this.#source;
    const url = new URL(request.url);
    for (const [k, v] of Object.entries({ ...request.query, ...params })) url.searchParams.set(k, v);
    const what = `${request.method} ${url.host}${url.pathname}`;
    for (let refreshed = false; ; refreshed = true) {
      const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
      if (auth.type === 'bearer') headers['authorization'] = `Bearer ${auth.token}`;
      else if (auth.type === 'basic') headers['authorization'] = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      else if (auth.type === 'oauth2_client_credentials') headers['authorization'] = `Bearer ${await this.#accessToken(signal)}`;
      if (request.body !== undefined) headers['content-type'] = 'application/json';
      const reply = await this.#call(what, url, {
        method: request.method, headers, ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      }, signal);
      // A token can be revoked or expire early: fetch a new one, once, before giving up.
      if (reply.status === 401 && auth.type === 'oauth2_client_credentials' && !refreshed) {
        this.#token = undefined;
        this.#deps.log.info({ connector: this.#source.id }, 'partner API answered 401; fetching a new OAuth2 token');
        continue;
      }
      if (reply.status < 200 || reply.status > 299) throw statusError(what, reply.status);
      try {
        return JSON.parse(reply.text) as unknown;
      } catch {
        throw new PulseError('FAILED_PRECONDITION', `${what}: the answer is not JSON`);
      }
    }
  }

  async #accessToken(signal: AbortSignal): Promise<string> {
    const auth = this.#source.auth;
    if (auth.type !== 'oauth2_client_credentials') throw new Error('not an OAuth2 source');
    if (this.#token !== undefined && this.#deps.now() < this.#token.expiresAt) return this.#token.value;
    const url = new URL(auth.tokenUrl);
    const what = `token endpoint ${url.host}${url.pathname}`;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope !== undefined) form.set('scope', auth.scope);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (auth.clientAuth === 'basic') {
      // RFC 6749 2.3.1: the id and secret are form-encoded before they are joined.
      const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`;
      headers['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      form.set('client_id', auth.clientId);
      form.set('client_secret', auth.clientSecret);
    }
    const reply = await this.#call(what, url, { method: 'POST', headers, body: form.toString() }, signal);
    if (reply.status === 400 || reply.status === 401) throw new PulseError('UNAUTHENTICATED', `${what} refused the client credentials (HTTP ${reply.status})`);
    if (reply.status < 200 || reply.status > 299) throw statusError(what, reply.status);
    let token: z.output<typeof tokenSchema>;
    try {
      token = tokenSchema.parse(JSON.parse(reply.text));
    } catch {
      throw new PulseError('FAILED_PRECONDITION', `${what}: the answer has no access_token`);
    }
    if (token.token_type !== undefined && token.token_type.toLowerCase() !== 'bearer') {
      throw new PulseError('FAILED_PRECONDITION', `${what}: token type ${JSON.stringify(token.token_type)} is not supported (bearer only)`);
    }
    // Renew a little early so a token does not expire between the check and the call.
    const lifetimeMs = token.expires_in === undefined ? Number.POSITIVE_INFINITY : Number(token.expires_in) * 1000;
    this.#token = { value: token.access_token, expiresAt: this.#deps.now() + lifetimeMs - Math.min(30_000, lifetimeMs / 10) };
    return token.access_token;
  }

  /** One logical call with its retries; answers other than 408/429/5xx are returned as they are. */
  async #call(what: string, url: URL, init: RequestInit, signal: AbortSignal): Promise<Reply> {
    const policy = this.#source.retry;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let retryAfter: string | null = null;
      try {
        const res = await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.any([signal, AbortSignal.timeout(this.#source.request.timeoutMs)]) });
        if (!isRetryableStatus(res.status)) return { status: res.status, text: await res.text() };
        await res.body?.cancel();
        reason = `HTTP ${res.status}`;
        retryAfter = res.headers.get('retry-after');
      } catch (err) {
        if (signal.aborted) throw new PulseError('UNAVAILABLE', `${what}: stopped`, { cause: err });
        reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.#source.request.timeoutMs} ms` : `network error (${networkCode(err)})`;
      }
      if (attempt >= policy.maxAttempts) throw new PulseError('UNAVAILABLE', `${what}: ${reason} after ${attempt} attempt${attempt === 1 ? '' : 's'}`);
      let delayMs = backoffMs(attempt, policy, this.#deps.random);
      const asked = retryAfterMs(retryAfter, this.#deps.now());
      if (asked !== undefined) {
        if (asked > policy.maxRetryAfterMs) throw new PulseError('UNAVAILABLE', `${what}: ${reason}, asked to retry after ${Math.ceil(asked / 1000)} s (more than the ${policy.maxRetryAfterMs / 1000} s allowed)`);
        delayMs = asked;
      }
      this.retries++;
      this.onRetry?.({ attempt, delayMs, reason });
      this.#deps.log.warn({ connector: this.#source.id, call: what, attempt, delayMs, reason }, 'partner API call failed; retrying');
      try {
        await this.#deps.sleep(delayMs, signal);
      } catch (err) {
        throw new PulseError('UNAVAILABLE', `${what}: stopped`, { cause: err });
      }
    }
  }
}

function statusError(what: string, status: number): PulseError {
  if (status === 401) return new PulseError('UNAUTHENTICATED', `${what}: HTTP 401 (check the connector's credentials)`);
  if (status === 403) return new PulseError('PERMISSION_DENIED', `${what}: HTTP 403`);
  if (status === 404) return new PulseError('NOT_FOUND', `${what}: HTTP 404`);
  return new PulseError('FAILED_PRECONDITION', `${what}: HTTP ${status}`);
}

function networkCode(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : err instanceof Error ? err.message : 'unknown';
}

/** One page of a listing: its records, where it was, and where the next one is (if any). */
export interface Page {
  readonly records: readonly unknown[];
  readonly position: PagePosition;
  readonly next: PagePosition;
}

/**
 * Walks a paginated listing from `start` (a resumed position, or the first page), adding
 * `extra` parameters (e.g. the incremental `updated_since`) to every request. Stops after the
 * last page; the caller stops earlier by not pulling further.
 */
export async function* listPages(api: PartnerApi, source: Pick<ApiSource, 'pagination' | 'recordsPath'>, start: PagePosition | undefined, extra: Readonly<Record<string, string>>, signal: AbortSignal): AsyncGenerator<Page> {
  let position = start ?? firstPosition(source.pagination);
  for (;;) {
    const body = await api.fetchJson({ ...extra, ...pageParams(source.pagination, position) }, signal);
    const records = getPath(body, source.recordsPath);
    if (!Array.isArray(records)) {
      throw new PulseError('FAILED_PRECONDITION', `recordsPath ${JSON.stringify(source.recordsPath)} is not a list in the answer`);
    }
    const next = nextPosition(source.pagination, position, body, records.length);
    yield { records, position, next };
    if (next === undefined) return;
    position = next;
  }
}
