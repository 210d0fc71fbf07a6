import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { enrich, enrichBytes, identifiersOf, parseBidRequest, privacySignals, scanBidRequest, type EnrichAudience, type EnrichOptions } from '../../src/targeting/openrtb.ts';
import { FIXTURES, fixtureText, multiMutations, random, singleMutations, type Json } from '../support/openrtb-mutations.ts';

// EnrichBidRequest reads a request with scanBidRequest (one pass over the bytes, no JSON.parse)
// and answers enrichBytes: the request's own bytes with the additions copied in. Held here to
// the reference path: parseBidRequest (JSON.parse + the check) must refuse the same requests with
// the same error, the skeleton must give the same identifiers and privacy signals as the parsed
// request, and the answer must be the same JSON value as enrich()'s object, whatever the
// request's layout: every fixture (pretty-printed on disk, and compact), thousands of mutations,
// mangled syntax, and requests written to trip a scanner.

const ALLOWED = { allowed: true, reason: 'test' };
const OPTIONS: EnrichOptions = { decision: ALLOWED, dataName: 'pulse.example', providerId: 'pulse', segtax: 600, targetingKeyPrefix: 'pulse' };
const AUDIENCES: readonly EnrichAudience[] = [
  { segments: [{ id: 'seg-sports', name: 'Sports fans', taxonomyId: '607' }, { id: 'seg-cart', name: 'Abandoned cart' }] },
  { segments: [{ id: 'only', name: 'Only "one", with \\ and ünïcödé' }] },
];

/** enrichBytes's output and enrich()'s object as JSON values, and whether the output is a valid request. */
function outputs(text: string, audience: EnrichAudience, options: EnrichOptions): { spliced: unknown; expected: unknown; valid: boolean } {
  const spliced = enrichBytes(scanBidRequest(Buffer.from(text)), audience, options);
  const expected: unknown = JSON.parse(JSON.stringify(enrich(parseBidRequest(Buffer.from(text)), audience, options)));
  if (spliced === undefined) return { spliced, expected, valid: false };
  let valid = true;
  try {
    scanBidRequest(spliced);
  } catch {
    valid = false;
  }
  return { spliced: JSON.parse(spliced.toString('utf8')), expected, valid };
}

/** The same JSON value as enrich()'s, and a valid request. */
const same = (t: { strictSame: (a: unknown, b: unknown, m: string) => unknown; ok: (v: unknown, m: string) => unknown }, text: string, audience: EnrichAudience, options: EnrichOptions, label: string): void => {
  const o = outputs(text, audience, options);
  t.strictSame(o.spliced, o.expected, label);
  t.ok(o.valid, `${label}: the output is a valid request`);
};

/** What a path answers for the bytes: its error, or what the handler reads and answers. */
function outcome(bytes: Buffer, read: (b: Buffer) => { request: Parameters<typeof identifiersOf>[0]; enriched: () => unknown }): string {
  try {
    const r = read(bytes);
    return JSON.stringify({
      identifiers: identifiersOf(r.request, { exchange: 'ssp', buyer: 'dsp' }),
      signals: privacySignals(r.request),
      enriched: r.enriched(),
    });
  } catch (err) {
    if (!(err instanceof PulseError)) throw err;
    return `${err.code} ${String(err.field)} ${err.message}`;
  }
}

const viaScan = (b: Buffer) => {
  const read = scanBidRequest(b);
  return { request: read.request, enriched: () => { const out = enrichBytes(read, AUDIENCES[0], OPTIONS); return out === undefined ? undefined : JSON.parse(out.toString('utf8')) as unknown; } };
};
const viaParse = (b: Buffer) => {
  const request = parseBidRequest(b);
  return { request, enriched: () => { const out = enrich(request, AUDIENCES[0], OPTIONS); return out === request ? undefined : JSON.parse(JSON.stringify(out)) as unknown; } };
};

function compare(bytes: Buffer, label: string, mismatches: string[]): boolean {
  const scanned = outcome(bytes, viaScan);
  const parsed = outcome(bytes, viaParse);
  if (scanned !== parsed) mismatches.push(`${label}: scan ${scanned.slice(0, 300)} vs parse ${parsed.slice(0, 300)}`);
  return !parsed.startsWith('INVALID_ARGUMENT');
}

void t.test('scan and parse agree on every fixture under one mutation at a time, pretty and compact', async (t) => {
  let compared = 0;
  for (const name of FIXTURES) {
    const mismatches: string[] = [];
    for (const { doc, label } of singleMutations(name)) {
      compare(Buffer.from(JSON.stringify(doc)), label, mismatches);
      compare(Buffer.from(JSON.stringify(doc, null, compared % 3)), `${label} (pretty)`, mismatches);
      compared += 2;
    }
    t.strictSame(mismatches.slice(0, 10), [], `${name}: ${mismatches.length} disagreements`);
  }
  t.ok(compared > 20_000, `${compared} requests compared`);
});

void t.test('scan and parse agree under several mutations at once', async (t) => {
  const mismatches: string[] = [];
  let accepted = 0;
  for (const { doc, label } of multiMutations(20261130, 3000)) if (compare(Buffer.from(JSON.stringify(doc)), label, mismatches)) accepted += 1;
  t.strictSame(mismatches.slice(0, 10), [], `${mismatches.length} disagreements in 3000 requests`);
  t.ok(accepted > 300 && accepted < 2700, `both accepted and refused requests were compared (${accepted} accepted)`);
});

