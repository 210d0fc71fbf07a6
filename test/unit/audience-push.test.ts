import t from 'tap';
import { buildUpload, parsePushPartners, parseSegmentChange, retryDelayMs, type PushPartner, type PushSubject, type SegmentChange } from '../../src/activation/audience-push.ts';
import { OTHER_VENDOR, PULSE_VENDOR, tcString } from '../support/tcf.ts';

const partner: PushPartner = {
  tenant: 'acme', partner: 'dsp', url: 'https://dsp.example/upload', authorization: undefined, iabVendorId: PULSE_VENDOR,
  requiredPurposes: [3, 4], segments: undefined, batchSize: 100,
};
const change = (kind: 'enter' | 'exit', segmentId: string, profileId: string): SegmentChange => ({ kind, segmentId, profileId, at: '2026-11-20T12:00:00.000Z' });

void t.test('partners are parsed with defaults, every problem named', async (t) => {
  const ok = parsePushPartners(JSON.stringify([{ tenant: 'acme', partner: 'dsp', url: 'https://dsp.example/upload' }]));
  t.same(ok, { ok: true, partners: [{ ...partner, iabVendorId: undefined, batchSize: 500 }] });
  const bad = parsePushPartners(JSON.stringify([{ tenant: 'Acme', partner: 'dsp', url: 'ftp://x', batchSize: 0, extra: 1 }]));
  t.equal(bad.ok, false);
  if (!bad.ok) {
    t.match(bad.problems.join('\n'), /\[0\]\.tenant/);
    t.match(bad.problems.join('\n'), /\[0\]\.url/);
    t.match(bad.problems.join('\n'), /\[0\]\.batchSize/);
    t.match(bad.problems.join('\n'), /extra/);
  }
  const twice = parsePushPartners(JSON.stringify([{ tenant: 'acme', partner: 'dsp', url: 'https://a.example' }, { tenant: 'acme', partner: 'dsp', url: 'https://b.example' }]));
  t.match(twice, { ok: false, problems: [/listed twice/] });
  t.match(parsePushPartners('nope'), { ok: false, problems: [/not valid JSON/] });
});

void t.test('an upload translates changes to partner ids and leaves out what may not go', async (t) => {
  const subjects = new Map<string, PushSubject>([
    ['p-a', { partnerUids: ['uid-a1', 'uid-a2'], consent: { tcString: tcString({ purposes: [3, 4], vendors: [PULSE_VENDOR] }), gdprApplies: true } }],
    ['p-b', { partnerUids: [], consent: undefined }],
    ['p-c', { partnerUids: ['uid-c'], consent: { tcString: tcString({ purposes: [3, 4], vendors: [OTHER_VENDOR] }), gdprApplies: true } }],
    ['p-d', { partnerUids: ['uid-d'], consent: undefined }],
  ]);
  const r = buildUpload({ ...partner, segments: ['s1'] }, [
    change('enter', 's1', 'p-a'), change('enter', 's1', 'p-b'), change('enter', 's1', 'p-c'), change('enter', 's2', 'p-a'),
    change('exit', 's1', 'p-d'), change('enter', 's1', 'p-unknown'),
  ], subjects);
  t.same(r.updates.map((u) => [u.uid, u.segment, u.action]), [['uid-a1', 's1', 'add'], ['uid-a2', 's1', 'add'], ['uid-d', 's1', 'remove']]);
  t.same(r.skipped, { notShared: 1, noSync: 2, noConsent: 1 });
});

void t.test('segment change messages', async (t) => {
  const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  t.same(parseSegmentChange(enc({ kind: 'exit', segmentId: 's', profileId: 'p', version: 3, at: 'x' })), { kind: 'exit', segmentId: 's', profileId: 'p', at: 'x' });
  t.equal(parseSegmentChange(enc({ kind: 'merge', profileId: 'p' })), undefined);
  t.equal(parseSegmentChange(new TextEncoder().encode('{')), undefined);
});

void t.test('retries back off', async (t) => {
  t.same([1, 2, 3, 10, 30].map(retryDelayMs), [1000, 2000, 4000, 60_000, 60_000]);
});
