import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { enrich, enrichText, readBidRequest, type EnrichAudience, type EnrichOptions } from '../../src/targeting/openrtb.ts';

// EnrichBidRequest answers enrichText: the request's own text with the additions spliced in. It
// must be the same JSON value as enrich()'s object, whatever the request's layout: every fixture
// (pretty-printed on disk, and compact), and requests written to trip a text scanner.

const DIR = new URL('../fixtures/openrtb/', import.meta.url);
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const ALLOWED = { allowed: true, reason: 'test' };
const OPTIONS: EnrichOptions = { decision: ALLOWED, dataName: 'pulse.example', providerId: 'pulse', segtax: 600, targetingKeyPrefix: 'pulse' };
const AUDIENCES: readonly EnrichAudience[] = [
  { segments: [{ id: 'seg-sports', name: 'Sports fans', taxonomyId: '607' }, { id: 'seg-cart', name: 'Abandoned cart' }] },
  { segments: [{ id: 'only', name: 'Only "one", with \\ and ünïcödé' }] },
];

/** enrichText's output and enrich()'s object as JSON values, and whether the output is a valid request. */
function outputs(text: string, audience: EnrichAudience, options: EnrichOptions): { spliced: unknown; expected: unknown; valid: boolean } {
  const { request } = readBidRequest(Buffer.from(text));
  const spliced = enrichText(text, request, audience, options);
  const expected: unknown = JSON.parse(JSON.stringify(enrich(request, audience, options)));
  if (spliced === undefined) return { spliced, expected, valid: false };
  let valid = true;
  try {
    readBidRequest(Buffer.from(spliced));
  } catch {
    valid = false;
  }
  return { spliced: JSON.parse(spliced), expected, valid };
}

/** The same JSON value as enrich()'s, and a valid request. */
const same = (t: { strictSame: (a: unknown, b: unknown, m: string) => unknown; ok: (v: unknown, m: string) => unknown }, text: string, audience: EnrichAudience, options: EnrichOptions, label: string): void => {
  const o = outputs(text, audience, options);
  t.strictSame(o.spliced, o.expected, label);
  t.ok(o.valid, `${label}: the output is a valid request`);
};

void t.test('every fixture, pretty and compact, with and without segment names', async (t) => {
  for (const name of FIXTURES) {
    const pretty = readFileSync(new URL(name, DIR), 'utf8');
    const compact = JSON.stringify(JSON.parse(pretty));
    for (const audience of AUDIENCES) {
      same(t, pretty, audience, OPTIONS, `${name} pretty`);
      same(t, compact, audience, { ...OPTIONS, segmentNames: false }, `${name} compact`);
    }
  }
});

