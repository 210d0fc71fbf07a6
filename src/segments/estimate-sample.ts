/**
 * How many of `n` draws without replacement from a population split into buckets (the per-profile
 * layout's B buckets of the profile index, src/profiles/per-profile-layout.md §4.3) fall in each bucket: a
 * draw of the multivariate hypergeometric distribution, so that drawing that many entries
 * uniformly without replacement from each bucket (ZRANDMEMBER with a positive count) is a uniform
 * sample without replacement of the whole population, as SRANDMEMBER over one set is today.
 *
 * The draws are made one after the other: each picks an entry not drawn yet uniformly, i.e. a
 * bucket with probability (its entries not drawn yet) / (entries not drawn yet), found in a
 * Fenwick tree over the remaining sizes, so the cost is O(B + n log B) however large the buckets.
 * When `n` covers the population every entry is drawn. `random` returns numbers in [0, 1)
 * (Math.random, or a seeded generator in tests).
 */
export function splitDraws(n: number, sizes: readonly number[], random: () => number = Math.random): number[] {
  for (const s of sizes) if (!Number.isSafeInteger(s) || s < 0) throw new Error(`invalid bucket size ${s}: a non-negative integer`);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid draw count ${n}: a non-negative integer`);
  const population = sizes.reduce((a, b) => a + b, 0);
  if (n >= population) return [...sizes];
  const counts = sizes.map(() => 0);
  const tree = new Fenwick(sizes);
  let remaining = population;
  for (let d = 0; d < n; d++) {
    const bucket = tree.find(Math.min(remaining - 1, Math.floor(random() * remaining)));
    tree.add(bucket, -1);
    counts[bucket] = (counts[bucket] ?? 0) + 1;
    remaining--;
  }
  return counts;
}

/** Prefix sums of non-negative sizes with point updates, and the bucket holding a given rank. */
class Fenwick {
  readonly #t: number[];
  /** The largest power of two not above the length (where the descent starts). */
  readonly #top: number;

  constructor(sizes: readonly number[]) {
    const t = [0, ...sizes];
    for (let i = 1; i < t.length; i++) {
      const j = i + (i & -i);
      if (j < t.length) t[j] = (t[j] ?? 0) + (t[i] ?? 0);
    }
    this.#t = t;
    let top = 1;
    while (top * 2 < t.length) top *= 2;
    this.#top = top;
  }

  add(index: number, delta: number): void {
    for (let i = index + 1; i < this.#t.length; i += i & -i) this.#t[i] = (this.#t[i] ?? 0) + delta;
  }

  /** The index b whose entries hold rank r (0-based): sum(sizes[0..b-1]) <= r < sum(sizes[0..b]). */
  find(rank: number): number {
    let pos = 0;
    let rest = rank;
    for (let step = this.#top; step > 0; step >>= 1) {
      const next = pos + step;
      const v = this.#t[next];
      if (v !== undefined && v <= rest) {
        pos = next;
        rest -= v;
      }
    }
    return pos;
  }
}
