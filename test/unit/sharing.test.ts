import t from 'tap';
import { KeyRing, parseApiKeys } from '../../src/auth/keys.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { PulseError } from '../../src/errors.ts';
import { RateLimiter } from '../../src/infra/grpc-server.ts';
import { DEFAULT_TARGETING_SETTINGS, parseTargetingPolicies, targetingSettingsFor } from '../../src/targeting/settings.ts';
import { checkTaxonomy, noSharing, sharedOnly, sharingAgreement, sharingDiff, shares } from '../../src/targeting/sharing.ts';

const segs = [{ id: 'autos' }, { id: 'sports' }, { id: 'travel' }];

void t.test('agreements are validated, de-duplicated and sorted', async (t) => {
  t.same(sharingAgreement({ partner: 'dsp-a', all: false, segmentIds: ['sports', 'autos', 'sports'] }), { partner: 'dsp-a', all: false, segmentIds: ['autos', 'sports'] });
  t.same(sharingAgreement({ partner: 'dsp-a', all: true, segmentIds: ['sports'] }), { partner: 'dsp-a', all: true, segmentIds: [] }, 'all ignores the list');
  t.throws(() => sharingAgreement({ partner: 'DSP A', all: true, segmentIds: [] }), new PulseError('INVALID_ARGUMENT', 'partner: must match ^[a-z0-9][a-z0-9_-]{0,63}$', { field: 'partner' }));
  t.throws(() => sharingAgreement({ partner: 'dsp', all: false, segmentIds: ['ok', 'Not OK'] }), { code: 'INVALID_ARGUMENT', field: 'segment_ids[1]' });
  t.throws(() => checkTaxonomy('sports', '12 3'), { code: 'INVALID_ARGUMENT', field: 'taxonomy_id' });
  t.throws(() => checkTaxonomy('Sports', '123'), { code: 'INVALID_ARGUMENT', field: 'segment_id' });
  t.doesNotThrow(() => checkTaxonomy('sports', ''), 'an empty taxonomy id removes the mapping');
});

void t.test('an agreement shares its segments; no agreement shares nothing; first-party sees everything', async (t) => {
  const some = sharingAgreement({ partner: 'dsp', all: false, segmentIds: ['sports', 'gone'] });
  t.same(sharedOnly(some, segs), [{ id: 'sports' }]);
  t.same(sharedOnly(sharingAgreement({ partner: 'dsp', all: true, segmentIds: [] }), segs), segs);
  t.same(sharedOnly(noSharing('dsp'), segs), []);
  t.same(sharedOnly(undefined, segs), segs);
  t.equal(shares(some, 'sports'), true);
  t.equal(shares(some, 'autos'), false);
});

void t.test('a change lists what it adds and removes', async (t) => {
  const a = sharingAgreement({ partner: 'dsp', all: false, segmentIds: ['autos', 'sports'] });
  const b = sharingAgreement({ partner: 'dsp', all: false, segmentIds: ['sports', 'travel'] });
  t.same(sharingDiff(a, b), { added: ['travel'], removed: ['autos'] });
  t.same(sharingDiff(b, sharingAgreement({ partner: 'dsp', all: true, segmentIds: [] })), { added: ['*'], removed: ['sports', 'travel'] });
  t.same(sharingDiff(noSharing('dsp'), noSharing('dsp')), { added: [], removed: [] });
});

void t.test('keys carry an optional partner and rate limit', async (t) => {
  const parsed = parseApiKeys(JSON.stringify([
    { key: 'partner-key-000000001', tenant: 'acme', scopes: ['targeting:read', 'outcomes:write'], partner: { id: 'dsp-a', iabVendorId: 123 }, rateLimit: 100 },
    { key: 'first-party-key-00001', tenant: 'acme', scopes: ['inventory:write'] },
  ]));
  t.ok(parsed.ok);
  const ring = new KeyRing(parsed.ok ? parsed.keys : []);
  t.match(ring.authorize('Bearer partner-key-000000001', 'outcomes:write'), { tenant: 'acme', partner: { id: 'dsp-a', iabVendorId: 123 }, rateLimit: 100 });
  t.match(ring.authorize('Bearer first-party-key-00001', 'inventory:write'), { partner: undefined, rateLimit: undefined });
  const bad = parseApiKeys(JSON.stringify([{ key: 'partner-key-000000001', tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'DSP', iabVendorId: 0 }, rateLimit: -1 }]));
  t.same(bad.ok ? [] : bad.problems.map((p) => p.split(':')[0]), ['[0].partner.id', '[0].partner.iabVendorId', '[0].rateLimit'], 'every problem named');
});

