import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { energyKept, rankForEnergy, relativeError, svd, truncate, type Svd } from '../../src/factorize/svd.js';
import { frobenius, matmul, randomMatrix, transpose } from '../helpers.js';

interface Case {
  label: string;
  m: number;
  n: number;
  w: Float64Array;
  /** The true rank (min(m, n) for the random full-rank cases). */
  rank: number;
}

function rankThree(m: number, n: number, seed: number): Float64Array {
  return matmul(randomMatrix(m, 3, seed), randomMatrix(3, n, seed + 1), m, 3, n);
}

const cases: Case[] = [
  { label: 'tall 40×25', m: 40, n: 25, w: randomMatrix(40, 25, 1), rank: 25 },
  { label: 'wide 25×40', m: 25, n: 40, w: randomMatrix(25, 40, 2), rank: 25 },
  { label: 'square 30×30', m: 30, n: 30, w: randomMatrix(30, 30, 3), rank: 30 },
  { label: 'rank-3 60×50', m: 60, n: 50, w: rankThree(60, 50, 4), rank: 3 },
];

/** max |XᵀX − I| for a row-major rows×cols X. */
function orthonormalityError(x: Float64Array, rows: number, cols: number): number {
  const gram = matmul(transpose(x, rows, cols), x, cols, rows, cols);
  let worst = 0;
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) worst = Math.max(worst, Math.abs((gram[i * cols + j] as number) - (i === j ? 1 : 0)));
  return worst;
}

function reconstruct(d: Svd): Float64Array {
  const r = d.s.length;
  const us = new Float64Array(d.m * r);
  for (let i = 0; i < d.m; i++) for (let c = 0; c < r; c++) us[i * r + c] = (d.u[i * r + c] as number) * (d.s[c] as number);
  return matmul(us, transpose(d.v, d.n, r), d.m, r, d.n);
}

function tailNorm(s: ArrayLike<number>, k: number): number {
  let tail = 0;
  for (let i = k; i < s.length; i++) tail += (s[i] as number) ** 2;
  return Math.sqrt(tail);
}

describe('svd', () => {
  for (const c of cases) {
    describe(c.label, () => {
      const d = svd(c.w, c.m, c.n);
      const r = Math.min(c.m, c.n);
      const norm = frobenius(c.w);

      it('has thin shapes: U m×r, s r, V n×r', () => {
        assert.equal(d.m, c.m);
        assert.equal(d.n, c.n);
        assert.equal(d.s.length, r);
        assert.equal(d.u.length, c.m * r);
        assert.equal(d.v.length, c.n * r);
      });

      it('has orthonormal U and V columns (UᵀU ≈ I, VᵀV ≈ I within 1e-9)', () => {
        // For the rank-3 matrix only the first 3 columns belong to non-zero singular values; the rest
        // span the null space and must still be orthonormal for a thin SVD.
        const eu = orthonormalityError(d.u, c.m, r);
        const ev = orthonormalityError(d.v, c.n, r);
        assert.ok(eu < 1e-9, `max |UᵀU − I| = ${eu}`);
        assert.ok(ev < 1e-9, `max |VᵀV − I| = ${ev}`);
      });

      it('reconstructs W = U·diag(s)·Vᵀ', () => {
        const err = frobenius(reconstruct(d), c.w) / norm;
        assert.ok(err < 1e-12, `‖UΣVᵀ − W‖/‖W‖ = ${err}`);
      });

      it('has singular values descending and non-negative, Σσ² = ‖W‖²', () => {
        for (let i = 0; i < r; i++) assert.ok((d.s[i] as number) >= 0, `σ${i} = ${d.s[i]}`);
        for (let i = 1; i < r; i++) assert.ok((d.s[i - 1] as number) >= (d.s[i] as number), `σ${i - 1} < σ${i}`);
        assert.ok(Math.abs(tailNorm(d.s, 0) - norm) / norm < 1e-12);
        // The numerical rank matches the construction.
        const big = Array.from(d.s).filter((x) => x > 1e-9 * (d.s[0] as number)).length;
        assert.equal(big, c.rank);
      });

      const ks = [...new Set([1, 2, 3, Math.floor(r / 2), r - 1, r])].filter((k) => k >= 1 && k <= r);
      for (const k of ks) {
        it(`rank ${k}: ‖W − A·B‖_F = sqrt(Σ_{i>k} σ_i²) and relativeError/energyKept agree`, () => {
          const f = truncate(d, k);
          assert.equal(f.rank, k);
          assert.ok(f.a instanceof Float32Array && f.b instanceof Float32Array);
          assert.equal(f.a.length, c.m * k);
          assert.equal(f.b.length, k * c.n);
          const error = frobenius(c.w, matmul(f.a, f.b, c.m, k, c.n));
          const tail = tailNorm(d.s, k);
          if (tail > 1e-6 * norm) {
            assert.ok(Math.abs(error - tail) / tail < 1e-5, `error ${error} vs tail ${tail}`);
          } else {
            // Exact at this rank: only float32 rounding of A and B is left.
            assert.ok(error / norm < 1e-6, `error ${error} should vanish (‖W‖ = ${norm})`);
          }
          const rel = relativeError(d.s, k);
          assert.ok(Math.abs(rel - tail / norm) <= 1e-12, `relativeError ${rel} vs ${tail / norm}`);
          assert.ok(Math.abs(rel - error / norm) <= 1e-5 * Math.max(rel, 1e-2), `relativeError ${rel} vs measured ${error / norm}`);
          const kept = energyKept(d.s, k);
          assert.ok(Math.abs(kept + rel * rel - 1) < 1e-12, `energyKept ${kept} + relErr² ≠ 1`);
        });
      }

      it('splits √σ evenly: ‖A[:,c]‖ = ‖B[c,:]‖ = √σ_c', () => {
        const k = Math.min(r, 10);
        const f = truncate(d, k);
        for (let col = 0; col < k; col++) {
          let na = 0;
          let nb = 0;
          for (let i = 0; i < c.m; i++) na += (f.a[i * k + col] as number) ** 2;
          for (let j = 0; j < c.n; j++) nb += (f.b[col * c.n + j] as number) ** 2;
          const root = Math.sqrt(d.s[col] as number);
          const tol = 1e-6 * Math.sqrt(d.s[0] as number);
          assert.ok(Math.abs(Math.sqrt(na) - root) <= tol, `‖A[:,${col}]‖ = ${Math.sqrt(na)} vs √σ = ${root}`);
          assert.ok(Math.abs(Math.sqrt(nb) - root) <= tol, `‖B[${col},:]‖ = ${Math.sqrt(nb)} vs √σ = ${root}`);
        }
      });

      it('truncate refuses ranks outside 1..min(m, n)', () => {
        assert.throws(() => truncate(d, 0), /rank 0 outside 1\.\./);
        assert.throws(() => truncate(d, r + 1), new RegExp(`rank ${r + 1} outside 1\\.\\.${r}`));
        assert.throws(() => truncate(d, -1));
        assert.throws(() => truncate(d, 1.5));
        assert.throws(() => truncate(d, NaN));
      });
    });
  }

  it('rank-3 matrix: the rank-3 factors reproduce W', () => {
    const c = cases[3] as Case;
    const d = svd(c.w, c.m, c.n);
    const f = truncate(d, 3);
    const err = frobenius(c.w, matmul(f.a, f.b, c.m, 3, c.n)) / frobenius(c.w);
    assert.ok(err < 1e-6, `relative error ${err}`);
    assert.ok(relativeError(d.s, 3) < 1e-12);
    assert.ok(energyKept(d.s, 3) > 1 - 1e-15);
    assert.ok(relativeError(d.s, 2) > 1e-3, 'rank 2 is not enough for a rank-3 matrix');
  });

  it('accepts float32 input and refuses a length that does not match m×n', () => {
    const w = Float32Array.from(randomMatrix(6, 4, 9));
    const d = svd(w, 6, 4);
    assert.ok(frobenius(reconstruct(d), w) / frobenius(w) < 1e-12);
    assert.throws(() => svd(w, 5, 4), /expected 20 values for 5×4, got 24/);
  });

  it('zero matrix: σ = 0, energyKept 1, relativeError 0, rankForEnergy 1', () => {
    const d = svd(new Float64Array(12), 4, 3);
    assert.deepEqual(Array.from(d.s), [0, 0, 0]);
    assert.equal(energyKept(d.s, 1), 1);
    assert.equal(relativeError(d.s, 1), 0);
    assert.equal(rankForEnergy(d.s, 0.99), 1);
  });
});

