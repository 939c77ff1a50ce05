/**
 * Singular value decomposition and its truncation. The one user of ml-matrix.
 *
 * W[m×n] = U Σ Vᵀ. Keeping the k largest singular values gives the best rank-k approximation in the
 * Frobenius norm (Eckart–Young), and its error is exactly the tail of the spectrum:
 * ‖W − W_k‖_F² = Σ_{i>k} σ_i². We split √Σ between the two factors (A = U_k √Σ_k, B = √Σ_k V_kᵀ) so
 * both have the same scale, which keeps fine-tuning with one learning rate well conditioned.
 */
import { Matrix, SVD } from 'ml-matrix';

/** A thin SVD: U [m×r], s [r] descending, V [n×r], r = min(m, n); all row-major. */
export interface Svd {
  m: number;
  n: number;
  u: Float64Array;
  s: Float64Array;
  v: Float64Array;
}

/** Thin SVD of the row-major m×n matrix `w`. */
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
  return { m, n, u, s, v };
}

/** Two factors with A·B ≈ W: A [m×k] and B [k×n], row-major float32. */
export interface Factors {
  rank: number;
  a: Float32Array;
  b: Float32Array;
}

/** Rank-k factors of the decomposed matrix, √σ on each side. */
export function truncate(d: Svd, k: number): Factors {
  const r = d.s.length;
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

/** Share of Σσ² kept by the first k singular values. */
export function energyKept(s: ArrayLike<number>, k: number): number {
  let kept = 0;
  let total = 0;
  for (let i = 0; i < s.length; i++) {
    const e = (s[i] as number) ** 2;
    total += e;
    if (i < k) kept += e;
  }
  return total === 0 ? 1 : kept / total;
}

/** ‖W − W_k‖_F / ‖W‖_F, which Eckart–Young gives from the spectrum alone. */
export function relativeError(s: ArrayLike<number>, k: number): number {
  // Sum the tail itself rather than 1 − kept: small errors would drown in rounding.
  let tail = 0;
  let total = 0;
  for (let i = 0; i < s.length; i++) {
    const e = (s[i] as number) ** 2;
    total += e;
    if (i >= k) tail += e;
  }
  return total === 0 ? 0 : Math.sqrt(tail / total);
}

/** The smallest k whose energy share reaches `fraction`. */
export function rankForEnergy(s: ArrayLike<number>, fraction: number): number {
  let total = 0;
  for (let i = 0; i < s.length; i++) total += (s[i] as number) ** 2;
  if (total === 0) return 1;
  let kept = 0;
  for (let i = 0; i < s.length; i++) {
    kept += (s[i] as number) ** 2;
    if (kept / total >= fraction - 1e-12) return i + 1;
  }
  return s.length;
}
