/**
 * The fast training kernels on wasm (src/kernels/pooling.ts, conv.ts, depthwise.ts) against the cpu
 * backend's, which define the answer: max pooling (ties, zeros, all-negative windows, −∞ and NaN,
 * overlapping windows, padding, 2-D and 3-D) and the depthwise input gradient bit for bit; the
 * Conv2D gradients on every branch (pointwise, strides, padding, transposed convolution, col2im)
 * and a whole CNN's weight gradients within 1e-5 of each gradient's largest magnitude (float32
 * sums in another order than the cpu's float64 ones). */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { randomFloat32 } from '../helpers.js';
import { assertCloseToScale, gradsOf, onBoth } from './compare.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

const size = (shape: number[]): number => tf.util.sizeFromShape(shape);

/** Values with many exact ties: ReLU of small integers (zeros everywhere, repeated maxima). */
function tied(count: number, seed: number): number[] {
  return Array.from(randomFloat32(count, seed), (v) => Math.max(0, Math.round(v * 2)));
}

describe('MaxPoolGrad on wasm equals the cpu kernel bit for bit', () => {
  const cases: Array<{ label: string; x: number[]; values: (n: number) => number[]; filter: number; stride: number; pad: 'valid' | 'same' | number }> = [
    { label: '2×2 stride 2 over ReLU-like ties', x: [2, 6, 6, 3], values: (n) => tied(n, 1), filter: 2, stride: 2, pad: 'valid' },
    { label: '3×3 stride 2 same, overlapping windows with ties', x: [2, 7, 7, 2], values: (n) => tied(n, 2), filter: 3, stride: 2, pad: 'same' },
    { label: '2×2 stride 1, overlapping four-pixel windows with ties, batch 1', x: [1, 5, 6, 3], values: (n) => tied(n, 12), filter: 2, stride: 1, pad: 'valid' },
    { label: '2×2 stride 2 same on odd sizes (clipped windows at the edge)', x: [2, 5, 7, 4], values: (n) => tied(n, 13).map((v, i) => (i % 4 === 0 ? -v : v)), filter: 2, stride: 2, pad: 'same' },
    { label: '3×3 stride 1 same over all-negative values', x: [1, 5, 5, 4], values: (n) => Array.from(randomFloat32(n, 3), (v) => -5 - Math.abs(v)), filter: 3, stride: 1, pad: 'same' },
    { label: '2×2 stride 2 valid on an odd size (last row and column unused)', x: [2, 7, 5, 3], values: (n) => Array.from(randomFloat32(n, 4)), filter: 2, stride: 2, pad: 'valid' },
    { label: '3×3 stride 2 explicit padding 1', x: [2, 6, 6, 2], values: (n) => Array.from(randomFloat32(n, 5)), filter: 3, stride: 2, pad: 1 },
    {
      label: '2×2 stride 2 with −∞ and NaN in the windows',
      x: [1, 4, 4, 2],
      values: (n) => Array.from(randomFloat32(n, 6), (v, i) => (i % 5 === 0 ? -Infinity : i % 7 === 0 ? NaN : v)),
      filter: 2,
      stride: 2,
      pad: 'valid',
    },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const values = c.values(size(c.x));
      const run = (): number[][] => gradsOf((t) => tf.maxPool(t as tf.Tensor4D, c.filter, c.stride, c.pad), [{ values, shape: c.x }], [0]);
      const [wasm, cpu] = await onBoth(run);
      assert.deepEqual(wasm[0], cpu[0]);
      assert.ok((cpu[0] as number[]).some((v) => v !== 0), 'the gradient reaches the input');
    });
  }
});

