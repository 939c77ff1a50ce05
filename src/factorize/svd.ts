/**
 * Singular value decomposition and its truncation: exact, through the Gram matrix, or randomized.
 *
 * W[m×n] = U Σ Vᵀ. Keeping the k largest singular values gives the best rank-k approximation in the
 * Frobenius norm (Eckart–Young), and its error is exactly the tail of the spectrum:
 * ‖W − W_k‖_F² = Σ_{i>k} σ_i². We split √Σ between the two factors (A = U_k √Σ_k, B = √Σ_k V_kᵀ) so
 * both have the same scale, which keeps fine-tuning with one learning rate well conditioned.
 * The whole spectrum's energy Σσ² is ‖W‖²_F, a sum of squares that needs no SVD, so shares of it
 * (energy kept, relative error) only ever need the top singular values.
 *
 * Three ways to the same factors, chosen per shape by their measured cost (`chooseMethod`):
 * - exact: ml-matrix's Golub–Kahan SVD, O(max·min²) with a large constant (32 s for 1024²).
 * - Gram: with s = min(m, n) small, G = WᵀW (or WWᵀ), s×s, in float64; its eigenpairs are (σ², V),
 *   and U = W V Σ⁻¹ (orthonormalized by a QR, which also covers σ = 0). Gives the whole spectrum.
 *   Squaring costs precision only below σ_i/σ_1 ≈ 1e-8, far under float32 weights' own rounding.
 * - randomized (Halko, Martinsson & Tropp, SIAM Review 2011), for the top k only: with l = k + p
 *   (p oversamples), a Gaussian Ω [n×l], Y = W Ω spans nearly the top-l left singular space. q power
 *   iterations Y ← W(WᵀY), each factor re-orthonormalized by a QR (else the columns all collapse
 *   onto u₁ in float32), sharpen it to the decay (σ_i/σ_{l+1})^(2q+1). With Q = qr(Y) [m×l],
 *   B = QᵀW [l×n] is small, and W ≈ Q B. B's SVD comes from a QR, Bᵀ = Q₂R: then B = Rᵀ Q₂ᵀ, and
 *   Rᵀ = U_r Σ V_rᵀ (l×l) gives U = Q U_r, V = Q₂ V_r. The four products with W run on the active
 *   tfjs backend; everything of size l stays here in float64.
 */
import { Matrix, SVD, EigenvalueDecomposition } from 'ml-matrix';
import { tf } from '../tf.js';
import { createRng } from '../data/random.js';
import { luBasis, multiplyColumnMajor, shortGram, sumOfSquares, thinQr, transposeLayout } from './linalg.js';

/**
 * A thin SVD, possibly truncated: the top singular values, descending, and singular vectors for the
 * first `vectors` of them; U [m×vectors] and V [n×vectors] row-major.
 */
export interface Svd {
  m: number;
  n: number;
  u: Float64Array;
  s: Float64Array;
  v: Float64Array;
  /** Columns of U and V. */
  vectors: number;
  /** True when `s` holds all min(m, n) singular values, false when only the top ones. */
  complete: boolean;
  /** Σ of every σ², = ‖W‖²_F, whether or not `s` holds them all. */
  energy: number;
  method: 'exact' | 'gram' | 'randomized';
}

/** How `--svd` chooses: exact always, randomized always (where it is a truncation), or by shape. */
export type SvdMethod = 'exact' | 'randomized' | 'auto';

/** What to decompose for: a rank, or the smallest rank keeping a share of Σσ², looked for up to maxRank. */
export type SvdTarget = { rank: number } | { energy: number; maxRank: number };

export interface SvdOptions {
  method?: SvdMethod;
  /** Seed of the randomized sketch; the same seed gives the same factors on the same backend. */
  seed?: number;
  /** Power iterations of the randomized method (default 3: with 2, a Gaussian 512² at rank 64 misses the exact error by 2.1%; bench/svd.ts). */
  powerIterations?: number;
  /** Oversampling of the randomized method (default 10, as sklearn's randomized_svd). */
  oversamples?: number;
}

export const DEFAULT_POWER_ITERATIONS = 3;
export const DEFAULT_OVERSAMPLES = 10;

