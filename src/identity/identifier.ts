import { PulseError } from '../errors.ts';

/** Identifier types Pulse knows; partners' user ids are `partner:<name>`. */
export const IDENTIFIER_TYPES = ['user_id', 'anonymous_id', 'email_sha256', 'phone_sha256', 'idfa', 'gaid', 'cookie'] as const;

/** One identifier of a person or device. */
export interface Identifier {
  readonly type: string;
  readonly id: string;
}

const PARTNER_TYPE = /^partner:[a-z0-9][a-z0-9_-]{0,31}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// Printable, no whitespace at the ends and no control characters: ids become parts of Redis keys.
const ID_VALUE = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;

/** Types seen valid (the known ones, then partner types as they come; bounded). */
const validTypes = new Set<string>(IDENTIFIER_TYPES);
const VALID_TYPES_MAX = 4096;

function knownType(type: string): boolean {
  if (validTypes.has(type)) return true;
  if (!PARTNER_TYPE.test(type)) return false;
  if (validTypes.size < VALID_TYPES_MAX) validTypes.add(type);
  return true;
}

/** ID_VALUE, with printable ASCII (most ids) checked without the Unicode regex. */
function validIdValue(id: string): boolean {
  const n = id.length;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || (c === 0x20 && (i === 0 || i === n - 1))) return ID_VALUE.test(id);
  }
  return n > 0 && n <= 256;
}

/** Why an identifier is invalid, or undefined when it is valid. */
export function identifierProblem(idf: { type: string; id: string }): string | undefined {
  if (!knownType(idf.type)) {
    return `unknown identifier type ${JSON.stringify(idf.type)} (known: ${IDENTIFIER_TYPES.join(', ')}, partner:<name>)`;
  }
  if (!validIdValue(idf.id)) return `identifier ${idf.type} must be 1-256 printable characters without surrounding spaces`;
  if ((idf.type === 'email_sha256' || idf.type === 'phone_sha256') && !SHA256_HEX.test(idf.id)) {
    return `${idf.type} must be 64 lowercase hex characters`;
  }
  return undefined;
}

/** Validates identifiers given in a request; INVALID_ARGUMENT names the first bad one. */
export function requireIdentifiers(list: readonly { type: string; id: string }[], field = 'identifiers'): Identifier[] {
  if (list.length === 0) throw new PulseError('INVALID_ARGUMENT', `${field}: at least one identifier is required`, { field });
  if (list.length > 32) throw new PulseError('INVALID_ARGUMENT', `${field}: at most 32 identifiers`, { field });
  return list.map((idf, i) => {
    const problem = identifierProblem(idf);
    if (problem !== undefined) throw new PulseError('INVALID_ARGUMENT', `${field}[${i}]: ${problem}`, { field: `${field}[${i}]` });
    return { type: idf.type, id: idf.id };
  });
}

/** `type:id`, the form identifiers take inside Redis. */
export function identifierKey(idf: Identifier): string {
  return `${idf.type}:${idf.id}`;
}

/** Inverse of identifierKey. */
export function parseIdentifierKey(s: string): Identifier {
  // Partner types contain one colon of their own: `partner:<name>:<id>`.
  const cut = s.startsWith('partner:') ? s.indexOf(':', 'partner:'.length) : s.indexOf(':');
  return { type: s.slice(0, cut), id: s.slice(cut + 1) };
}
