/**
 * Small dense linear algebra in float64 on typed arrays, for the parts of a truncated SVD that are too
 * small to be worth a trip to the tfjs backend: thin QR of a tall sketch, products with small factors,
 * and the Gram matrix of a matrix with one short side.
 *
 * Tall thin matrices are kept column-major here (each column one contiguous run), because every loop
 * of a Householder QR walks down columns. A column-major rows×cols array is, byte for byte, the
 * row-major cols×rows transpose, which is how the callers hand it to the backend without copying.
 */

/** Thin QR of a column-major rows×cols matrix (rows ≥ cols): Q column-major rows×cols, R row-major cols×cols. */
export interface ThinQr {
  q: Float64Array;
  r: Float64Array;
}

/**
 * Householder QR. Unlike Gram–Schmidt it keeps Q orthonormal to rounding even when columns are
 * dependent (a sketch of a rank-deficient W, or a zero column): a zero column gets the identity as its
 * reflector and Q a unit vector orthogonal to the rest. `a` is left untouched.
 */
export function thinQr(a: Float64Array, rows: number, cols: number): ThinQr {
  if (rows < cols) throw new Error(`thinQr: ${rows}×${cols} is wider than tall`);
  const h = Float64Array.from(a.subarray(0, rows * cols));
  // Each reflector is I − β v vᵀ, v stored in place on and below the diagonal of its column.
  const beta = new Float64Array(cols);
  const r = new Float64Array(cols * cols);
  for (let j = 0; j < cols; j++) {
    const v = h.subarray(j * rows + j, (j + 1) * rows);
    const norm2 = dot(v, v);
    const norm = Math.sqrt(norm2);
    const x0 = v[0] as number;
    if (norm > 0) {
      // α = −sign(x0)‖x‖ avoids cancellation in v0 = x0 − α; β = 2/‖v‖² = 1/(‖x‖² − x0·α).
      const alpha = x0 >= 0 ? -norm : norm;
      v[0] = x0 - alpha;
      beta[j] = 1 / (norm2 - x0 * alpha);
      r[j * cols + j] = alpha;
      for (let c = j + 1; c < cols; c++) reflect(v, h.subarray(c * rows + j, (c + 1) * rows), beta[j] as number);
    }
    for (let c = j + 1; c < cols; c++) r[j * cols + c] = h[c * rows + j] as number;
  }
  // Q = H_0 H_1 … H_{cols−1} [I; 0], accumulated backwards so each reflector touches columns ≥ j only.
  const q = new Float64Array(rows * cols);
  for (let j = 0; j < cols; j++) q[j * rows + j] = 1;
  for (let j = cols - 1; j >= 0; j--) {
    if (beta[j] === 0) continue;
    const v = h.subarray(j * rows + j, (j + 1) * rows);
    for (let c = j; c < cols; c++) reflect(v, q.subarray(c * rows + j, (c + 1) * rows), beta[j] as number);
  }
  return { q, r };
}

/** x ← (I − β v vᵀ) x. */
function reflect(v: Float64Array, x: Float64Array, beta: number): void {
  const f = dot(v, x) * beta;
  if (f === 0) return;
  for (let i = 0; i < v.length; i++) x[i] = (x[i] as number) - f * (v[i] as number);
}

/** v·x with four running sums, which lets the JIT overlap the multiply-adds (~1.4× one sum). */
function dot(v: Float64Array, x: Float64Array): number {
  const n = v.length;
  let d0 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    d0 += (v[i] as number) * (x[i] as number);
    d1 += (v[i + 1] as number) * (x[i + 1] as number);
    d2 += (v[i + 2] as number) * (x[i + 2] as number);
    d3 += (v[i + 3] as number) * (x[i + 3] as number);
  }
  for (; i < n; i++) d0 += (v[i] as number) * (x[i] as number);
  return d0 + d1 + d2 + d3;
}

/**
 * A basis of the column space of a column-major rows×cols matrix by LU with partial pivoting:
 * Y = P L U, and P L spans what Y spans. A quarter of a QR's work and well enough conditioned to
 * keep power iterations from collapsing onto the top singular vector (sklearn's randomized_svd
 * normalizes its power iterations the same way). Returns undefined when Y is (numerically) rank
 * deficient, where L is not defined: the caller then takes a QR.
 */