/** Thin SVD of the row-major m×n matrix `w`: all min(m, n) values and vectors (ml-matrix). */
export function svd(w: ArrayLike<number>, m: number, n: number): Svd {
  if (w.length !== m * n) throw new Error(`svd: expected ${m * n} values for ${m}×${n}, got ${w.length}`);
  const matrix = new Matrix(m, n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) matrix.set(i, j, w[i * n + j] as number);
  const result = new SVD(matrix, { autoTranspose: true });
  const r = Math.min(m, n);
  const left = result.leftSingularVectors;
  const right = result.rightSingularVectors;
  const diagonal = result.diagonal;
  // Sort descending: ml-matrix returns them sorted, but we do not rely on it.
  const order = [...Array(r).keys()].sort((a, b) => (diagonal[b] ?? 0) - (diagonal[a] ?? 0));
  const u = new Float64Array(m * r);
  const v = new Float64Array(n * r);
  const s = new Float64Array(r);
  order.forEach((src, dst) => {
    s[dst] = Math.max(0, diagonal[src] ?? 0);
    for (let i = 0; i < m; i++) u[i * r + dst] = left.get(i, src);
    for (let j = 0; j < n; j++) v[j * r + dst] = right.get(j, src);
  });
  return { m, n, u, s, v, vectors: r, complete: true, energy: sumOfSquares(w), method: 'exact' };
}

/**
 * The whole spectrum through the Gram matrix of the short side, and singular vectors for the top
 * `vectors` values. Exact to float64 rounding of σ² (see the header).
 */
export function gramSvd(w: ArrayLike<number>, m: number, n: number, vectors: number): Svd {
  checkSize(w, m, n);
  const { g, size } = shortGram(w, m, n);
  const k = clampVectors(vectors, size);
  const rows: number[][] = [];
  for (let i = 0; i < size; i++) rows.push(Array.from(g.subarray(i * size, (i + 1) * size)));
  const eig = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = eig.realEigenvalues;
  const order = [...Array(size).keys()].sort((a, b) => (values[b] ?? 0) - (values[a] ?? 0));
  const s = Float64Array.from(order, (i) => Math.sqrt(Math.max(0, values[i] ?? 0)));
  const basis = eig.eigenvectorMatrix;
  // The short side's singular vectors: eigenvectors, top k, row-major size×k.
  const short = new Float64Array(size * k);
  for (let i = 0; i < size; i++) for (let c = 0; c < k; c++) short[i * k + c] = basis.get(i, order[c] as number);
  // The long side's: W V (or Wᵀ U) has orthogonal columns of norms σ; a QR makes them orthonormal to
  // rounding and gives σ = 0 columns a direction, and its signs are fixed so that each column points
  // along W V's own column.
  const long = n <= m ? multiplyRowMajor(w, m, n, short, k, false) : multiplyRowMajor(w, m, n, short, k, true);
  const longSize = Math.max(m, n);
  const { q, r } = thinQr(transposeLayout(long, k, longSize), longSize, k);
  const longVectors = new Float64Array(longSize * k);
  for (let c = 0; c < k; c++) {
    const sign = (r[c * k + c] as number) < 0 ? -1 : 1;
    for (let i = 0; i < longSize; i++) longVectors[i * k + c] = sign * (q[c * longSize + i] as number);
  }
  const [u, v] = n <= m ? [longVectors, short] : [short, longVectors];
  return { m, n, u, s, v, vectors: k, complete: true, energy: sumOfSquares(w), method: 'gram' };
}

/**
 * The top `rank` singular values and vectors by the randomized method (see the header), with the big
 * products on the active tfjs backend. Deterministic for a given seed and backend.
 */