describe('MaxPoolGrad on wasm given an output that is not the forward pool’s still equals the cpu kernel', () => {
  // The fast path reads each window's maximum from `output`; where that is NaN, −∞ or matches no pixel,
  // it compares the pixels itself. (The cpu kernel ignores `output`.)
  const x = [2, 6, 8, 3];
  const values = tied(size(x), 8).map((v, i) => (i % 9 === 0 ? -v - 1 : v));
  const outputs: Array<[string, (n: number) => number[]]> = [
    ['all NaN', (n) => new Array<number>(n).fill(NaN)],
    ['all −∞', (n) => new Array<number>(n).fill(-Infinity)],
    ['values no pixel has', (n) => Array.from({ length: n }, (_, i) => 100 + i)],
  ];
  for (const [label, output] of outputs) {
    it(label, async () => {
      const run = (): number[] =>
        tf.tidy(() => {
          const input = tf.tensor4d(values, x as [number, number, number, number]);
          const outShape = [2, 3, 4, 3];
          const dy = tf.tensor(randomFloat32(size(outShape), 9), outShape);
          const out = tf.tensor(output(size(outShape)), outShape);
          const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input, output: out }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
          return Array.from(dx.dataSync());
        });
      const [wasm, cpu] = await onBoth(run);
      assert.deepEqual(wasm, cpu);
    });
  }
});

describe('MaxPool3D and its gradient on wasm equal the cpu kernels bit for bit', () => {
  for (const [filter, stride, pad] of [[2, 2, 'valid'], [3, 2, 'same'], [[2, 3, 2], 2, 'valid']] as const) {
    it(`${String(filter)} stride ${stride} ${pad}, ties and negative windows`, async () => {
      const shape = [2, 5, 6, 5, 3];
      const values = tied(size(shape), 7).map((v, i) => (i % 11 === 0 ? v - 9 : v));
      const run = (): number[][] => {
        const forward = tf.tidy(() => Array.from(tf.maxPool3d(tf.tensor5d(values, shape as [number, number, number, number, number]), filter as number, stride, pad).dataSync()));
        const [dx] = gradsOf((t) => tf.maxPool3d(t as tf.Tensor5D, filter as number, stride, pad), [{ values, shape }], [0]);
        return [forward, dx as number[]];
      };
      const [wasm, cpu] = await onBoth(run);
      assert.deepEqual(wasm, cpu);
    });
  }
});

describe('Conv2D gradients on wasm match the cpu kernels within 1e-5', () => {
  const cases: Array<{ label: string; x: number[]; filter: number[]; strides: number | [number, number]; pad: 'same' | 'valid' | number }> = [
    { label: '3×3 on one channel, K = 9 ≤ 16 filters', x: [4, 12, 12, 1], filter: [3, 3, 1, 16], strides: 1, pad: 'valid' },
    { label: '3×3, K = 288 > 16 filters (as a convolution)', x: [2, 9, 9, 32], filter: [3, 3, 32, 16], strides: 1, pad: 'valid' },
    { label: '1×1 pointwise (x itself is P)', x: [2, 5, 5, 16], filter: [1, 1, 16, 24], strides: 1, pad: 'valid' },
    { label: '1×1 stride 2 (not pointwise)', x: [2, 6, 6, 4], filter: [1, 1, 4, 3], strides: 2, pad: 'valid' },
    { label: '3×3 stride 2 same', x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
    { label: '2×4 stride [2,3] same', x: [1, 9, 10, 2], filter: [2, 4, 2, 3], strides: [2, 3], pad: 'same' },
    { label: '3×3 stride 2 explicit padding 1', x: [2, 6, 5, 1], filter: [3, 3, 1, 2], strides: 2, pad: 1 },
    { label: '5×5 stride 2 valid', x: [2, 11, 11, 3], filter: [5, 5, 3, 6], strides: 2, pad: 'valid' },
    // Patch rows of ≥ 16 values are copied by copyWithin, whole or cut by the padding.
    { label: '3×3 stride 2 same over 16 channels (rows copied whole and cut at the edges)', x: [2, 8, 7, 16], filter: [3, 3, 16, 8], strides: 2, pad: 'same' },
    { label: '3×3 stride 1 same over 8 channels, batch 1, odd sizes', x: [1, 9, 7, 8], filter: [3, 3, 8, 40], strides: 1, pad: 'same' },
    { label: '2×3 stride [1,2] explicit padding 2 over 12 channels', x: [3, 6, 9, 12], filter: [2, 3, 12, 5], strides: [1, 2], pad: 2 },
    // One input channel: P's rows cut by the padding, and (dyᵀ·P)ᵀ with 28 filters > K = 25.
    { label: '3×3 same on one channel, strides [2,1] (rows cut by the padding)', x: [2, 9, 8, 1], filter: [3, 3, 1, 4], strides: [2, 1], pad: 'same' },
    { label: '5×5 explicit padding 1 on one channel, 28 filters, batch 1, rows of 20 values', x: [1, 7, 22, 1], filter: [5, 5, 1, 28], strides: 1, pad: 1 },
    // Stride 1 with fewer filters than K: the filter gradient as a convolution with dy as the filter.
    { label: '2×2 stride 1 same (padding only after), K = 20 > 3 filters', x: [2, 6, 7, 5], filter: [2, 2, 5, 3], strides: 1, pad: 'same' },
    { label: '3×3 stride 1 explicit padding 1, K = 36 > 7 filters, batch 1', x: [1, 5, 8, 4], filter: [3, 3, 4, 7], strides: 1, pad: 1 },
  ];
  for (const c of cases) {
    it(c.label, async () => {
      const run = (): number[][] =>
        gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), [
          { values: randomFloat32(size(c.x), 10), shape: c.x },
          { values: randomFloat32(size(c.filter), 11), shape: c.filter },
        ], [0, 1]);
      const [wasm, cpu] = await onBoth(run);
      assertCloseToScale(wasm[0] as number[], cpu[0] as number[], 1e-5, 'dx');
      assertCloseToScale(wasm[1] as number[], cpu[1] as number[], 1e-5, 'dfilter');
    });
  }
});

