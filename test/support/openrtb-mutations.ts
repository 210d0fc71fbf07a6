import { readdirSync, readFileSync } from 'node:fs';

// Mutated OpenRTB requests for the tests that hold a fast path to its reference (the hand-written
// check to the zod schema, the byte scanner to JSON.parse): each field the schema knows (and some
// it does not) deleted or replaced by values of every JSON type, one at a time and several at once.

export const DIR = new URL('../fixtures/openrtb/', import.meta.url);
/** The OpenRTB 2.6 example requests (file names). */
export const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A fixture's text, as on disk (pretty-printed). */
export const fixtureText = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');

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

/** A small seeded generator (mulberry32): the same mutations on every run. */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Mutated {
  readonly doc: Json;
  readonly label: string;
}

/** The fixture as is, with the extra paths, and each of both with one path deleted or replaced by each value. */
export function* singleMutations(name: string): Generator<Mutated> {
  const original = JSON.parse(fixtureText(name)) as Json;
  const withExtras = structuredClone(original);
  for (const [path, value] of EXTRA) setPath(withExtras, path, value);
  for (const base of [original, withExtras]) {
    yield { doc: base, label: 'as is' };
    for (const path of paths(base)) {
      for (const value of VALUES) {
        const doc = structuredClone(base);
        setPath(doc, path, value);
        yield { doc, label: `${path.join('.')} = ${JSON.stringify(value)}` };
      }
    }
  }
}

/**
 * `count` requests, each a random fixture (with the extra paths half the time) under 1-4 random
 * mutations, some with a duplicate impression or competing placements.
 */
export function* multiMutations(seed: number, count: number): Generator<Mutated> {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  for (let n = 0; n < count; n++) {
    const doc = JSON.parse(fixtureText(pick(FIXTURES))) as Json;
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
    yield { doc, label: changes.join(', ') };
  }
}