export function randomizedSvd(w: ArrayLike<number>, m: number, n: number, rank: number, options: SvdOptions = {}): Svd {
  checkSize(w, m, n);
  const short = Math.min(m, n);
  const k = clampVectors(rank, short);
  const l = Math.min(short, k + (options.oversamples ?? DEFAULT_OVERSAMPLES));
  const iterations = options.powerIterations ?? DEFAULT_POWER_ITERATIONS;
  const rng = createRng(options.seed ?? 0);
  const omega = new Float32Array(n * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  const products = productsWith(w, m, n);
  try {
    // Y = W Ω, then (re-orthonormalized) Y ← W (Wᵀ Q) q times. Column-major Q [m×l] is the row-major
    // Qᵀ [l×m] the backend multiplies by, and the row-major Qᵀ W [l×n] it returns is column-major
    // (Qᵀ W)ᵀ = Wᵀ Q [n×l]: the layouts chain with no copies but the one transposition per W·X.
    let y = products.times(omega, l);
    for (let i = 0; i < iterations; i++) {
      const q = normalize(transposeLayout(y, l, m), m, l);
      const z = products.transposeTimes(q, l);
      const p = normalize(z, n, l);
      y = products.times(transposeLayout(p, n, l, new Float32Array(n * l)), l);
    }
    const q = thinQr(transposeLayout(y, l, m), m, l).q;
    // Bᵀ = Wᵀ Q [n×l], column-major; Bᵀ = Q₂ R, so B = Rᵀ Q₂ᵀ and Rᵀ's small SVD finishes the job.
    const bt = products.transposeTimes(q, l);
    const { q: q2, r } = thinQr(bt, n, l);
    const small = new SVD(new Matrix(transposedRows(r, l)), { autoTranspose: false });
    const diagonal = small.diagonal;
    const order = [...Array(l).keys()].sort((a, b) => (diagonal[b] ?? 0) - (diagonal[a] ?? 0)).slice(0, k);
    const left = new Float64Array(l * k);
    const right = new Float64Array(l * k);
    for (let i = 0; i < l; i++) {
      for (let c = 0; c < k; c++) {
        left[i * k + c] = small.leftSingularVectors.get(i, order[c] as number);
        right[i * k + c] = small.rightSingularVectors.get(i, order[c] as number);
      }
    }
    const s = Float64Array.from(order, (i) => Math.max(0, diagonal[i] ?? 0));
    const u = multiplyColumnMajor(q, m, l, left, k);
    const v = multiplyColumnMajor(q2, n, l, right, k);
    // With l = min(m, n) the sketch spans W's whole range: the result is complete.
    return { m, n, u, s, v, vectors: k, complete: k === short, energy: sumOfSquares(w), method: 'randomized' };
  } finally {
    products.dispose();
  }
}

/**
 * Decompose for a target with the method `options.method` asks for or, for 'auto', the cheapest by
 * the cost model below. An energy target is met from the top values alone: ‖W‖²_F is known, so the
 * randomized method doubles k until the top k reach the share (or k reaches maxRank) and never
 * computes the whole spectrum. The result holds vectors for at least the target rank.
 */
export function decompose(w: ArrayLike<number>, m: number, n: number, target: SvdTarget, options: SvdOptions = {}): Svd {
  checkSize(w, m, n);
  const short = Math.min(m, n);
  const cap = 'rank' in target ? target.rank : Math.max(1, Math.min(target.maxRank, short));
  // For an energy target, 'auto' prices the search at its worst (growing to the cap), while a forced
  // randomized method only needs its first sketch to be a truncation.
  const asked = options.method ?? 'auto';
  const method = chooseMethod(m, n, 'rank' in target || asked === 'auto' ? cap : Math.min(cap, INITIAL_ENERGY_RANK), asked);
  if (method === 'exact') return svd(w, m, n);
  if (method === 'gram') {
    if ('rank' in target) return gramSvd(w, m, n, target.rank);
    // The whole spectrum first (cheap), then vectors for the rank it asks for only.
    const spectrum = gramSvd(w, m, n, 1);
    const rank = Math.min(short, rankForEnergy(spectrum.s, target.energy));
    return rank <= 1 ? spectrum : gramSvd(w, m, n, rank);
  }
  if ('rank' in target) return randomizedSvd(w, m, n, target.rank, options);
  const energy = sumOfSquares(w);
  for (let k = Math.min(cap, INITIAL_ENERGY_RANK); ; k = Math.min(cap, 2 * k)) {
    const d = randomizedSvd(w, m, n, k, options);
    // The sketch underestimates the σ's near its edge (most on flat spectra), which would tip the
    // share past the target one value late; values in the first half of the sketch are settled.
    const rank = rankForEnergy(d.s, target.energy, energy);
    if (rank <= k / 2) return d;
    if (k >= cap) {
      // No room to grow: settle the edge with more power iterations instead, when it matters (the
      // target is reached, or nearly: the sketch's shortfall is a few percent at most).
      const close = rank <= k || energyKept(d.s, k, energy) >= target.energy - 0.05;
      const iterations = (options.powerIterations ?? DEFAULT_POWER_ITERATIONS) + 2;
      return close ? randomizedSvd(w, m, n, k, { ...options, powerIterations: iterations }) : d;
    }
  }
}

/** The first k tried for an energy target; doubling from here costs at most twice the last try. */
const INITIAL_ENERGY_RANK = 32;

/**
 * Cost model for 'auto', in units of about a nanosecond on this project's 2-core reference machine
 * (bench/svd.ts prints the measured times the constants come from): the exact SVD's Golub–Kahan
 * sweeps, the Gram route's float64 product and symmetric eigensolver, and the randomized method's
 * backend products, QRs and small SVD. A truncation is taken only where the whole spectrum is not
 * cheap and the truncation beats it by a clear margin: the whole spectrum is worth a little time.
 */
export function chooseMethod(m: number, n: number, rank: number, method: SvdMethod): 'exact' | 'gram' | 'randomized' {
  const short = Math.min(m, n);
  const long = Math.max(m, n);
  const l = Math.min(short, rank + DEFAULT_OVERSAMPLES);
  if (method === 'exact') return 'exact';
  // A sketch as wide as the short side is no truncation: the complete routes are cheaper.
  if (method === 'randomized') return l < short ? 'randomized' : short <= GRAM_MAX ? 'gram' : 'exact';
  const exact = COST.exact * long * short * short;
  const gram = COST.gramProduct * long * short * short + COST.eigen * short ** 3;
  const randomized =
    (2 * DEFAULT_POWER_ITERATIONS + 2) * (COST.backendProduct * m * n * l + COST.qr * long * l * l) + COST.exact * l ** 3;
  const complete = Math.min(exact, gram);
  if (l < short && complete > COMPLETE_BUDGET && randomized * RANDOMIZED_MARGIN < complete) return 'randomized';
  return gram <= exact ? 'gram' : 'exact';
}

/** Largest short side the Gram route takes when asked for a randomized truncation it cannot give. */
const GRAM_MAX = 512;
const RANDOMIZED_MARGIN = 3;
/** A whole spectrum this cheap (about 0.2 s) is always worth having. */
const COMPLETE_BUDGET = 2e8;
const COST = { exact: 30, gramProduct: 1.5, eigen: 30, backendProduct: 0.4, qr: 4 };

/** Products with W on the active backend: W·X and Wᵀ·Q, in the layouts randomizedSvd chains. */
interface Products {
  /** W [m×n] times the row-major X [n×l]: row-major [m×l]. */
  times(x: Float32Array, l: number): Float32Array;
  /** Qᵀ W for Q column-major [m×l]: row-major [l×n], i.e. Wᵀ Q column-major [n×l]. */
  transposeTimes(q: Float64Array, l: number): Float64Array;
  dispose(): void;
}

function productsWith(w: ArrayLike<number>, m: number, n: number): Products {
  const kernel = tf.tensor2d(w instanceof Float32Array ? w : Float32Array.from(w), [m, n], 'float32');
  return {
    times(x, l) {
      return read(tf.tidy(() => tf.matMul(kernel, tf.tensor2d(x, [n, l], 'float32'))));
    },
    transposeTimes(q, l) {
      return Float64Array.from(read(tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(q), [l, m], 'float32'), kernel))));
    },
    dispose() {
      kernel.dispose();
    },
  };
}