describe('DepthwiseConv2dNativeBackpropInput and BackpropFilter on wasm equal the cpu kernels bit for bit', () => {
  const cases: Array<[number | [number, number], 'valid' | 'same', number, [number, number], number]> = [
    [1, 'valid', 1, [3, 3], 2],
    [2, 'same', 2, [3, 3], 2],
    [1, 'same', 3, [3, 3], 2],
    [[2, 1], 'same', 1, [5, 2], 1],
    [[1, 3], 'valid', 2, [2, 4], 3],
  ];
  for (const [strides, pad, multiplier, [kh, kw], batch] of cases) {
    it(`${kh}×${kw} stride ${strides} ${pad}, ×${multiplier}, batch ${batch}`, async () => {
      const x = [batch, 7, 8, 3];
      const filter = [kh, kw, 3, multiplier];
      const run = (): number[][] =>
        gradsOf((t, w) => tf.depthwiseConv2d(t as tf.Tensor4D, w as tf.Tensor4D, strides, pad), [
          { values: randomFloat32(size(x), 30), shape: x },
          { values: randomFloat32(size(filter), 31), shape: filter },
        ], [0, 1]);
      const [wasm, cpu] = await onBoth(run);
      assert.deepEqual(wasm[0], cpu[0], 'dx');
      assert.deepEqual(wasm[1], cpu[1], 'dfilter');
    });
  }
});

describe('a CNN’s gradients on wasm match the cpu backend within 1e-5', () => {
  it('Conv2D 3×3 → ReLU → MaxPool → Conv2D 3×3 → ReLU → MaxPool → Dense: every weight', async () => {
    const shapes = { x: [4, 16, 16, 1], w1: [3, 3, 1, 8], w2: [3, 3, 8, 12], w3: [2 * 2 * 12, 10] };
    const run = (): number[][] =>
      gradsOf(
        (x, w1, w2, w3) => {
          const a = tf.maxPool(tf.relu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'valid')), 2, 2, 'valid');
          const b = tf.maxPool(tf.relu(tf.conv2d(a, w2 as tf.Tensor4D, 1, 'valid')), 2, 2, 'valid');
          return tf.matMul(tf.reshape(b, [4, -1]), w3 as tf.Tensor2D);
        },
        [
          { values: randomFloat32(size(shapes.x), 20), shape: shapes.x },
          { values: randomFloat32(size(shapes.w1), 21, 0.5), shape: shapes.w1 },
          { values: randomFloat32(size(shapes.w2), 22, 0.3), shape: shapes.w2 },
          { values: randomFloat32(size(shapes.w3), 23, 0.3), shape: shapes.w3 },
        ],
        [1, 2, 3],
      );
    const [wasm, cpu] = await onBoth(run);
    for (const [i, name] of ['w1', 'w2', 'w3'].entries()) assertCloseToScale(wasm[i] as number[], cpu[i] as number[], 1e-5, `d${name}`);
  });
});
