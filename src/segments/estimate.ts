/** What Estimate learned from a sample of the profile index. */
export interface SampleCount {
  /** Entries of the profile index (the population sampled from). */
  readonly population: number;
  /** Entries drawn, without replacement. */
  readonly sampled: number;
  /** Drawn entries that are live profiles in the segment. */
  readonly matches: number;
}

/** A segment size with its 95% confidence interval. */
export interface SizeEstimate {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** True when the sample was the whole population. */
  readonly exact: boolean;
}

const Z95 = 1.959963984540054;

/**
 * The segment size from a uniform sample without replacement: population x sample proportion, with
 * the Wilson score interval for the proportion (sound near 0 and 1, where the normal approximation
 * gives negative bounds) narrowed by the finite-population correction sqrt((N - n) / (N - 1)).
 * Bounds are whole profiles, never below the matches seen nor above what the non-matches allow.
 */
export function estimateSize(c: SampleCount, z: number = Z95): SizeEstimate {
  const { population: N, sampled: n, matches: k } = c;
  if (n <= 0 || N <= 0) return { estimate: 0, low: 0, high: 0, exact: N <= 0 };
  if (n >= N) return { estimate: k, low: k, high: k, exact: true };
  const p = k / n;
  const z2n = (z * z) / n;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt(p * (1 - p) / n + z2n / (4 * n));
  const fpc = Math.sqrt((N - n) / (N - 1));
  // Wilson's interval is not centred on p; the correction shrinks it around its own centre.
  const lowP = Math.max(0, center - half * fpc);
  const highP = Math.min(1, center + half * fpc);
  return {
    estimate: Math.round(N * p),
    low: Math.max(k, Math.floor(N * lowP)),
    high: Math.min(N - (n - k), Math.ceil(N * highP)),
    exact: false,
  };
}
