/**
 * The report's measured output error (calibrate.ts outputError) is ‖X(W − AB)‖_F / ‖XW‖_F on the
 * calibration inputs: computed through G = XᵀX's eigenbasis and QᵀW, it equals the same quantity
 * computed from X itself, for a full G (fewer rows than inputs, so G is singular) and a diagonal one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outputError } from '../../src/compress/calibrate.js';
import { diagonalBasis, eigenbasis, rotate } from '../../src/factorize/index.js';
import { matmul as mul, randomFloat32, transpose } from '../helpers.js';

const norm2 = (x: ArrayLike<number>): number => Array.from(x).reduce((sum, v) => sum + v * v, 0);

describe('outputError', () => {
  const [rows, m, n, k] = [9, 12, 7, 3];
  const w = randomFloat32(m * n, 1);
  const a = randomFloat32(m * k, 2);
  const b = randomFloat32(k * n, 3);
  const ab = mul(a, b, m, k, n);
  const delta = Float64Array.from(w, (v, i) => v - (ab[i] as number));

  it('through a full (singular) G equals ‖X(W − AB)‖ / ‖XW‖ from X', () => {
    const x = randomFloat32(rows * m, 4);
    const g = mul(transpose(x, rows, m), x, m, rows, m);
    const direct = Math.sqrt(norm2(mul(x, delta, rows, m, n)) / norm2(mul(x, w, rows, m, n)));
    const basis = eigenbasis(g, m);
    const measured = outputError(basis, rotate(w, m, n, basis) as Float64Array, a, b, m, n, k);
    assert.ok(Math.abs(measured - direct) <= 1e-9 * direct, `${measured} vs ${direct}`);
  });

  it('through a diagonal G (token counts) equals the weighted rows of W − AB', () => {
    const counts = Float64Array.from({ length: m }, (_, i) => (i % 4) * 3);
    let error = 0;
    let total = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        error += (counts[i] as number) * (delta[i * n + j] as number) ** 2;
        total += (counts[i] as number) * (w[i * n + j] as number) ** 2;
      }
    }
    const measured = outputError(diagonalBasis(counts), w, a, b, m, n, k);
    assert.ok(Math.abs(measured - Math.sqrt(error / total)) <= 1e-12, `${measured}`);
  });
});