/** A well-conditioned basis between power iterations: LU's (cheap), or a QR's where LU breaks down. */
function normalize(y: Float64Array, rows: number, cols: number): Float64Array {
  return luBasis(y, rows, cols) ?? thinQr(y, rows, cols).q;
}

/**
 * A product's values, and the tensor freed. (Outside tf.tidy on purpose: tidy walks whatever its
 * callback returns, element by element for a typed array, which cost more than the products.)
 */
function read(t: tf.Tensor): Float32Array {
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

/** W V for row-major V [n×k] (transposed: Wᵀ U for U [m×k]), row-major, in float64. */
function multiplyRowMajor(w: ArrayLike<number>, m: number, n: number, x: Float64Array, k: number, transposed: boolean): Float64Array {
  const out = new Float64Array((transposed ? n : m) * k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const a = w[i * n + j] as number;
      if (a === 0) continue;
      // W V: row i gains a·(row j of V); Wᵀ U: row j gains a·(row i of U).
      const o = transposed ? j * k : i * k;
      const src = transposed ? i * k : j * k;
      for (let c = 0; c < k; c++) out[o + c] = (out[o + c] as number) + a * (x[src + c] as number);
    }
  }
  return out;
}

/** Rows of Rᵀ for R row-major l×l, as ml-matrix takes them. */
function transposedRows(r: Float64Array, l: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < l; i++) {
    const row = new Array<number>(l);
    for (let j = 0; j < l; j++) row[j] = r[j * l + i] as number;
    rows.push(row);
  }
  return rows;
}