export function luBasis(a: Float64Array, rows: number, cols: number): Float64Array | undefined {
  const l = Float64Array.from(a.subarray(0, rows * cols));
  const perm = Int32Array.from({ length: rows }, (_, i) => i);
  let largest = 0;
  for (const x of l) largest = Math.max(largest, Math.abs(x));
  for (let j = 0; j < cols; j++) {
    const cj = j * rows;
    let p = j;
    for (let i = j + 1; i < rows; i++) if (Math.abs(l[cj + i] as number) > Math.abs(l[cj + p] as number)) p = i;
    const pivot = l[cj + p] as number;
    if (!(Math.abs(pivot) > largest * 1e-12)) return undefined;
    if (p !== j) {
      // Swap whole rows: the columns left of j hold L, those right of it are still being reduced.
      for (let c = 0; c < cols; c++) {
        const cc = c * rows;
        const t = l[cc + j] as number;
        l[cc + j] = l[cc + p] as number;
        l[cc + p] = t;
      }
      const t = perm[j] as number;
      perm[j] = perm[p] as number;
      perm[p] = t;
    }
    for (let i = j + 1; i < rows; i++) l[cj + i] = (l[cj + i] as number) / pivot;
    for (let c = j + 1; c < cols; c++) {
      const cc = c * rows;
      const f = l[cc + j] as number;
      if (f === 0) continue;
      for (let i = j + 1; i < rows; i++) l[cc + i] = (l[cc + i] as number) - f * (l[cj + i] as number);
    }
  }
  // L: unit diagonal, zeros above it, then the rows put back in Y's order.
  const basis = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    const cc = c * rows;
    for (let i = c; i < rows; i++) basis[cc + (perm[i] as number)] = i === c ? 1 : (l[cc + i] as number);
  }
  return basis;
}

/** Column-major rows×cols as row-major (the same matrix), or the reverse with rows and cols swapped. */
export function transposeLayout(a: ArrayLike<number>, rows: number, cols: number): Float64Array;
export function transposeLayout<T extends Float64Array | Float32Array>(a: ArrayLike<number>, rows: number, cols: number, out: T): T;
export function transposeLayout(a: ArrayLike<number>, rows: number, cols: number, out: Float64Array | Float32Array = new Float64Array(rows * cols)): Float64Array | Float32Array {
  for (let c = 0; c < cols; c++) {
    const base = c * rows;
    for (let i = 0; i < rows; i++) out[i * cols + c] = a[base + i] as number;
  }
  return out;
}

/**
 * C = A·B with A column-major rows×inner and B row-major inner×cols (small), C row-major rows×cols.
 * The shapes the SVD needs: a thin orthonormal basis times the small SVD's singular vectors.
 */
export function multiplyColumnMajor(a: Float64Array, rows: number, inner: number, b: ArrayLike<number>, cols: number): Float64Array {
  // Row by row, from a row-major copy of A: every pass reads contiguous memory and B (inner×cols,
  // small) stays in cache.
  const rowMajor = transposeLayout(a, rows, inner);
  const c = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const out = c.subarray(i * cols, (i + 1) * cols);
    for (let p = 0; p < inner; p++) {
      const x = rowMajor[i * inner + p] as number;
      if (x === 0) continue;
      const bp = p * cols;
      for (let j = 0; j < cols; j++) out[j] = (out[j] as number) + x * (b[bp + j] as number);
    }
  }
  return c;
}

/** Σ of squares of every entry, in float64: ‖W‖²_F, the whole spectrum's energy Σσ², without an SVD. */
export function sumOfSquares(w: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < w.length; i++) total += (w[i] as number) ** 2;
  return total;
}

/**
 * The Gram matrix of the short side of a row-major m×n W, in float64: WᵀW (n×n) when n ≤ m, else WWᵀ
 * (m×m). Row-major and symmetric; only its size, min(m, n)², is ever allocated.
 */
export function shortGram(w: ArrayLike<number>, m: number, n: number): { g: Float64Array; size: number } {
  const size = Math.min(m, n);
  const g = new Float64Array(size * size);
  if (n <= m) {
    // WᵀW = Σ over rows of rowᵀ·row: one rank-1 update of the upper triangle per row.
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) row[j] = w[i * n + j] as number;
      for (let a = 0; a < n; a++) {
        const x = row[a] as number;
        if (x === 0) continue;
        const ga = a * n;
        for (let b = a; b < n; b++) g[ga + b] = (g[ga + b] as number) + x * (row[b] as number);
      }
    }
  } else {
    // WWᵀ: entry (a, b) is the dot product of rows a and b.
    for (let a = 0; a < m; a++) {
      for (let b = a; b < m; b++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += (w[a * n + j] as number) * (w[b * n + j] as number);
        g[a * m + b] = dot;
      }
    }
  }
  for (let a = 0; a < size; a++) for (let b = 0; b < a; b++) g[a * size + b] = g[b * size + a] as number;
  return { g, size };
}
