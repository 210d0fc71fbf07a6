import t from 'tap';
import { estimateSize } from '../../src/segments/estimate.ts';

/** A seeded generator (mulberry32), so the coverage check is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Matches in a sample of n drawn without replacement from N with K members (partial Fisher-Yates). */
function draw(N: number, K: number, n: number, rnd: () => number): number {
  const pool = Array.from({ length: N }, (_, i) => i);
  let matches = 0;
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rnd() * (N - i));
    const v = pool[j] as number;
    pool[j] = pool[i] as number;
    pool[i] = v;
    if (v < K) matches++;
  }
  return matches;
}

void t.test('the 95% interval holds the true size about 95% of the time', async (t) => {
  const rnd = random(42);
  for (const [N, K, n] of [[10_000, 3_000, 500], [10_000, 40, 1_000], [2_000, 1_900, 1_500]] as const) {
    let inside = 0;
    const trials = 1_000;
    for (let i = 0; i < trials; i++) {
      const e = estimateSize({ population: N, sampled: n, matches: draw(N, K, n, rnd) });
      if (e.low <= K && K <= e.high) inside++;
    }
    t.ok(inside >= 930 && inside <= 995, `N=${N} K=${K} n=${n}: ${inside}/${trials} intervals hold the truth`);
  }
});

void t.test('edges: whole population, nothing sampled, no matches', async (t) => {
  t.same(estimateSize({ population: 500, sampled: 500, matches: 123 }), { estimate: 123, low: 123, high: 123, exact: true });
  t.same(estimateSize({ population: 0, sampled: 0, matches: 0 }), { estimate: 0, low: 0, high: 0, exact: true });
  const none = estimateSize({ population: 1_000_000, sampled: 2_000, matches: 0 });
  t.equal(none.estimate, 0);
  t.equal(none.low, 0);
  t.ok(none.high > 0 && none.high < 2_500, `an empty sample still bounds the size above (${none.high})`);
  const all = estimateSize({ population: 1_000, sampled: 100, matches: 100 });
  t.ok(all.high === 1_000 && all.low > 900 && all.low <= 1_000, 'a full sample bounds below');
});
