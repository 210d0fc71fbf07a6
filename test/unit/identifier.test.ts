import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { IDENTIFIER_TYPES, identifierKey, identifierProblem, parseIdentifierKey, requireIdentifiers } from '../../src/identity/identifier.ts';

const HEX = '0123456789abcdef'.repeat(4);

void t.test('every known type and partner types are accepted', async (t) => {
  for (const type of IDENTIFIER_TYPES) {
    const id = type.endsWith('_sha256') ? HEX : 'abc-123';
    t.equal(identifierProblem({ type, id }), undefined, type);
  }
  for (const type of ['partner:acme', 'partner:0', 'partner:dv360_x-1', `partner:${'p'.repeat(32)}`]) {
    t.equal(identifierProblem({ type, id: 'x' }), undefined, type);
  }
});

void t.test('unknown types are named with the known list', async (t) => {
  const msg = identifierProblem({ type: 'fax', id: '1' });
  t.equal(msg, 'unknown identifier type "fax" (known: user_id, anonymous_id, email_sha256, phone_sha256, idfa, gaid, cookie, partner:<name>)');
  for (const type of ['', 'USER_ID', 'partner:', 'partner:Acme', 'partner:-x', 'partner:a:b', `partner:${'p'.repeat(33)}`, 'partner', ' user_id']) {
    t.match(identifierProblem({ type, id: 'x' }), /^unknown identifier type /, JSON.stringify(type));
  }
});

void t.test('id values: 1-256 printable characters, no spaces at the ends', async (t) => {
  const msg = 'identifier cookie must be 1-256 printable characters without surrounding spaces';
  for (const id of ['', ' ', ' a', 'a ', '\ta', 'a\n', 'a\u0000b', 'a\u007fb', 'a\nb', 'x'.repeat(257)]) {
    t.equal(identifierProblem({ type: 'cookie', id }), msg, JSON.stringify(id));
  }
  for (const id of ['a', 'a b', 'a:b:c', 'x'.repeat(256), 'café', '名前']) {
    t.equal(identifierProblem({ type: 'cookie', id }), undefined, JSON.stringify(id));
  }
});

void t.test('hashed PII must be 64 lowercase hex characters', async (t) => {
  t.equal(identifierProblem({ type: 'email_sha256', id: HEX.toUpperCase() }), 'email_sha256 must be 64 lowercase hex characters');
  t.equal(identifierProblem({ type: 'phone_sha256', id: HEX.slice(1) }), 'phone_sha256 must be 64 lowercase hex characters');
  t.equal(identifierProblem({ type: 'email_sha256', id: 'a@example.com' }), 'email_sha256 must be 64 lowercase hex characters');
  t.equal(identifierProblem({ type: 'email_sha256', id: `${HEX}0` }), 'email_sha256 must be 64 lowercase hex characters');
  t.equal(identifierProblem({ type: 'idfa', id: HEX.toUpperCase() }), undefined, 'other types are not hex-checked');
});

function failure(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof PulseError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a PulseError');
}

void t.test('requireIdentifiers returns clean copies', async (t) => {
  const input = [{ type: 'user_id', id: 'u1', extra: 'x' }, { type: 'partner:acme', id: 'p:1' }];
  const out = requireIdentifiers(input);
  t.same(out, [{ type: 'user_id', id: 'u1' }, { type: 'partner:acme', id: 'p:1' }]);
  t.notOk('extra' in (out[0] ?? {}), 'extra fields are dropped');
  t.equal(requireIdentifiers(Array.from({ length: 32 }, (_, i) => ({ type: 'cookie', id: `c${i}` }))).length, 32);
});

void t.test('requireIdentifiers names the first bad identifier', async (t) => {
  const err = failure(() => requireIdentifiers([{ type: 'user_id', id: 'u1' }, { type: 'fax', id: '1' }, { type: 'cookie', id: '' }]));
  t.equal(err.code, 'INVALID_ARGUMENT');
  t.equal(err.field, 'identifiers[1]');
  t.match(err.message, /^identifiers\[1\]: unknown identifier type "fax"/);
  t.same(failure(() => requireIdentifiers([{ type: 'email_sha256', id: 'nope' }], 'lookup.ids')),
    { code: 'INVALID_ARGUMENT', field: 'lookup.ids[0]', message: 'lookup.ids[0]: email_sha256 must be 64 lowercase hex characters' });
});

void t.test('requireIdentifiers wants 1 to 32 identifiers', async (t) => {
  t.same(failure(() => requireIdentifiers([])), { code: 'INVALID_ARGUMENT', field: 'identifiers', message: 'identifiers: at least one identifier is required' });
  const many = Array.from({ length: 33 }, (_, i) => ({ type: 'cookie', id: `c${i}` }));
  t.same(failure(() => requireIdentifiers(many, 'ids')), { code: 'INVALID_ARGUMENT', field: 'ids', message: 'ids: at most 32 identifiers' });
});

void t.test('identifierKey and parseIdentifierKey round-trip', async (t) => {
  const cases = [
    { type: 'user_id', id: 'u1' },
    { type: 'user_id', id: 'a:b:c' },
    { type: 'email_sha256', id: HEX },
    { type: 'cookie', id: 'partner:lookalike' },
    { type: 'partner:acme', id: 'p1' },
    { type: 'partner:acme', id: 'x:y:z' },
    { type: 'partner:dv360_x-1', id: 'partner:nested' },
  ];
  for (const idf of cases) {
    const key = identifierKey(idf);
    t.equal(key, `${idf.type}:${idf.id}`);
    t.same(parseIdentifierKey(key), idf, key);
  }
});

void t.test('id values: the ASCII fast path answers what the printable-characters rule answers', async (t) => {
  // The rule as documented: 1-256 code points, no control characters, no whitespace at the ends.
  const RULE = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,254}[^\s\p{Cc}])?$/u;
  const pieces = ['a', 'Z', '9', ' ', '\t', '\n', '\u0000', '\u007f', '\u00a0', 'é', '🎉', '\u2028', '-', '{', '}', ':'];
  let seed = 7;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const cases = ['', ' ', 'a', ' a', 'a ', 'a b', 'x'.repeat(256), 'x'.repeat(257), '🎉'.repeat(256), '🎉'.repeat(257), `a${'\t'}b`, 'a\u00a0'];
  for (let n = 0; n < 3000; n++) {
    let s = '';
    for (let k = Math.floor(next() * 6); k > 0; k--) s += pieces[Math.floor(next() * pieces.length)] ?? '';
    cases.push(s);
  }
  const wrong = cases.filter((id) => (identifierProblem({ type: 'cookie', id }) === undefined) !== RULE.test(id));
  t.strictSame(wrong, [], `${cases.length} ids`);
});
