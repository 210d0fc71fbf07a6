import t from 'tap';
import { KeyRing } from '../../src/auth/keys.ts';
import { PulseError } from '../../src/errors.ts';

const ring = new KeyRing([
  { key: 'write-key-0000000000001', tenant: 'acme', scopes: ['events:write'] },
  { key: 'reader-key-000000000001', tenant: 'acme', scopes: ['profiles:read'] },
]);
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

function codeOf(header: string | undefined): string | undefined {
  try {
    ring.authorizeBasic(header, 'events:write');
    return undefined;
  } catch (err) {
    return err instanceof PulseError ? err.code : 'not a PulseError';
  }
}

void t.test('the write key is the Basic user; the password is ignored', async (t) => {
  t.equal(ring.authorizeBasic(basic('write-key-0000000000001:'), 'events:write').tenant, 'acme');
  t.equal(ring.authorizeBasic(basic('write-key-0000000000001:anything'), 'events:write').tenant, 'acme');
  t.equal(ring.authorizeBasic(basic('write-key-0000000000001'), 'events:write').tenant, 'acme', 'no colon at all');
  t.equal(ring.authorizeBasic(`basic  ${Buffer.from('write-key-0000000000001:').toString('base64')}`, 'events:write').tenant, 'acme', 'scheme in any case');
  t.match(ring.authorizeBasic(basic('write-key-0000000000001:'), 'events:write').keyId, /^[0-9a-f]{12}$/);
});

void t.test('UNAUTHENTICATED for a missing, malformed or unknown key; PERMISSION_DENIED without the scope', async (t) => {
  t.equal(codeOf(undefined), 'UNAUTHENTICATED');
  t.equal(codeOf(''), 'UNAUTHENTICATED');
  t.equal(codeOf('Bearer write-key-0000000000001'), 'UNAUTHENTICATED', 'a bearer header is not Basic');
  t.equal(codeOf('Basic !!!'), 'UNAUTHENTICATED');
  t.equal(codeOf(basic(':write-key-0000000000001')), 'UNAUTHENTICATED', 'the key as password is not accepted');
  t.equal(codeOf(basic('unknown-key-00000000001:')), 'UNAUTHENTICATED');
  t.equal(codeOf(basic('reader-key-000000000001:')), 'PERMISSION_DENIED');
});