void t.test('requests written to trip a text scanner', async (t) => {
  const imp = '{"id":"1","banner":{}}';
  const cases: Record<string, string> = {
    'no user, no imp ext': `{"id":"r","imp":[${imp}]}`,
    'empty user': `{"id":"r","imp":[${imp}],"user":{}}`,
    'user without data': `{"id":"r","user":{"id":"u"},"imp":[${imp}]}`,
    'empty user.data': `{"id":"r","imp":[${imp}],"user":{"data":[]}}`,
    'another provider in user.data': `{"id":"r","imp":[${imp}],"user":{"data":[{"id":"x","name":"other","segment":[{"id":"1"}],"ext":{"segtax":600}}]}}`,
    'imp ext without data': '{"id":"r","imp":[{"id":"1","banner":{},"ext":{"gpid":"/a/b"}}]}',
    'imp ext empty': '{"id":"r","imp":[{"id":"1","banner":{},"ext":{}}]}',
    'imp ext.data empty': '{"id":"r","imp":[{"id":"1","banner":{},"ext":{"data":{}}}]}',
    'imp ext.data with keys': '{"id":"r","imp":[{"id":"1","banner":{},"ext":{"data":{"pbadslot":"x","pulse":1}}}]}',
    'whitespace everywhere': ` \n {  "id" : "r" ,\t"imp" : [ { "id" : "1" , "banner" : { } , "ext" : { "data" : { } } } , { "id":"2","video":{"mimes":["v"]} } ] , "user" : { "data" : [ ] }  } \n`,
    'strings with braces, quotes and backslashes': `{"id":"r}\\"{[","site":{"name":"a\\\\","page":"{\\"user\\":1}"},"imp":[{"id":"]1[","banner":{},"tagid":"\\\\\\""}],"user":{"id":"}{","keywords":"\\"data\\":[]"}}`,
    'escaped keys': '{"id":"r","imp":[{"id":"1","banner":{},"\\u0065xt":{"d\\u0061ta":{"k":"v"}}}],"us\\u0065r":{"\\u0064ata":[]}}',
    'duplicate keys (the last counts, as in JSON.parse)': `{"id":"r","user":{"data":[{"id":"a"}]},"imp":[${imp}],"user":{"id":"second"}}`,
    '__proto__ keys': `{"__proto__":{"polluted":1},"id":"r","imp":[{"id":"1","banner":{},"ext":{"__proto__":{"x":1}}}],"user":{"__proto__":{"data":1}}}`,
    'numbers and literals next to the looked-for members': `{"id":"r","tmax":120,"test":0,"imp":[{"id":"1","banner":{"w":300,"h":250},"bidfloor":1.5e-2,"secure":1,"ext":{"x":null,"y":true,"data":{"z":false}}}],"user":{"yob":1980,"data":[{"id":"d","segment":[]}]},"at":1}`,
    'unicode': '{"id":"r","imp":[{"id":"1","banner":{}}],"site":{"name":"日本語 🎉 ü"},"user":{"id":"ü🎉"}}',
  };
  for (const [label, text] of Object.entries(cases)) for (const audience of AUDIENCES) same(t, text, audience, OPTIONS, label);
});

void t.test('earlier Pulse entries and targeting keys are replaced, as enrich replaces them', async (t) => {
  const text = JSON.stringify({
    id: 'r', imp: [{ id: '1', banner: {}, ext: { data: { pulse_segs: ['old'] } } }, { id: '2', banner: {} }],
    user: { data: [{ id: 'pulse', name: 'pulse.example', segment: [{ id: 'old' }], ext: { segtax: 600 } }, { id: 'x', name: 'other' }] },
  });
  for (const audience of AUDIENCES) same(t, text, audience, OPTIONS, 'replaced');
  const out = JSON.parse(enrichText(text, readBidRequest(Buffer.from(text)).request, AUDIENCES[1] ?? AUDIENCES[0] ?? { segments: [] }, OPTIONS) ?? '{}') as { imp: { ext: { data: { pulse_segs: string[] } } }[] };
  t.strictSame(out.imp.map((i) => i.ext.data.pulse_segs), [['only'], ['only']], 'one targeting key per impression, the new one');
});

void t.test('nothing to add: undefined, as enrich returns the request itself', async (t) => {
  const text = `{"id":"r","imp":[{"id":"1","banner":{}}]}`;
  const { request } = readBidRequest(Buffer.from(text));
  t.equal(enrichText(text, request, undefined, OPTIONS), undefined, 'unknown user');
  t.equal(enrichText(text, request, { segments: [] }, OPTIONS), undefined, 'no segments');
  t.equal(enrichText(text, request, AUDIENCES[0], { ...OPTIONS, decision: { allowed: false, reason: 'no consent' } }), undefined, 'not allowed');
});

void t.test('the text of an audience is reused only with the same options', async (t) => {
  const text = `{"id":"r","imp":[{"id":"1","banner":{}}]}`;
  const audience = AUDIENCES[0] ?? { segments: [] };
  for (const options of [OPTIONS, { ...OPTIONS, dataName: 'b.example' }, { ...OPTIONS, segtax: 601 }, { ...OPTIONS, segmentNames: false }, { ...OPTIONS, targetingKeyPrefix: 'q' }, { ...OPTIONS, providerId: 'p2' }, OPTIONS]) {
    same(t, text, audience, options, JSON.stringify({ ...options, decision: undefined }));
  }
});