void t.test('the rate limiter is a token bucket per key', async (t) => {
  let now = 0;
  const limiter = new RateLimiter(() => now);
  const principal = { tenant: 'acme', scopes: ['targeting:read' as const], keyId: 'k1', partner: undefined, rateLimit: 10, source: undefined };
  for (let i = 0; i < 10; i++) limiter.take(principal);
  t.throws(() => limiter.take(principal), { code: 'RESOURCE_EXHAUSTED' }, 'a burst of one second\'s worth, then refused');
  now += 100;
  t.doesNotThrow(() => limiter.take(principal), '100 ms refill one token');
  t.throws(() => limiter.take(principal), { code: 'RESOURCE_EXHAUSTED' });
  now += 10_000;
  t.throws(() => limiter.take(principal, 11), { code: 'RESOURCE_EXHAUSTED' }, 'never more than the burst');
  t.doesNotThrow(() => limiter.take(principal, 10));
  t.doesNotThrow(() => limiter.take({ ...principal, keyId: 'k2' }, 5), 'another key has its own bucket');
  for (let i = 0; i < 1000; i++) limiter.take({ ...principal, keyId: 'k3', rateLimit: undefined });
  t.pass('a key without a rate limit is never limited');
});

void t.test('gRPC TLS settings are checked together', async (t) => {
  const problems = (env: Record<string, string>): readonly string[] => {
    try {
      loadConfig(env, '/nonexistent');
      return [];
    } catch (err) {
      return err instanceof ConfigError ? err.problems : [String(err)];
    }
  };
  t.match(problems({ PULSE_GRPC_TLS_CERT: '/nonexistent/cert.pem' }), [/PULSE_GRPC_TLS_CERT: not a readable file/, /set both/]);
  t.match(problems({ PULSE_GRPC_TLS_CA: '/etc/hostname' }), [/PULSE_GRPC_TLS_CA: needs PULSE_GRPC_TLS_CERT/]);
  t.match(problems({ PULSE_GRPC_TLS_CERT: '/etc/hostname', PULSE_GRPC_TLS_KEY: '/etc/hostname' }), [/not a usable certificate/]);
  t.equal(loadConfig({}, '/srv').grpcTls, undefined, 'plaintext by default');
  t.equal(loadConfig({ PULSE_NEAR_CACHE_ENTRIES: '0' }, '/srv').nearCacheEntries, 0);
});

void t.test('PULSE_TARGETING sets required purposes, segtax and data name per tenant', async (t) => {
  const parsed = parseTargetingPolicies('{"*": {"segtax": 650}, "acme": {"requiredPurposes": [4, 1, 3, 3], "dataName": "acme.example"}}');
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.same(targetingSettingsFor(parsed.policies, 'acme'), { requiredPurposes: [1, 3, 4], segtax: 650, dataName: 'acme.example' });
  t.same(targetingSettingsFor(parsed.policies, 'globex'), { requiredPurposes: [3, 4], segtax: 650, dataName: 'pulse' });
  const bad = parseTargetingPolicies('{"Bad Tenant": {}, "acme": {"segtax": 4, "requiredPurposes": [12]}}');
  t.match(bad, { ok: false, problems: [/acme\.requiredPurposes\.0/, /acme\.segtax: 4 is IAB Audience Taxonomy/] });
  t.match(parseTargetingPolicies('{"Bad Tenant": {}}'), { ok: false, problems: [/Bad Tenant: keys are/] });
  t.same(loadConfig({}, '/srv').targeting.defaults, DEFAULT_TARGETING_SETTINGS);
  t.throws(() => loadConfig({ PULSE_TARGETING: '{"acme": {"segtax": 0}}' }, '/srv'), /PULSE_TARGETING: acme\.segtax/);
});