void t.test('scan accepts exactly the JSON that JSON.parse accepts', async (t) => {
  const ok = '{"id":"r","imp":[{"id":"1","banner":{}}]}';
  const cases: string[] = [
    '', ' ', '{', '}', '[]', '[1]', '1', '"x"', 'null', 'true', '{}', '{"a":1}x', '{}{}', '{"a" 1}', '{"a":1,}', '{,}', '{"a":[1,]}', '{"a":[,1]}',
    '{a:1}', "{'a':1}", '{"a":01}', '{"a":-}', '{"a":1.}', '{"a":.5}', '{"a":1e}', '{"a":1e+}', '{"a":+1}', '{"a":-0}', '{"a":1E5}', '{"a":-1.5e-3}',
    '{"a":tru}', '{"a":nul}', '{"a":falsey}', '{"a":"\\x"}', '{"a":"\\u12"}', '{"a":"\\u12G4"}', '{"a":"\\ud800"}', '{"a":"tab\there"}',
    '{"a":"\u0001"}', '{"a":"\u001f"}', '{"a":"\u007f"}', '{"a":"\u2028"}', '{"a":"x\\"}', '{"a":"x', '{"a":"x"', '{"a"}', '{"a":}',
    '\ufeff{"a":1}', '{"a":1}\n\t\r ', '\f{"a":1}', '{"a":1}\u00a0', `[${'['.repeat(50_000)}${']'.repeat(50_000)}]`, `{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
    ok, ` ${ok} `, ok.replace('"r"', '"r\\u0000"'), ok.replace('{}', '{"w":[1,2.5,-3e2,true,false,null,{"x":[]}]}'),
  ];
  const mismatches: string[] = [];
  for (const s of cases) compare(Buffer.from(s), JSON.stringify(s.slice(0, 40)), mismatches);
  // Invalid UTF-8, and a byte order mark before the JSON.
  for (const bytes of [Buffer.from([0x7b, 0xff, 0x7d]), Buffer.from([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d]), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ok)])]) {
    compare(bytes, bytes.toString('hex').slice(0, 40), mismatches);
  }
  t.strictSame(mismatches, [], `${cases.length + 3} documents`);
  t.throws(() => scanBidRequest(Buffer.from('{"a":')), { code: 'INVALID_ARGUMENT', field: 'body', message: 'body: not valid UTF-8 JSON' }, 'the error names the body');
});

void t.test('scan and parse agree on requests with mangled bytes', async (t) => {
  const next = random(77);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const ALPHABET = ['{', '}', '[', ']', '"', ',', ':', '\\', ' ', '0', '1', '-', '.', 'e', 't', 'n', 'u', 'x', '\n', 'é'];
  const mismatches: string[] = [];
  let valid = 0;
  for (let n = 0; n < 4000; n++) {
    let s = JSON.stringify(JSON.parse(fixtureText(pick(FIXTURES))) as Json, null, n % 2);
    for (let k = 1 + Math.floor(next() * 2); k > 0; k--) {
      const at = Math.floor(next() * s.length);
      const r = next();
      s = r < 0.4 ? s.slice(0, at) + s.slice(at + 1) : r < 0.8 ? s.slice(0, at) + pick(ALPHABET) + s.slice(at) : s.slice(0, at) + s.slice(at, at + 8) + s.slice(at);
    }
    try {
      JSON.parse(s);
      valid += 1;
    } catch { /* counted below */ }
    compare(Buffer.from(s), `#${n}`, mismatches);
  }
  t.strictSame(mismatches.slice(0, 10), [], `${mismatches.length} disagreements in 4000 mangled requests`);
  t.ok(valid > 100 && valid < 3900, `valid and invalid JSON both compared (${valid} valid)`);
});

void t.test('every fixture, pretty and compact, with and without segment names', async (t) => {
  for (const name of FIXTURES) {
    const pretty = fixtureText(name);
    const compact = JSON.stringify(JSON.parse(pretty));
    for (const audience of AUDIENCES) {
      same(t, pretty, audience, OPTIONS, `${name} pretty`);
      same(t, compact, audience, { ...OPTIONS, segmentNames: false }, `${name} compact`);
    }
  }
});

void t.test('requests written to trip a scanner', async (t) => {
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
  const out = JSON.parse(enrichBytes(scanBidRequest(Buffer.from(text)), AUDIENCES[1] ?? AUDIENCES[0] ?? { segments: [] }, OPTIONS)?.toString('utf8') ?? '{}') as { imp: { ext: { data: { pulse_segs: string[] } } }[] };
  t.strictSame(out.imp.map((i) => i.ext.data.pulse_segs), [['only'], ['only']], 'one targeting key per impression, the new one');
});

void t.test('nothing to add: undefined, as enrich returns the request itself', async (t) => {
  const text = `{"id":"r","imp":[{"id":"1","banner":{}}]}`;
  const read = scanBidRequest(Buffer.from(text));
  t.equal(enrichBytes(read, undefined, OPTIONS), undefined, 'unknown user');
  t.equal(enrichBytes(read, { segments: [] }, OPTIONS), undefined, 'no segments');
  t.equal(enrichBytes(read, AUDIENCES[0], { ...OPTIONS, decision: { allowed: false, reason: 'no consent' } }), undefined, 'not allowed');
});

void t.test('the text of an audience is reused only with the same options', async (t) => {
  const text = `{"id":"r","imp":[{"id":"1","banner":{}}]}`;
  const audience = AUDIENCES[0] ?? { segments: [] };
  for (const options of [OPTIONS, { ...OPTIONS, dataName: 'b.example' }, { ...OPTIONS, segtax: 601 }, { ...OPTIONS, segmentNames: false }, { ...OPTIONS, targetingKeyPrefix: 'q' }, { ...OPTIONS, providerId: 'p2' }, OPTIONS]) {
    same(t, text, audience, options, JSON.stringify({ ...options, decision: undefined }));
  }
});
