import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { truncate } from '../../src/factorize/svd.js';
import { centeredGram, correctedBias, eigenbasis, regularize, whitenedSvd } from '../../src/factorize/whiten.js';
import { inputGram } from '../../src/compress/calibrate.js';
import type { Dataset } from '../../src/data/types.js';
import { matmul, randomMatrix, transpose } from '../helpers.js';

/** Σ_{i>k} σ_i² of a complete spectrum. */
function tail(s: Float64Array, k: number): number {
  let sum = 0;
  for (let i = k; i < s.length; i++) sum += (s[i] as number) ** 2;
  return sum;
}

function squaredNorm(x: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i] as number) ** 2;
  return sum;
}

/** Inputs with very unequal scales per column and correlations, so whitening differs from plain SVD. */
function correlatedInputs(rows: number, m: number, seed: number): Float64Array {
  const z = randomMatrix(rows, m, seed);
  const mix = randomMatrix(m, m, seed + 1);
  const x = matmul(z, mix, rows, m, m);
  for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) x[r * m + j] = (x[r * m + j] as number) * (j % 3 === 0 ? 5 : 0.3);
  return x;
}

const noRegularization = { rcond: 0, ridge: 0 };

describe('whitened truncation (Dense)', () => {
  const rows = 200;
  const m = 12;
  const n = 9;
  const x = correlatedInputs(rows, m, 7);
  const w = randomMatrix(m, n, 11);
  const g = matmul(transpose(x, rows, m), x, m, rows, m);
  const basis = eigenbasis(g, m);

  for (const k of [1, 3, 6]) {
    it(`‖X(W − AB)‖²_F equals the discarded whitened σ² at rank ${k}`, () => {
      const d = whitenedSvd(w, m, n, basis, k, noRegularization);
      assert.equal(d.complete, true);
      const { a, b } = truncate(d, k);
      const delta = matmul(a, b, m, k, n).map((v, i) => (w[i] as number) - v);
      const error = squaredNorm(matmul(x, delta, rows, m, n));
      const predicted = tail(d.s, k);
      assert.ok(predicted > 0);
      assert.ok(Math.abs(error - predicted) <= 1e-4 * predicted, `error ${error} vs Σσ² tail ${predicted}`);
      // And the whole spectrum is the output energy: Σσ(M)² = ‖XW‖²_F.
      const all = tail(d.s, 0);
      const output = squaredNorm(matmul(x, w, rows, m, n));
      assert.ok(Math.abs(all - output) <= 1e-6 * output);
    });
  }

  it('with a bias: centered G and the corrected bias give output error = the discarded σ² of the centered M', () => {
    const shifted = x.map((v, i) => v + ((i % m) % 2 === 0 ? 4 : -1));
    const sum = new Float64Array(m);
    for (let r = 0; r < rows; r++) for (let j = 0; j < m; j++) sum[j] = (sum[j] as number) + (shifted[r * m + j] as number);
    const centered = centeredGram(matmul(transpose(shifted, rows, m), shifted, m, rows, m), sum, rows);
    const bias = Float64Array.from({ length: n }, (_, j) => 0.1 * j - 0.3);
    const k = 3;
    const d = whitenedSvd(w, m, n, eigenbasis(centered.g, m), k, noRegularization);
    const { a, b } = truncate(d, k);
    const newBias = correctedBias(bias, centered.mean, w, a, b, m, n, k);
    const y = matmul(shifted, w, rows, m, n).map((v, i) => v + (bias[i % n] as number));
    const yk = matmul(shifted, matmul(a, b, m, k, n), rows, m, n).map((v, i) => v + (newBias[i % n] as number));
    const error = squaredNorm(y.map((v, i) => v - (yk[i] as number)));
    const predicted = tail(d.s, k);
    assert.ok(Math.abs(error - predicted) <= 1e-4 * predicted, `error ${error} vs Σσ² tail ${predicted}`);
    // Centering frees the rank the mean would take: less error than the uncentered truncation.
    const g = matmul(transpose(shifted, rows, m), shifted, m, rows, m);
    const plain = truncate(whitenedSvd(w, m, n, eigenbasis(g, m), k, noRegularization), k);
    const plainError = squaredNorm(matmul(shifted, matmul(plain.a, plain.b, m, k, n).map((v, i) => (w[i] as number) - v), rows, m, n));
    assert.ok(error < plainError, `centered ${error} vs uncentered ${plainError}`);
  });

  it('beats plain SVD on the calibration inputs at the same rank', () => {
    const k = 3;
    const whitened = truncate(whitenedSvd(w, m, n, basis, k, noRegularization), k);
    const plain = truncate(whitenedSvd(w, m, n, { m, q: null, lambda: new Float64Array(m).fill(1) }, k, noRegularization), k);
    const err = (f: { a: Float32Array; b: Float32Array }): number =>
      squaredNorm(matmul(x, matmul(f.a, f.b, m, k, n).map((v, i) => (w[i] as number) - v), rows, m, n));
    assert.ok(err(whitened) < 0.9 * err(plain), `whitened ${err(whitened)} vs plain ${err(plain)}`);
  });

  it('with fewer samples than inputs, the regularized G stays invertible and the factors finite', () => {
    const few = 5;
    const xs = correlatedInputs(few, m, 3);
    const basisFew = eigenbasis(matmul(transpose(xs, few, m), xs, m, few, m), m);
    const lambda = regularize(basisFew.lambda);
    assert.ok(lambda.every((l) => l > 0));
    const d = whitenedSvd(w, m, n, basisFew, 4);
    const { a, b } = truncate(d, 4);
    assert.ok(a.every(Number.isFinite) && b.every(Number.isFinite));
    // With rank ≥ the sample count, the calibration rows are reproduced almost exactly.
    const delta = matmul(a, b, m, 4, n).map((v, i) => (w[i] as number) - v);
    const rel = squaredNorm(matmul(xs, delta, few, m, n)) / squaredNorm(matmul(xs, w, few, m, n));
    assert.ok(rel < 0.05, `relative calibration error ${rel}`);
  });
});

