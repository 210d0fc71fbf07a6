import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import {
  bucketKeys, bucketOf, fnv1a32, frequencySuffix, identifierTag, PROFILE_ID_PATTERN, profileIdFor, profileKeys, tenantKeys, tenantPrefix, tenantsKey,
} from '../../src/profiles/keys.ts';

// The hash slot Redis Cluster gives a key (the package ioredis routes with).
const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

const PID = '0b8f2a4e-7c1d-4e2a-9f3b-5d6c7e8f9a0b';
const SLOTS = 16384;

void t.test('v1: every builder gives the key the adapters and scripts used before', async (t) => {
  const k = tenantKeys('pulse', 'acme');
  const p = k.profile(PID);
  t.equal(tenantPrefix('pulse', 'acme'), 'pulse:{acme}:');
  t.equal(tenantsKey('pulse'), 'pulse:tenants');
  t.same({
    prefix: k.prefix, profilePrefix: p.prefix, hash: p.hash, ids: p.ids, traits: p.traits, tord: p.tord, counts: p.counts, computed: p.computed,
    ftotals: p.ftotals, fkeys: p.fkeys, segs: p.segs, nomerge: p.nomerge, fckeys: p.fckeys, feature: p.feature('3f2a9c1d0e4b5a6f'),
  }, {
    prefix: 'pulse:{acme}:', profilePrefix: 'pulse:{acme}:', hash: `pulse:{acme}:p:${PID}`, ids: `pulse:{acme}:p:${PID}:ids`,
    traits: `pulse:{acme}:p:${PID}:traits`, tord: `pulse:{acme}:p:${PID}:tord`, counts: `pulse:{acme}:p:${PID}:counts`,
    computed: `pulse:{acme}:p:${PID}:computed`, ftotals: `pulse:{acme}:p:${PID}:ftotals`, fkeys: `pulse:{acme}:p:${PID}:fkeys`,
    segs: `pulse:{acme}:p:${PID}:segs`, nomerge: `pulse:{acme}:p:${PID}:nomerge`, fckeys: `pulse:{acme}:p:${PID}:fckeys`,
    feature: `pulse:{acme}:p:${PID}:f:3f2a9c1d0e4b5a6f`,
  });
  t.equal(k.profile('p1').segs, 'pulse:{acme}:p:p1:segs', 'v1 takes the profile ids Redis holds as they are');
  t.same({
    identifier: k.identifier({ type: 'user_id', id: 'u-1' }),
    partnerIdentifier: k.identifier({ type: 'partner:dsp', id: 'x:{y}' }),
    sync: k.sync('dsp-a', { type: 'anonymous_id', id: 'a-1' }),
    push: k.push('dsp-a'),
    dedup: k.dedup('m-1'), applied: k.applied('m-1'), fdedup: k.fdedup('m-1'),
    frequency: k.frequency(`p:${PID}`, 'campaign:c-7'), frequencySuffix: frequencySuffix('i:gaid:g-1', 'creative:cr-1'),
    fcaps: k.fcaps, segments: k.segments, segnames: k.segnames, segtaxonomy: k.segtaxonomy,
    segMembers: k.segMembers('buyers'), segmentVersions: k.segmentVersions('buyers'), backfill: k.backfill('buyers'), backfillLease: k.backfillLease('buyers'),
    due: k.due, profiles: k.profiles, refusedMerges: k.refusedMerges, sharing: k.sharing, inventory: k.inventory, placements: k.placements,
    connector: k.connector('crm'), connectorLock: k.connectorLock('crm'),
  }, {
    identifier: 'pulse:{acme}:id:user_id:u-1',
    partnerIdentifier: 'pulse:{acme}:id:partner:dsp:x:{y}',
    sync: 'pulse:{acme}:sync:dsp-a:anonymous_id:a-1',
    push: 'pulse:{acme}:push:dsp-a',
    dedup: 'pulse:{acme}:dedup:m-1', applied: 'pulse:{acme}:applied:m-1', fdedup: 'pulse:{acme}:fdedup:m-1',
    frequency: `pulse:{acme}:fc:p:${PID}:campaign:c-7`, frequencySuffix: 'fc:i:gaid:g-1:creative:cr-1',
    fcaps: 'pulse:{acme}:fcaps', segments: 'pulse:{acme}:segments', segnames: 'pulse:{acme}:segnames', segtaxonomy: 'pulse:{acme}:segtaxonomy',
    segMembers: 'pulse:{acme}:seg:buyers:members', segmentVersions: 'pulse:{acme}:segdef:buyers:versions',
    backfill: 'pulse:{acme}:segdef:buyers:backfill', backfillLease: 'pulse:{acme}:segdef:buyers:backfill-lease',
    due: 'pulse:{acme}:due', profiles: 'pulse:{acme}:profiles', refusedMerges: 'pulse:{acme}:merges:refused',
    sharing: 'pulse:{acme}:sharing', inventory: 'pulse:{acme}:inventory', placements: 'pulse:{acme}:placements',
    connector: 'pulse:{acme}:connector:crm', connectorLock: 'pulse:{acme}:connector:crm:lock',
  });
});