describe('energyKept / relativeError / rankForEnergy on a hand-made spectrum', () => {
  // s = [3, 2, 1]: energies 9, 4, 1 of 14; cumulative shares 9/14 ≈ 0.643, 13/14 ≈ 0.929, 1.
  const s = [3, 2, 1];

  it('energyKept and relativeError by hand', () => {
    assert.ok(Math.abs(energyKept(s, 0) - 0) < 1e-15);
    assert.ok(Math.abs(energyKept(s, 1) - 9 / 14) < 1e-15);
    assert.ok(Math.abs(energyKept(s, 2) - 13 / 14) < 1e-15);
    assert.equal(energyKept(s, 3), 1);
    assert.ok(Math.abs(relativeError(s, 1) - Math.sqrt(5 / 14)) < 1e-15);
    assert.ok(Math.abs(relativeError(s, 2) - Math.sqrt(1 / 14)) < 1e-15);
    assert.equal(relativeError(s, 3), 0);
  });

  const expected: Array<[number, number]> = [
    [0, 1],
    [0.5, 1],
    [9 / 14, 1], // exactly the first share: reached at k = 1
    [0.65, 2],
    [0.9, 2],
    [13 / 14, 2],
    [0.93, 3],
    [0.999, 3],
    [1, 3],
  ];
  for (const [fraction, k] of expected) {
    it(`rankForEnergy([3,2,1], ${fraction.toFixed(4)}) = ${k}`, () => {
      assert.equal(rankForEnergy(s, fraction), k);
    });
  }

  it('rankForEnergy is monotone in the fraction and minimal on a random spectrum', () => {
    const d = svd(randomMatrix(30, 20, 11), 30, 20);
    let previous = 0;
    for (let f = 0; f <= 1.0000001; f += 0.01) {
      const fraction = Math.min(1, f);
      const k = rankForEnergy(d.s, fraction);
      assert.ok(k >= previous, `rank ${k} at ${fraction} < ${previous}`);
      assert.ok(k >= 1 && k <= 20);
      assert.ok(energyKept(d.s, k) >= fraction - 1e-12, `k=${k} keeps ${energyKept(d.s, k)} < ${fraction}`);
      if (k > 1) assert.ok(energyKept(d.s, k - 1) < fraction, `k=${k} is not the smallest for ${fraction}`);
      previous = k;
    }
  });
});
