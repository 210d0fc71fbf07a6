import t from 'tap';
import { KeyRing, generateKey, parseApiKeys } from '../../src/auth/keys.ts';
import { PulseError } from '../../src/errors.ts';

const ring = new KeyRing([
  { key: 'admin-key-0123456789', tenant: 'acme', scopes: ['*'] },
  { key: 'bidder-key-0123456789', tenant: 'acme', scopes: ['targeting:read'] },
  { key: 'other-tenant-key-0123', tenant: 'globex', scopes: ['*'] },
]);

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof PulseError ? err.code : 'not a PulseError';
  }
}

void t.test('the tenant comes from the key', async (t) => {
  t.equal(ring.authorize('Bearer admin-key-0123456789', 'segments:write').tenant, 'acme');
  t.equal(ring.authorize('Bearer other-tenant-key-0123', 'targeting:read').tenant, 'globex');
  t.equal(ring.authorize('bearer   bidder-key-0123456789', 'targeting:read').tenant, 'acme', 'scheme is case-insensitive');
});

void t.test('missing, malformed and unknown keys are UNAUTHENTICATED', async (t) => {
  t.equal(code(() => ring.authorize(undefined, 'targeting:read')), 'UNAUTHENTICATED');
  t.equal(code(() => ring.authorize('', 'targeting:read')), 'UNAUTHENTICATED');
  t.equal(code(() => ring.authorize('Basic abc', 'targeting:read')), 'UNAUTHENTICATED');
  t.equal(code(() => ring.authorize('Bearer nope', 'targeting:read')), 'UNAUTHENTICATED');
});

void t.test('a key without the scope is PERMISSION_DENIED', async (t) => {
  t.equal(code(() => ring.authorize('Bearer bidder-key-0123456789', 'segments:write')), 'PERMISSION_DENIED');
});

void t.test('parseApiKeys names each problem', async (t) => {
  const r = parseApiKeys('[{"key":"0123456789abcdef","tenant":"a","scopes":["*"]},{"key":"0123456789abcdef","tenant":"b","scopes":["*"]}]');
  t.same(r, { ok: false, problems: ['[1].key: duplicate key'] });
  const bad = parseApiKeys('{');
  t.equal(bad.ok, false);
  t.match(JSON.stringify(bad), /not valid JSON/);
  const extra = parseApiKeys('[{"key":"0123456789abcdef","tenant":"a","scopes":["*"],"role":"x"}]');
  t.equal(extra.ok, false, 'unknown fields are refused');
});

void t.test('generated keys are long and distinct', async (t) => {
  const a = generateKey();
  t.ok(a.length >= 40);
  t.not(a, generateKey());
});