void t.test('v1: a tenant is one slot, whatever the key', async (t) => {
  const k = tenantKeys('pulse', 'acme');
  const slot = keySlot(k.prefix);
  const keys = [k.profile(PID).feature('f'), k.identifier({ type: 'cookie', id: '}{' }), k.segMembers('x'), k.due, k.connectorLock('c'), k.dedup('m')];
  t.same(keys.map(keySlot), keys.map(() => slot));
});

void t.test('parts that have a pattern are checked before they become part of a key', async (t) => {
  t.throws(() => tenantKeys('Bad-NS', 'acme'), /invalid namespace "Bad-NS"/);
  t.throws(() => tenantKeys('pulse', 'ac}me'), /invalid tenant "ac}me"/);
  t.throws(() => tenantsKey('pulse:x'), /invalid namespace/);
  const k = tenantKeys('pulse', 'acme');
  const invalid = (fn: () => unknown, field: string, what: string) => {
    try {
      fn();
      t.fail(`${what}: accepted`);
    } catch (err) {
      t.ok(err instanceof PulseError && err.code === 'INVALID_ARGUMENT' && err.field === field, `${what}: INVALID_ARGUMENT on ${field}`);
    }
  };
  invalid(() => k.segMembers('Bad Segment'), 'id', 'segment id');
  invalid(() => k.segmentVersions('x:y'), 'id', 'segment id in segdef');
  invalid(() => k.connector('CRM'), 'id', 'connector id');
  invalid(() => k.connectorLock('crm}'), 'id', 'connector id of the lock');
  invalid(() => k.sync('Bad Partner', { type: 'user_id', id: 'u' }), 'partner', 'partner of a sync');
  invalid(() => k.push('dsp:a'), 'partner', 'partner of a status');
  invalid(() => identifierTag('pulse', 'acme', 'email', 'x'), 'identifier', 'unknown identifier type');
  invalid(() => identifierTag('pulse', 'acme', 'user_id', ' padded'), 'identifier', 'identifier value with spaces at the ends');
  invalid(() => bucketKeys('pulse', 'acme', 0).segMembers('Bad'), 'id', 'segment id in a bucket');
  t.throws(() => profileKeys('pulse', 'acme', 'p1'), /invalid profile id "p1"/, 'v2 profile ids are UUIDs');
  t.throws(() => profileKeys('pulse', 'acme', PID.toUpperCase()), /invalid profile id/, 'lowercase ones');
  t.throws(() => profileKeys('pulse', 'acme', `${PID}}`), /invalid profile id/);
  t.throws(() => profileKeys('pulse', 'ACME', PID), /invalid tenant/);
  t.throws(() => identifierTag('Bad', 'acme', 'user_id', 'u'), /invalid namespace/);
  for (const b of [0, 4097, 1.5, NaN]) t.throws(() => bucketOf(PID, b), /invalid bucket count/, `${b} buckets`);
  t.throws(() => bucketOf('p1', 64), /invalid profile id/);
  for (const b of [-1, 4096, 0.5]) t.throws(() => bucketKeys('pulse', 'acme', b), /invalid bucket/, `bucket ${b}`);
  t.throws(() => profileIdFor('Acme', 'm1'), /invalid tenant/);
  t.throws(() => profileIdFor('acme', ''), /a message id is required/);
});

void t.test('v2 builders: tags per profile, identifier and bucket', async (t) => {
  const p = profileKeys('pulse', 'acme', PID);
  const tag = `pulse:{acme:${PID}}:`;
  t.same([p.prefix, p.hash, p.ids, p.traits, p.segs, p.fckeys, p.feature('f1')], [tag, `${tag}p`, `${tag}ids`, `${tag}traits`, `${tag}segs`, `${tag}fckeys`, `${tag}f:f1`]);
  t.equal(fnv1a32(''), 0x811c9dc5, 'FNV-1a offset basis');
  t.equal(fnv1a32('foobar'), 0xbf9cf968, 'FNV-1a test vector');
  t.equal(identifierTag('pulse', 'acme', 'user_id', 'u-1'), `pulse:{acme:i:${fnv1a32('user_id:u-1').toString(16).padStart(8, '0')}}:`);
  const b = bucketKeys('pulse', 'acme', 17);
  t.same([b.prefix, b.segMembers('buyers'), b.due, b.profiles], ['pulse:{acme:s17}:', 'pulse:{acme:s17}:seg:buyers:members', 'pulse:{acme:s17}:due', 'pulse:{acme:s17}:profiles']);
  t.equal(bucketOf(PID, 64), fnv1a32(PID) % 64, 'fnv1a32(pid) mod B');
  t.equal(bucketOf(PID, 1), 0, 'one bucket holds everyone');
});

