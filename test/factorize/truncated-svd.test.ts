/**
 * The truncated routes of src/factorize/svd.ts against the exact SVD: the randomized method (error
 * within 2% of the exact truncation's on a flat and a decaying spectrum, orthonormal factors,
 * determinism per seed), the Gram route (the exact spectrum, orthonormal vectors), energy targets met
 * from the top values alone with the exact rank, and the shape rule of --svd auto.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { chooseMethod, decompose, gramSvd, randomizedSvd, rankForEnergy, relativeError, svd, truncate, type Svd } from '../../src/factorize/svd.js';
import { frobenius, matmul, randomMatrix, transpose } from '../helpers.js';

before(async () => {
  await initBackend('wasm');
});

/** Columns of a seeded Gaussian rows×cols matrix made orthonormal by modified Gram–Schmidt (row-major). */
function randomOrthonormal(rows: number, cols: number, seed: number): Float64Array {
  const a = randomMatrix(rows, cols, seed);
  for (let c = 0; c < cols; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += (a[i * cols + c] as number) * (a[i * cols + p] as number);
      for (let i = 0; i < rows; i++) a[i * cols + c] = (a[i * cols + c] as number) - dot * (a[i * cols + p] as number);
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += (a[i * cols + c] as number) ** 2;
    for (let i = 0; i < rows; i++) a[i * cols + c] = (a[i * cols + c] as number) / Math.sqrt(norm);
  }
  return a;
}

/** W = U diag(s) Vᵀ with dense random orthonormal U, V: a matrix whose spectrum is exactly s. */
function withSpectrum(m: number, n: number, s: readonly number[], seed: number): Float32Array {
  const r = s.length;
  const u = randomOrthonormal(m, r, seed);
  const v = randomOrthonormal(n, r, seed + 1);
  for (let i = 0; i < m; i++) for (let c = 0; c < r; c++) u[i * r + c] = (u[i * r + c] as number) * (s[c] as number);
  return Float32Array.from(matmul(u, transpose(v, n, r), m, r, n));
}

/** ‖W − A·B‖_F / ‖W‖_F of rank-k factors, in float64. */
function truncationError(w: Float32Array, d: Svd, k: number): number {
  const f = truncate(d, k);
  return frobenius(matmul(f.a, f.b, d.m, k, d.n), w) / frobenius(w);
}

