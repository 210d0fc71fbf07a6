import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { bidRequestProblem } from '../../src/targeting/openrtb-check.ts';
import { schemaProblem } from '../../src/targeting/openrtb.ts';

// parseBidRequest checks requests with bidRequestProblem, a hand-written check that must give the
// answer of the zod schema (the declaration and reference): the same first problem, at the same
// path, in the same words. Compared here on every fixture under thousands of mutations: each field
// the schema knows (and some it does not) deleted or replaced by values of every JSON type, one at
// a time and several at once.

const DIR = new URL('../fixtures/openrtb/', import.meta.url);
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const VALUES: readonly (Json | undefined)[] = [
  undefined, null, 0, 1, 2, -1, 1.5, -0.5, 2 ** 60, -(2 ** 60), '', 'x', true, false, [], [null], [1], [2.5], ['x'], [''], [{}], [[]], {}, { id: 'x' },
];

/** Paths the schema reads, present in no fixture or only some, added to every base document. */
const EXTRA: readonly [readonly (string | number)[], Json][] = [
  [['user', 'ext', 'eids'], [{ source: 'adserver.org', uids: [{ id: 'u', atype: 1, ext: { rtiPartner: 'UID2' } }] }]],
  [['user', 'ext', 'consent'], 'CO'],
  [['user', 'data'], [{ id: 'd', name: 'n', segment: [{ id: 's' }], ext: { segtax: 4 } }]],
  [['device', 'ext'], { ifa_type: 'idfa', atts: 3 }],
  [['device', 'lmt'], 0],
  [['regs', 'ext'], { gdpr: 1, us_privacy: '1YNN' }],
  [['regs', 'gpp_sid'], [2, 7]],
  [['imp', 0, 'ext'], { data: { k: 'v' } }],
];

function setPath(doc: Json, path: readonly (string | number)[], value: Json | undefined): void {
  let at = doc as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (next === null || typeof next !== 'object') return;
    at = next as Record<string | number, Json>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === undefined) {
    if (Array.isArray(at) && typeof last === 'number') at.splice(last, 1);
    else delete at[last];
  } else {
    at[last] = structuredClone(value);
  }
}

/** Every path inside `doc` (objects' keys and arrays' indexes). */
function paths(doc: Json, base: readonly (string | number)[] = []): (string | number)[][] {
  if (doc === null || typeof doc !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(doc) ? doc.map((_, i) => i) : Object.keys(doc);
  return keys.flatMap((k) => [[...base, k], ...paths((doc as Record<string | number, Json>)[k] ?? null, [...base, k])]);
}

function compare(doc: Json, label: string, mismatches: string[]): void {
  const parsed = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  const fast = bidRequestProblem(parsed);
  const reference = schemaProblem(parsed);
  const shown = (p: typeof fast): string => (p === undefined ? 'none' : `${p.path.join('.')}: ${p.message}`);
  if (shown(fast) !== shown(reference)) {
    mismatches.push(`${label}: check ${shown(fast)} vs schema ${shown(reference)}`);
  }
}

/** A small seeded generator (mulberry32): the same mutations on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

void t.test('the check and the schema agree on every fixture, one mutation at a time', async (t) => {
  let compared = 0;
  for (const name of FIXTURES) {
    const mismatches: string[] = [];
    const original = JSON.parse(readFileSync(new URL(name, DIR), 'utf8')) as Json;
    const withExtras = structuredClone(original);
    for (const [path, value] of EXTRA) setPath(withExtras, path, value);
    for (const base of [original, withExtras]) {
      compare(base, 'as is', mismatches);
      for (const path of paths(base)) {
        for (const value of VALUES) {
          const doc = structuredClone(base);
          setPath(doc, path, value);
          compare(doc, `${path.join('.')} = ${JSON.stringify(value)}`, mismatches);
          compared += 1;
        }
      }
    }
    t.strictSame(mismatches.slice(0, 20), [], `${name}: ${mismatches.length} disagreements`);
  }
  t.ok(compared > 10_000, `${compared} mutated requests compared`);
});

void t.test('the check and the schema agree under several mutations at once', async (t) => {
  const next = random(20261129);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const mismatches: string[] = [];
  let refused = 0;
  for (let n = 0; n < 3000; n++) {
    const doc = JSON.parse(readFileSync(new URL(pick(FIXTURES), DIR), 'utf8')) as Json;
    if (next() < 0.5) for (const [path, value] of EXTRA) setPath(doc, path, value);
    const changes: string[] = [];
    for (let k = 1 + Math.floor(next() * 4); k > 0; k--) {
      const all = paths(doc);
      if (all.length === 0) break;
      const path = pick(all);
      const value = pick(VALUES);
      setPath(doc, path, value);
      changes.push(`${path.join('.')} = ${JSON.stringify(value)}`);
    }
    // Duplicate impression ids and competing placements, which only the whole-request checks see.
    if (next() < 0.2 && Array.isArray((doc as { imp?: Json }).imp)) (doc as { imp: Json[] }).imp.push(structuredClone((doc as { imp: Json[] }).imp[0] ?? null));
    if (next() < 0.1) (doc as Record<string, Json>)['app'] = {};
    if (next() < 0.1) (doc as Record<string, Json>)['dooh'] = {};
    if (bidRequestProblem(JSON.parse(JSON.stringify(doc)) as Record<string, unknown>) !== undefined) refused += 1;
    compare(doc, changes.join(', '), mismatches);
  }
  t.strictSame(mismatches.slice(0, 20), [], `${mismatches.length} disagreements in 3000 requests`);
  t.ok(refused > 1000 && refused < 3000, `both accepted and refused requests were compared (${refused} refused)`);
});