describe('whitened truncation (Conv2D, G from im2col patches)', () => {
  before(async () => {
    await initBackend('cpu');
  });
  const cases = [
    { label: 'strides 2, same padding', strides: 2, padding: 'same' as const, dilationRate: 1 },
    { label: 'dilation 2, valid padding', strides: 1, padding: 'valid' as const, dilationRate: 2 },
  ];
  for (const c of cases) {
    it(`output error equals the discarded whitened σ² (${c.label})`, () => {
      const [h, wd, cin, cout, kh, kw, count] = [9, 8, 2, 6, 3, 2, 20];
      const input = tf.input({ shape: [h, wd, cin] });
      const conv = tf.layers.conv2d({ filters: cout, kernelSize: [kh, kw], strides: c.strides, padding: c.padding, dilationRate: c.dilationRate, useBias: false, kernelInitializer: 'glorotNormal' });
      const model = tf.model({ inputs: input, outputs: conv.apply(input) as tf.SymbolicTensor });
      const x = Float32Array.from(correlatedInputs(count, h * wd * cin, 5));
      const sample: Dataset = { file: 'test', count, featureSize: h * wd * cin, x, y: undefined, labelSize: 0 };
      const m = kh * kw * cin;
      const { g } = inputGram(model, model.inputs[0] as tf.SymbolicTensor, conv, 'Conv2D', sample, [[h, wd, cin]], m);
      const kernel = conv.getWeights()[0] as tf.Tensor;
      const w = kernel.dataSync() as Float32Array;
      const k = 3;
      const d = whitenedSvd(w, m, cout, eigenbasis(g, m), k, noRegularization);
      const { a, b } = truncate(d, k);
      // The factorized layer as the model will compute it: a k-filter conv, then a 1×1 conv.
      const error = tf.tidy(() => {
        const xs = tf.tensor4d(x, [count, h, wd, cin]);
        const y = model.predict(xs) as tf.Tensor4D;
        const first = tf.conv2d(xs, tf.tensor4d(a, [kh, kw, cin, k]), c.strides, c.padding, 'NHWC', c.dilationRate);
        const second = tf.conv2d(first, tf.tensor4d(b, [1, 1, k, cout]), 1, 'valid');
        return tf.sum(tf.square(tf.sub(y, second))).dataSync()[0] as number;
      });
      const predicted = tail(d.s, k);
      assert.ok(Math.abs(error - predicted) <= 1e-3 * predicted, `error ${error} vs Σσ² tail ${predicted}`);
      model.dispose();
    });
  }
});
