/**
 * A small seeded pseudo-random generator. Shuffling, train/validation splits and randomized SVD
 * all draw from it, so a run is reproducible from its seed alone; Math.random() is never used.
 */

/** A deterministic stream of random numbers; the same seed always gives the same stream. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (mean 0, variance 1). */
  normal(): number;
  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[];
  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
}

/** Creates a generator seeded with `seed` (any finite number; it is reduced to 32 bits). */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  // mulberry32: 32 bits of state, passes the usual statistical batteries for our purposes,
  // and is a handful of integer operations per draw.
  let state = Math.trunc(seed) >>> 0;
  // Box-Muller yields normals in pairs; keep the second one for the next call.
  let spareNormal: number | undefined;

  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const int = (n: number): number => Math.floor(next() * n);

  const normal = (): number => {
    if (spareNormal !== undefined) {
      const value = spareNormal;
      spareNormal = undefined;
      return value;
    }
    // 1 - next() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - next()));
    const angle = 2 * Math.PI * next();
    spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };

  const shuffle = <T>(array: T[]): T[] => {
    for (let i = array.length - 1; i > 0; i--) {
      const j = int(i + 1);
      const tmp = array[i] as T;
      array[i] = array[j] as T;
      array[j] = tmp;
    }
    return array;
  };

  const permutation = (n: number): Int32Array => {
    const result = new Int32Array(n);
    for (let i = 0; i < n; i++) result[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = int(i + 1);
      const tmp = result[i] as number;
      result[i] = result[j] as number;
      result[j] = tmp;
    }
    return result;
  };

  return { next, int, normal, shuffle, permutation };
}
