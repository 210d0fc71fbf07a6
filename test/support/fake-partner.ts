import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake partner saw, with what it answered. */
export interface SeenRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly status: number;
}

/** A scripted failure: the next `times` requests matching `path` (and `when`) get this answer. */
export interface Fault {
  readonly path: string;
  readonly status: number;
  times: number;
  readonly headers?: Record<string, string> | (() => Record<string, string>);
  readonly when?: (query: URLSearchParams) => boolean;
}

/**
 * A partner's HTTP JSON API on a loopback port, as connectors meet them in the wild: an OAuth2
 * client-credentials token endpoint, a cursor-paginated listing behind bearer tokens, a
 * page-numbered one behind HTTP Basic, and an offset one (records at the root) behind a static
 * token. All listings filter by `updated_since` (strictly later) and order by `updated_at`.
 * Scripted faults answer 5xx, 429 and Retry-After; every request is recorded with its time.
 */
export class FakePartner {
  static readonly CLIENT_ID = 'pulse-client';
  static readonly CLIENT_SECRET = 'pulse secret/+=';
  static readonly BASIC = { username: 'pulse', password: 'pw' };
  static readonly STATIC_TOKEN = 'static-token-123';

  readonly requests: SeenRequest[] = [];
  readonly faults: Fault[] = [];
  records: Record<string, unknown>[] = [];
  tokenCalls = 0;
  #tokens = new Set<string>();
  #server: Server;
  #pageSize: number;
  /** Called after each listing page is served (e.g. to revoke tokens mid-run). */
  afterPage: ((path: string, query: URLSearchParams) => void) | undefined;

  private constructor(server: Server, pageSize: number) {
    this.#server = server;
    this.#pageSize = pageSize;
  }

  /** Starts the fake on a free loopback port. */
  static async start(pageSize = 3): Promise<FakePartner> {
    const holder: { fake?: FakePartner } = {};
    const server = createServer((req, res) => {
      holder.fake?.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    const fake = new FakePartner(server, pageSize);
    holder.fake = fake;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests to one path, in order. */
  seen(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  revokeTokens(): void {
    this.#tokens.clear();
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readBody(req);
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ at: Date.now(), method: req.method ?? '', path: url.pathname, query: url.searchParams, status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    if (url.pathname === '/oauth/token') {
      this.tokenCalls++;
      const form = new URLSearchParams(body);
      const expected = `Basic ${Buffer.from(`${encodeURIComponent(FakePartner.CLIENT_ID)}:${encodeURIComponent(FakePartner.CLIENT_SECRET)}`).toString('base64')}`;
      if (req.method !== 'POST' || form.get('grant_type') !== 'client_credentials' || req.headers.authorization !== expected) {
        answer(401, { error: 'invalid_client' });
        return;
      }
      const token = `tok-${this.tokenCalls}`;
      this.#tokens.add(token);
      answer(200, { access_token: token, token_type: 'Bearer', expires_in: 3600, scope: form.get('scope') });
      return;
    }
    const authorized = url.pathname.startsWith('/cursor/') ? this.#tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''))
      : url.pathname.startsWith('/page/') ? req.headers.authorization === `Basic ${Buffer.from(`${FakePartner.BASIC.username}:${FakePartner.BASIC.password}`).toString('base64')}`
        : url.pathname.startsWith('/offset/') ? req.headers.authorization === `Bearer ${FakePartner.STATIC_TOKEN}` : false;
    if (!authorized) {
      answer(401, { error: 'unauthorized' });
      return;
    }
    const fault = this.faults.find((f) => f.times > 0 && f.path === url.pathname && (f.when?.(url.searchParams) ?? true));
    if (fault !== undefined) {
      fault.times--;
      answer(fault.status, { error: 'scripted fault' }, typeof fault.headers === 'function' ? fault.headers() : fault.headers ?? {});
      return;
    }
    const since = url.searchParams.get('updated_since');
    const matching = this.records.filter((r) => since === null || Date.parse(String(r['updated_at'])) > Date.parse(since))
      .sort((a, b) => Date.parse(String(a['updated_at'])) - Date.parse(String(b['updated_at'])));
    if (url.pathname === '/cursor/users') {
      const from = Number((url.searchParams.get('cursor') ?? 'c0').slice(1));
      const data = matching.slice(from, from + this.#pageSize);
      const next = from + this.#pageSize < matching.length ? `c${from + this.#pageSize}` : null;
      answer(200, { data, meta: { next_cursor: next } });
    } else if (url.pathname === '/page/users') {
      const size = Number(url.searchParams.get('per_page') ?? this.#pageSize);
      const page = Number(url.searchParams.get('page') ?? '1');
      answer(200, { items: matching.slice((page - 1) * size, page * size), page });
    } else if (url.pathname === '/offset/users') {
      const offset = Number(url.searchParams.get('offset') ?? '0');
      const limit = Number(url.searchParams.get('limit') ?? this.#pageSize);
      answer(200, matching.slice(offset, offset + limit));
    } else {
      answer(404, { error: 'no such path' });
      return;
    }
    this.afterPage?.(url.pathname, url.searchParams);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
