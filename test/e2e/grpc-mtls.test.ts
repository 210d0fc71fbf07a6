import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { tempDir } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const certs = tempDir('pulse-certs-');
const KEY = 'mtls-partner-key-000000001';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: certs.path, stdio: 'pipe' });
}

/** A CA, and a certificate it signs for `name` (with the SAN given). */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`);
}
function makeCert(name: string, ca: string, san: string): void {
  writeFileSync(join(certs.path, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}
const file = (name: string): Buffer => readFileSync(join(certs.path, name));

t.before(() => {
  makeCa('ca');
  makeCa('rogue-ca');
  makeCert('server', 'ca', 'DNS:localhost,IP:127.0.0.1');
  makeCert('client', 'ca', 'DNS:dsp.example');
  makeCert('rogue', 'rogue-ca', 'DNS:rogue.example');
});
t.teardown(() => certs.remove());

const e2e = startE2e(t, {
  prefix: 'mtls',
  keys: [{ key: KEY, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp', iabVendorId: 123 } }],
  env: { PULSE_GRPC_TLS_CERT: join(certs.path, 'server.pem'), PULSE_GRPC_TLS_KEY: join(certs.path, 'server.key'), PULSE_GRPC_TLS_CA: join(certs.path, 'ca.pem') },
});

function getAudience(credentials: grpc.ChannelCredentials): Promise<{ profileId: string }> {
  const client = new (loadPulseGrpc().pulse.v1.TargetingService)(`127.0.0.1:${e2e.pulse.grpcPort}`, credentials);
  return new Promise<{ profileId: string }>((resolve, reject) => {
    client.GetAudience({ identifiers: [{ type: 'user_id', id: 'nobody' }] }, bearer(KEY), { deadline: Date.now() + 5_000 }, (err, res) => {
      client.close();
      if (err !== null || res === undefined) reject(err ?? new Error('no response'));
      else resolve(res);
    });
  });
}

void t.test('with PULSE_GRPC_TLS_CA, only clients holding a certificate the CA signed get through', async (t) => {
  const ca = file('ca.pem');
  const ok = await getAudience(grpc.credentials.createSsl(ca, file('client.key'), file('client.pem')));
  t.equal(ok.profileId, '', 'a client certificate signed by the CA: the call is served');
  await t.rejects(getAudience(grpc.credentials.createSsl(ca)), { code: grpc.status.UNAVAILABLE }, 'TLS without a client certificate is refused');
  await t.rejects(getAudience(grpc.credentials.createSsl(ca, file('rogue.key'), file('rogue.pem'))), { code: grpc.status.UNAVAILABLE }, 'a certificate from another CA is refused');
  await t.rejects(getAudience(grpc.credentials.createInsecure()), { code: grpc.status.UNAVAILABLE }, 'plaintext is refused');
});

void t.test('the CLI reaches the instance over the same mutual TLS', async (t) => {
  const r = await e2e.cli(['lookup', '--type', 'user_id', '--id', 'nobody']);
  t.equal(r.code, 0, `pulse lookup over mutual TLS: ${r.stderr}`);
  t.same(JSON.parse(r.stdout), { profileId: '', segments: [] }, 'the answer of the instance');
});