/** max |XᵀX − I| over the first `cols` columns of a row-major rows×stride X. */
function orthonormalityError(x: Float64Array, rows: number, stride: number, cols: number): number {
  let worst = 0;
  for (let a = 0; a < cols; a++) {
    for (let b = a; b < cols; b++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += (x[i * stride + a] as number) * (x[i * stride + b] as number);
      worst = Math.max(worst, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

const M = 256;
const N = 192;
const cases = [
  // A Gaussian matrix: its spectrum (Marchenko–Pastur) is nearly flat at the top, the hard case, where
  // the sketch's σ's fall a few percent short; on a decaying spectrum they converge.
  { label: 'flat (Gaussian 256×192)', w: Float32Array.from(randomMatrix(M, N, 11)), sigmaTolerance: 0.1 },
  { label: 'decaying (σ_i = 0.95^i, 256×192)', w: withSpectrum(M, N, Array.from({ length: N }, (_, i) => 0.95 ** i), 12), sigmaTolerance: 0.01 },
];

describe('randomizedSvd', () => {
  for (const c of cases) {
    describe(c.label, () => {
      const exact = svd(c.w, M, N);
      for (const k of [8, 32]) {
        it(`rank ${k}: error within 2% of the exact truncation's; σ's at most the exact ones, within ${c.sigmaTolerance}`, () => {
          const d = randomizedSvd(c.w, M, N, k, { seed: 7 });
          assert.equal(d.method, 'randomized');
          assert.equal(d.complete, false);
          assert.equal(d.s.length, k);
          const best = relativeError(exact.s, k);
          const got = truncationError(c.w, d, k);
          assert.ok(got <= best * 1.02, `error ${got} vs exact ${best} (ratio ${got / best})`);
          assert.ok(got >= best * (1 - 1e-6), `error ${got} below the optimum ${best}: the test is wrong`);
          for (let i = 0; i < k; i++) {
            // B = QᵀW is W seen through a projection: σ_i(B) ≤ σ_i(W), up to float32 rounding.
            const [got, want] = [d.s[i] as number, exact.s[i] as number];
            assert.ok(got <= want * (1 + 1e-5), `σ${i + 1} = ${got} above the exact ${want}`);
            assert.ok(got >= want * (1 - c.sigmaTolerance), `σ${i + 1} = ${got} vs ${want}`);
          }
          for (let i = 1; i < k; i++) assert.ok((d.s[i - 1] as number) >= (d.s[i] as number));
        });
      }

      it('has orthonormal U and V (within 1e-9) and reports Σσ² = ‖W‖²_F', () => {
        const d = randomizedSvd(c.w, M, N, 32, { seed: 7 });
        assert.ok(orthonormalityError(d.u, M, d.vectors, 32) < 1e-9);
        assert.ok(orthonormalityError(d.v, N, d.vectors, 32) < 1e-9);
        const norm2 = frobenius(c.w) ** 2;
        assert.ok(Math.abs(d.energy - norm2) / norm2 < 1e-12);
      });

      it('is deterministic for a seed and differs for another', () => {
        const a = randomizedSvd(c.w, M, N, 16, { seed: 3 });
        const b = randomizedSvd(c.w, M, N, 16, { seed: 3 });
        const other = randomizedSvd(c.w, M, N, 16, { seed: 4 });
        assert.deepEqual(a.s, b.s);
        assert.deepEqual(a.u, b.u);
        assert.deepEqual(a.v, b.v);
        assert.notDeepEqual(a.u, other.u);
      });
    });
  }

  it('takes a wide matrix and an exactly rank-3 one (orthonormal factors even past the rank)', () => {
    const wide = Float32Array.from(transpose(cases[1]?.w as Float32Array, M, N));
    const d = randomizedSvd(wide, N, M, 16, { seed: 1 });
    const exact = svd(wide, N, M);
    assert.ok(truncationError(wide, d, 16) <= relativeError(exact.s, 16) * 1.02);
    const low = withSpectrum(120, 90, [5, 3, 1], 21);
    const r = randomizedSvd(low, 120, 90, 6, { seed: 1 });
    assert.ok(truncationError(low, r, 3) < 1e-5);
    for (let i = 3; i < 6; i++) assert.ok((r.s[i] as number) < 1e-4 * (r.s[0] as number));
    assert.ok(orthonormalityError(r.u, 120, 6, 6) < 1e-9 && orthonormalityError(r.v, 90, 6, 6) < 1e-9);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    randomizedSvd(cases[0]?.w as Float32Array, M, N, 8, { seed: 1 });
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('gramSvd', () => {
  const shapes: Array<[number, number]> = [[200, 40], [40, 200], [64, 64]];
  for (const [m, n] of shapes) {
    it(`${m}×${n}: the exact spectrum (1e-9 of σ₁), orthonormal vectors and the exact truncation`, () => {
      const w = Float32Array.from(randomMatrix(m, n, m + n));
      const exact = svd(w, m, n);
      const d = gramSvd(w, m, n, 10);
      assert.equal(d.complete, true);
      assert.equal(d.s.length, Math.min(m, n));
      for (let i = 0; i < d.s.length; i++) assert.ok(Math.abs((d.s[i] as number) - (exact.s[i] as number)) < 1e-9 * (exact.s[0] as number));
      assert.ok(orthonormalityError(d.u, m, 10, 10) < 1e-9 && orthonormalityError(d.v, n, 10, 10) < 1e-9);
      assert.ok(Math.abs(truncationError(w, d, 10) - relativeError(exact.s, 10)) < 1e-6);
    });
  }

  it('gives a rank-deficient matrix orthonormal vectors past its rank', () => {
    const low = withSpectrum(80, 30, [4, 2], 31);
    const d = gramSvd(low, 80, 30, 5);
    assert.ok(orthonormalityError(d.u, 80, 5, 5) < 1e-9 && orthonormalityError(d.v, 30, 5, 5) < 1e-9);
    assert.ok(truncationError(low, d, 2) < 1e-5);
  });
});

describe('decompose with an energy target', () => {
  const decaying = withSpectrum(320, 288, Array.from({ length: 288 }, (_, i) => 0.97 ** i), 41);
  const exact = svd(decaying, 320, 288);
  for (const fraction of [0.5, 0.8, 0.9, 0.95, 0.99]) {
    it(`${fraction}: the randomized route finds the exact rank from the top values alone`, () => {
      const want = rankForEnergy(exact.s, fraction);
      const d = decompose(decaying, 320, 288, { energy: fraction, maxRank: 150 }, { method: 'randomized', seed: 42 });
      assert.equal(d.method, 'randomized');
      assert.equal(d.complete, false);
      assert.ok(d.s.length < 288);
      assert.equal(rankForEnergy(d.s, fraction, d.energy), want);
      assert.ok(d.vectors >= want);
    });
  }

  it('says when the share needs more than maxRank values (length + 1)', () => {
    const d = decompose(decaying, 320, 288, { energy: 0.9999, maxRank: 40 }, { method: 'randomized', seed: 42 });
    assert.equal(d.s.length, 40);
    assert.equal(rankForEnergy(d.s, 0.9999, d.energy), 41);
  });
});

describe('chooseMethod (--svd)', () => {
  it('exact is always the full SVD; randomized truncates unless the sketch would be the whole matrix', () => {
    assert.equal(chooseMethod(1024, 1024, 64, 'exact'), 'exact');
    assert.equal(chooseMethod(1024, 1024, 64, 'randomized'), 'randomized');
    assert.equal(chooseMethod(64, 256, 60, 'randomized'), 'gram');
  });

  it('auto: the whole spectrum for small layers, randomized for large ones at modest rank', () => {
    for (const [m, n] of [[64, 256], [256, 128], [128, 10], [512, 64], [576, 32]] as const) {
      assert.notEqual(chooseMethod(m, n, 16, 'auto'), 'randomized', `${m}×${n}`);
    }
    assert.equal(chooseMethod(1024, 1024, 64, 'auto'), 'randomized');
    assert.equal(chooseMethod(4096, 1024, 64, 'auto'), 'randomized');
    assert.equal(chooseMethod(3162, 3162, 64, 'auto'), 'randomized');
    // A tall matrix with a short side of 64 is cheapest through its 64×64 Gram matrix.
    assert.equal(chooseMethod(4096, 64, 16, 'auto'), 'gram');
  });
});