void t.test('identifier tags never contain the identifier, whatever it holds', async (t) => {
  const values = ['a{b}c', '{acme}', '}', 'x:y:z', 'ünïcödé {}', 'a'.repeat(256)];
  const tags = new Set<string>();
  for (const id of values) {
    for (const type of ['user_id', 'cookie', 'partner:dsp-1']) {
      const tag = identifierTag('pulse', 'acme', type, id);
      t.match(tag, /^pulse:\{acme:i:[0-9a-f]{8}\}:$/, `${type} ${JSON.stringify(id.slice(0, 12))}: hex inside the braces only`);
      // The owner key of v2 puts the raw value after the tag: the slot is still the tag's.
      t.equal(keySlot(`${tag}id:${type}:${id}`), keySlot(tag), 'braces in the value after the tag do not move the key');
      tags.add(tag);
    }
  }
  t.equal(tags.size, values.length * 3, 'the type is part of the hash: a user_id and a cookie with one value get different tags');
});

void t.test('v2: every key of one profile is in one slot, and profiles spread over the cluster', async (t) => {
  const keysOf = (pid: string): string[] => {
    const p = profileKeys('pulse', 'acme', pid);
    return [p.prefix, p.hash, p.ids, p.traits, p.tord, p.counts, p.computed, p.ftotals, p.fkeys, p.segs, p.nomerge, p.fckeys, p.feature('0123456789abcdef')];
  };
  for (let i = 0; i < 100; i++) {
    const keys = keysOf(randomUUID());
    const slot = keySlot(keys[0] ?? '');
    if (!keys.every((k) => keySlot(k) === slot)) t.fail(`keys of one profile in several slots: ${keys.join(' ')}`);
  }
  t.pass('100 profiles: each profile\'s keys share one slot');

  const n = 10_000;
  const slots = new Set<number>();
  const perMaster = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const slot = keySlot(keysOf(profileIdFor('acme', `m-${i}`))[0] ?? '');
    slots.add(slot);
    perMaster[Math.min(2, Math.floor((slot * 3) / SLOTS))]! += 1;
  }
  // Uniform slots: 10,000 draws from 16,384 slots hit about 16384 * (1 - e^(-10000/16384)) = 7,487 distinct ones.
  t.ok(slots.size > 7_200, `${n} profiles in ${slots.size} distinct slots`);
  t.ok(perMaster.every((c) => Math.abs(c - n / 3) < n * 0.03), `a third on each of three masters' slot ranges: ${perMaster.join(', ')}`);
});

void t.test('buckets are about uniform', async (t) => {
  const n = 10_000;
  for (const buckets of [64, 7]) {
    const counts = new Array<number>(buckets).fill(0);
    for (let i = 0; i < n; i++) counts[bucketOf(profileIdFor('acme', `m-${i}`), buckets)]! += 1;
    const expected = n / buckets;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // Critical values at p = 0.001: 103.4 for 63 degrees of freedom, 22.5 for 6.
    t.ok(chi2 < (buckets === 64 ? 103.4 : 22.5), `${buckets} buckets: chi-square ${chi2.toFixed(1)} (counts ${Math.min(...counts)}-${Math.max(...counts)})`);
  }
});

void t.test('profileIdFor: the same event gives the same UUID, another event another one', async (t) => {
  const id = profileIdFor('acme', 'm1');
  t.equal(id, profileIdFor('acme', 'm1'), 'deterministic');
  t.equal(id, '1b11ff92-9f14-8b47-a069-775dbb2ea729', 'pinned: a change would orphan the profiles of redelivered events');
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a version-8 UUID with the RFC 9562 variant');
  t.match(id, PROFILE_ID_PATTERN, 'and a valid profile id');
  t.not(profileIdFor('acme', 'm2'), id);
  t.not(profileIdFor('globex', 'm1'), id, 'the tenant is part of it');
  t.not(profileIdFor('ab', 'c'), profileIdFor('a', 'bc'), 'tenant and message id are separated');
  const many = new Set(Array.from({ length: 10_000 }, (_, i) => profileIdFor('acme', `m-${i}`)));
  t.equal(many.size, 10_000, 'no collisions among 10,000 events');
});
