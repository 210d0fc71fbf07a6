import { status as GrpcStatus } from '@grpc/grpc-js';

/** The closed set of error codes Pulse reports; every code maps to one gRPC and one HTTP status. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/**
 * The one error type of Pulse. `message` is safe to send to a caller; `cause` is logged only.
 * `field` names the offending input field when there is one.
 */
export class PulseError extends Error {
  override readonly name = 'PulseError';
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** gRPC status for each code (exhaustive: a new code does not compile until it is mapped). */
export function grpcStatusOf(code: ErrorCode): GrpcStatus {
  switch (code) {
    case 'INVALID_ARGUMENT': return GrpcStatus.INVALID_ARGUMENT;
    case 'NOT_FOUND': return GrpcStatus.NOT_FOUND;
    case 'ALREADY_EXISTS': return GrpcStatus.ALREADY_EXISTS;
    case 'UNAUTHENTICATED': return GrpcStatus.UNAUTHENTICATED;
    case 'PERMISSION_DENIED': return GrpcStatus.PERMISSION_DENIED;
    case 'RESOURCE_EXHAUSTED': return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'FAILED_PRECONDITION': return GrpcStatus.FAILED_PRECONDITION;
    case 'UNAVAILABLE': return GrpcStatus.UNAVAILABLE;
    case 'INTERNAL': return GrpcStatus.INTERNAL;
  }
}

/** HTTP status for each code (exhaustive). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT': return 400;
    case 'NOT_FOUND': return 404;
    case 'ALREADY_EXISTS': return 409;
    case 'UNAUTHENTICATED': return 401;
    case 'PERMISSION_DENIED': return 403;
    case 'RESOURCE_EXHAUSTED': return 429;
    case 'FAILED_PRECONDITION': return 412;
    case 'UNAVAILABLE': return 503;
    case 'INTERNAL': return 500;
  }
}

/** Any thrown value as a PulseError; unknown failures become INTERNAL with the original as cause. */
export function toPulseError(err: unknown): PulseError {
  if (err instanceof PulseError) return err;
  return new PulseError('INTERNAL', 'internal error', { cause: err });
}