function checkSize(w: ArrayLike<number>, m: number, n: number): void {
  if (w.length !== m * n) throw new Error(`svd: expected ${m * n} values for ${m}×${n}, got ${w.length}`);
}

function clampVectors(k: number, short: number): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`svd: rank ${k} is not a positive integer`);
  return Math.min(k, short);
}

/** Two factors with A·B ≈ W: A [m×k] and B [k×n], row-major float32. */
export interface Factors {
  rank: number;
  a: Float32Array;
  b: Float32Array;
}

/** Rank-k factors of the decomposed matrix, √σ on each side. */
export function truncate(d: Svd, k: number): Factors {
  const r = d.vectors;
  if (!Number.isInteger(k) || k < 1 || k > r) throw new Error(`truncate: rank ${k} outside 1..${r}`);
  const a = new Float32Array(d.m * k);
  const b = new Float32Array(k * d.n);
  for (let c = 0; c < k; c++) {
    const root = Math.sqrt(d.s[c] as number);
    for (let i = 0; i < d.m; i++) a[i * k + c] = (d.u[i * r + c] as number) * root;
    for (let j = 0; j < d.n; j++) b[c * d.n + j] = (d.v[j * r + c] as number) * root;
  }
  return { rank: k, a, b };
}

/** Σσ² of the spectrum `s`, or `total` where s holds only the top values. */
function spectrumEnergy(s: ArrayLike<number>, total: number | undefined): number {
  if (total !== undefined) return total;
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += (s[i] as number) ** 2;
  return sum;
}

/** Share of Σσ² kept by the first k singular values; `total` is Σσ² when s holds only the top ones. */
export function energyKept(s: ArrayLike<number>, k: number, total?: number): number {
  let kept = 0;
  for (let i = 0; i < Math.min(k, s.length); i++) kept += (s[i] as number) ** 2;
  const all = spectrumEnergy(s, total);
  return all === 0 ? 1 : Math.min(1, kept / all);
}

/** ‖W − W_k‖_F / ‖W‖_F, which Eckart–Young gives from the spectrum alone (or its top and Σσ²). */
export function relativeError(s: ArrayLike<number>, k: number, total?: number): number {
  const all = spectrumEnergy(s, total);
  if (all === 0) return 0;
  if (total === undefined) {
    // Sum the tail itself rather than 1 − kept: small errors would drown in rounding.
    let tail = 0;
    for (let i = k; i < s.length; i++) tail += (s[i] as number) ** 2;
    return Math.sqrt(tail / all);
  }
  let kept = 0;
  for (let i = 0; i < Math.min(k, s.length); i++) kept += (s[i] as number) ** 2;
  return Math.sqrt(Math.max(0, all - kept) / all);
}

/**
 * The smallest k whose energy share reaches `fraction`. With `total` (Σσ² when s holds only the top
 * values), a share the known values do not reach gives s.length + 1: more than is known.
 */
export function rankForEnergy(s: ArrayLike<number>, fraction: number, total?: number): number {
  const all = spectrumEnergy(s, total);
  if (all === 0) return 1;
  let kept = 0;
  for (let i = 0; i < s.length; i++) {
    kept += (s[i] as number) ** 2;
    if (kept / all >= fraction - 1e-12) return i + 1;
  }
  return total === undefined ? s.length : s.length + 1;
}
