/**
 * Truncated SVD at rank 64: the randomized method (products on the active tfjs backend) and the Gram
 * route against ml-matrix's full SVD, on the same matrices in the same run. Prints time and
 * reconstruction error of each, and the ratios.
 *
 *   npx tsx bench/svd.ts [--quick] [--backend wasm|cpu]
 *
 * Matrices: Gaussian (a nearly flat spectrum, the randomized method's hard case) at 256², 1024² and
 * 4096×1024. The full SVD of 4096×1024 takes minutes; --quick skips timing it and takes the exact
 * error from the Gram route (the same spectrum to float64 rounding).
 */
import { initBackend, type BackendChoice } from '../src/tf.js';
import { chooseMethod, gramSvd, randomizedSvd, relativeError, svd, type Svd } from '../src/factorize/svd.js';
import { createRng } from '../src/data/random.js';

export interface SvdBenchRow {
  shape: string;
  rank: number;
  /** ms of ml-matrix's full SVD, or null when skipped (--quick). */
  exactMs: number | null;
  gramMs: number | null;
  randomizedMs: number;
  /** ‖W − W_k‖/‖W‖ of the exact truncation (from the full spectrum) and of the randomized factors. */
  exactError: number;
  randomizedError: number;
  auto: string;
}

const RANK = 64;

/** Seeded Gaussian m×n, float32. */
function gaussian(m: number, n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const w = new Float32Array(m * n);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  return w;
}

/**
 * ‖W − U_k Σ_k V_kᵀ‖_F / ‖W‖_F without forming the product: with orthonormal U_k,
 * ‖W − U_k U_kᵀ W‖² = ‖W‖² − ‖U_kᵀ W‖², and the randomized factors are exactly U_k (U_kᵀ W).
 */
function projectionError(w: Float32Array, d: Svd, k: number): number {
  const { m, n, u, vectors } = d;
  const projected = new Float64Array(k * n);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) {
      const x = u[i * vectors + c] as number;
      const row = c * n;
      for (let j = 0; j < n; j++) projected[row + j] = (projected[row + j] as number) + x * (w[i * n + j] as number);
    }
  }
  let kept = 0;
  for (const x of projected) kept += x * x;
  let total = 0;
  for (const x of w) total += x * x;
  return Math.sqrt(Math.max(0, total - kept) / total);
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = f();
  return { value, ms: performance.now() - start };
}

export async function benchSvd(options: { quick?: boolean; backend?: BackendChoice; log?: (line: string) => void } = {}): Promise<SvdBenchRow[]> {
  await initBackend(options.backend ?? 'wasm');
  const log = options.log ?? (() => {});
  // Warm the backend's matmul and the JIT on a small case first: the first call pays for both.
  randomizedSvd(gaussian(128, 128, 1), 128, 128, 8);
  const rows: SvdBenchRow[] = [];
  for (const [m, n] of [[256, 256], [1024, 1024], [4096, 1024]] as const) {
    const w = gaussian(m, n, m + n);
    const randomized = timed(() => randomizedSvd(w, m, n, RANK, { seed: 42 }));
    log(`  ${m}×${n}: randomized ${randomized.ms.toFixed(0)} ms`);
    const gram = Math.min(m, n) <= 1024 ? timed(() => gramSvd(w, m, n, RANK)) : null;
    if (gram !== null) log(`  ${m}×${n}: gram ${gram.ms.toFixed(0)} ms`);
    const skipExact = options.quick === true && m * n > 1024 * 1024;
    const exact = skipExact ? null : timed(() => svd(w, m, n));
    if (exact !== null) log(`  ${m}×${n}: exact ${exact.ms.toFixed(0)} ms`);
    const spectrum = (exact?.value ?? gram?.value) as Svd;
    rows.push({
      shape: `${m}×${n}`,
      rank: RANK,
      exactMs: exact?.ms ?? null,
      gramMs: gram?.ms ?? null,
      randomizedMs: randomized.ms,
      exactError: relativeError(spectrum.s, RANK),
      randomizedError: projectionError(w, randomized.value, RANK),
      auto: chooseMethod(m, n, RANK, 'auto'),
    });
  }
  return rows;
}

/** One line per matrix: the ratios the issue asks for. */
export function formatSvdRows(rows: readonly SvdBenchRow[]): string[] {
  return rows.map((r) => {
    const exact = r.exactMs === null ? 'exact not timed (--quick)' : `exact ${(r.exactMs / 1000).toFixed(2)} s`;
    const speedup = r.exactMs === null ? '' : ` → ${(r.exactMs / r.randomizedMs).toFixed(0)}× faster`;
    const gram = r.gramMs === null ? '' : `, Gram route ${(r.gramMs / 1000).toFixed(2)} s`;
    return `SVD ${r.shape} rank ${r.rank}: randomized ${(r.randomizedMs / 1000).toFixed(2)} s vs ${exact}${speedup}${gram}; error ${r.randomizedError.toFixed(4)} vs exact ${r.exactError.toFixed(4)} (×${(r.randomizedError / r.exactError).toFixed(4)}); auto → ${r.auto}`;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  const backendAt = process.argv.indexOf('--backend');
  const backend = (backendAt > 0 ? process.argv[backendAt + 1] : 'wasm') as BackendChoice;
  const rows = await benchSvd({ quick, backend, log: (line) => console.error(line) });
  for (const line of formatSvdRows(rows)) console.log(line);
}
