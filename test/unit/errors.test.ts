import t from 'tap';
import { status } from '@grpc/grpc-js';
import { PulseError, grpcStatusOf, httpStatusOf, toPulseError, type ErrorCode } from '../../src/errors.ts';

// `satisfies` makes this table exhaustive: a new ErrorCode does not compile until it is listed here.
const EXPECTED = {
  INVALID_ARGUMENT: { grpc: status.INVALID_ARGUMENT, http: 400 },
  NOT_FOUND: { grpc: status.NOT_FOUND, http: 404 },
  ALREADY_EXISTS: { grpc: status.ALREADY_EXISTS, http: 409 },
  UNAUTHENTICATED: { grpc: status.UNAUTHENTICATED, http: 401 },
  PERMISSION_DENIED: { grpc: status.PERMISSION_DENIED, http: 403 },
  RESOURCE_EXHAUSTED: { grpc: status.RESOURCE_EXHAUSTED, http: 429 },
  FAILED_PRECONDITION: { grpc: status.FAILED_PRECONDITION, http: 412 },
  UNAVAILABLE: { grpc: status.UNAVAILABLE, http: 503 },
  INTERNAL: { grpc: status.INTERNAL, http: 500 },
} satisfies Record<ErrorCode, { grpc: status; http: number }>;
const CODES = Object.keys(EXPECTED) as ErrorCode[];

void t.test('every code maps to the expected gRPC and HTTP status', async (t) => {
  for (const code of CODES) {
    t.equal(grpcStatusOf(code), EXPECTED[code].grpc, `${code} gRPC`);
    t.equal(status[grpcStatusOf(code)], code, `${code}: the gRPC status has the same name`);
    t.equal(httpStatusOf(code), EXPECTED[code].http, `${code} HTTP`);
  }
});

void t.test('gRPC statuses are distinct and none is OK', async (t) => {
  const grpc = CODES.map(grpcStatusOf);
  t.equal(new Set(grpc).size, CODES.length);
  t.notOk(grpc.includes(status.OK));
  t.notOk(grpc.includes(status.UNKNOWN), 'INTERNAL, not UNKNOWN, for our own failures');
});

void t.test('HTTP statuses are client or server errors', async (t) => {
  for (const code of CODES) {
    const h = httpStatusOf(code);
    t.ok(h >= 400 && h < 600, `${code} → ${h}`);
  }
  t.equal(new Set(CODES.map(httpStatusOf)).size, CODES.length, 'distinct as well');
});

void t.test('PulseError carries code, field and cause', async (t) => {
  const cause = new Error('boom');
  const e = new PulseError('NOT_FOUND', 'segment x not found', { field: 'id', cause });
  t.ok(e instanceof Error);
  t.equal(e.name, 'PulseError');
  t.equal(e.code, 'NOT_FOUND');
  t.equal(e.message, 'segment x not found');
  t.equal(e.field, 'id');
  t.equal(e.cause, cause);
  const bare = new PulseError('INTERNAL', 'x');
  t.equal(bare.field, undefined);
  t.notOk('cause' in bare, 'no cause property when none is given');
});

void t.test('toPulseError keeps PulseErrors and hides everything else as INTERNAL', async (t) => {
  const mine = new PulseError('UNAVAILABLE', 'redis down');
  t.equal(toPulseError(mine), mine, 'the same instance');
  const secret = new Error('ECONNREFUSED 10.0.0.5:6379 password=hunter2');
  const wrapped = toPulseError(secret);
  t.ok(wrapped instanceof PulseError);
  t.equal(wrapped.code, 'INTERNAL');
  t.equal(wrapped.message, 'internal error', 'the original message is not exposed');
  t.equal(wrapped.cause, secret, 'but kept as the cause for the log');
  t.equal(wrapped.field, undefined);
  for (const thrown of ['a string', 42, null, { code: 'NOT_FOUND' }]) {
    const w = toPulseError(thrown);
    t.equal(w.code, 'INTERNAL', JSON.stringify(thrown));
    t.equal(w.cause, thrown);
  }
});
