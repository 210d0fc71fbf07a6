import t from 'tap';
import { splitDraws } from '../../src/segments/estimate-sample.ts';
import { random } from './rule-generator.ts';

/** ln(k!) for k = 0 … max. */
function logFactorials(max: number): number[] {
  const out = [0];
  for (let k = 1; k <= max; k++) out.push((out[k - 1] ?? 0) + Math.log(k));
  return out;
}

/** P(k of n draws without replacement from N land in a bucket of K). */
function hypergeometric(N: number, K: number, n: number, lf: readonly number[]): (k: number) => number {
  const lc = (a: number, b: number) => (b < 0 || b > a ? -Infinity : (lf[a] ?? 0) - (lf[b] ?? 0) - (lf[a - b] ?? 0));
  return (k) => Math.exp(lc(K, k) + lc(N - K, n - k) - lc(N, n));
}

/** The chi-square value exceeded with probability 0.001 for `df` degrees of freedom (Wilson-Hilferty). */
function chiSquareCritical(df: number): number {
  const z = 3.090232;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

void t.test('every split draws n entries, never more than a bucket holds', async (t) => {
  const next = random(7);
  const sizes = [0, 5, 100, 37, 1000, 3, 250, 0, 1, 12];
  let bad = 0;
  for (let i = 0; i < 2_000; i++) {
    const n = Math.floor(next() * 1_408);
    const split = splitDraws(n, sizes, next);
    if (split.length !== sizes.length || split.reduce((a, b) => a + b, 0) !== n || split.some((c, b) => c < 0 || c > (sizes[b] ?? 0))) bad++;
    if (split[0] !== 0 || split[7] !== 0) bad++;
  }
  t.equal(bad, 0);
});

void t.test('per-bucket counts over 10k splits follow the hypergeometric distribution', async (t) => {
  const next = random(20261129);
  const sizes = [0, 40, 300, 7, 120, 0, 33, 500];
  const N = sizes.reduce((a, b) => a + b, 0);
  const n = 100;
  const runs = 10_000;
  const counts = sizes.map(() => new Map<number, number>());
  for (let i = 0; i < runs; i++) {
    splitDraws(n, sizes, next).forEach((c, b) => counts[b]?.set(c, (counts[b]?.get(c) ?? 0) + 1));
  }
  const lf = logFactorials(N);
  for (const [b, K] of sizes.entries()) {
    const seen = counts[b] ?? new Map<number, number>();
    if (K === 0) {
      t.same([...seen], [[0, runs]], `bucket ${b} is empty and never drawn from`);
      continue;
    }
    // Mean against n K / N, within 4.5 standard errors of the mean of `runs` splits.
    const mean = [...seen].reduce((a, [k, c]) => a + k * c, 0) / runs;
    const p = K / N;
    const variance = n * p * (1 - p) * (N - n) / (N - 1);
    t.ok(Math.abs(mean - n * p) < 4.5 * Math.sqrt(variance / runs), `bucket ${b}: mean ${mean.toFixed(3)} near ${(n * p).toFixed(3)}`);
    // Goodness of fit of the whole distribution, cells merged from the tails until each expects >= 5.
    const pmf = hypergeometric(N, K, n, lf);
    const cells: { expected: number; observed: number }[] = [];
    let cell = { expected: 0, observed: 0 };
    for (let k = 0; k <= Math.min(n, K); k++) {
      cell.expected += pmf(k) * runs;
      cell.observed += seen.get(k) ?? 0;
      if (cell.expected >= 5) {
        cells.push(cell);
        cell = { expected: 0, observed: 0 };
      }
    }
    const lastCell = cells[cells.length - 1];
    if (lastCell !== undefined) {
      lastCell.expected += cell.expected;
      lastCell.observed += cell.observed;
    }
    const chi2 = cells.reduce((a, c) => a + (c.observed - c.expected) ** 2 / c.expected, 0);
    const df = cells.length - 1;
    if (df > 0) t.ok(chi2 < chiSquareCritical(df), `bucket ${b}: chi-square ${chi2.toFixed(1)} on ${df} df below the 0.1% critical value ${chiSquareCritical(df).toFixed(1)}`);
  }
});

void t.test('a chi-square check of the split itself: each bucket gets its share of the draws', async (t) => {
  // Draws of 1 from sizes proportional to 1 … 8: a multinomial over the buckets.
  const next = random(99);
  const sizes = [10, 20, 30, 40, 50, 60, 70, 80];
  const N = 360;
  const runs = 10_000;
  const hits = sizes.map(() => 0);
  for (let i = 0; i < runs; i++) splitDraws(1, sizes, next).forEach((c, b) => { hits[b] = (hits[b] ?? 0) + c; });
  const chi2 = sizes.reduce((a, s, b) => a + ((hits[b] ?? 0) - (runs * s) / N) ** 2 / ((runs * s) / N), 0);
  t.ok(chi2 < chiSquareCritical(sizes.length - 1), `chi-square ${chi2.toFixed(1)} on 7 df`);
});

void t.test('edge cases', async (t) => {
  t.same(splitDraws(0, [3, 4]), [0, 0], 'no draws');
  t.same(splitDraws(7, [3, 4]), [3, 4], 'n equal to the population takes everything');
  t.same(splitDraws(100, [3, 0, 4]), [3, 0, 4], 'n above the population takes everything');
  t.same(splitDraws(5, []), [], 'no buckets');
  t.same(splitDraws(5, [0, 0, 0]), [0, 0, 0], 'only empty buckets');
  t.same(splitDraws(2, [0, 0, 5, 0]), [0, 0, 2, 0], 'one non-empty bucket takes every draw');
  t.same(splitDraws(1, [1, 1], () => 0.999999999), [0, 1], 'a random number just below 1 picks the last entry');
  t.same(splitDraws(1, [1, 1], () => 0), [1, 0], 'zero picks the first entry');
  t.throws(() => splitDraws(-1, [1]), /draw count/);
  t.throws(() => splitDraws(1.5, [1]), /draw count/);
  t.throws(() => splitDraws(1, [2, -1]), /bucket size/);
  const big = splitDraws(3, Array.from({ length: 4096 }, (_, i) => (i === 4095 ? 1_000_000 : 0)));
  t.equal(big[4095], 3, 'the last of 4096 buckets is found');
});
