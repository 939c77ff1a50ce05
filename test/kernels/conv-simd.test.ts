/**
 * The Conv2D filter gradient's wasm SIMD loop (src/kernels/conv-simd.ts) against the cpu kernel,
 * within 1e-5 of the gradient's scale (float32 sums per image against the cpu's float64 ones): every
 * register tile, strides, 'same', 'valid' and explicit padding, taps that see no input at all, odd
 * sizes, batch 1. And the loop called on the heap directly: nothing written outside its tap of dW.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { TILES, convLoops, tileFor } from '../../src/kernels/conv-simd.js';
import { allocate, view } from '../../src/kernels/heap.js';
import { randomFloat32 } from '../helpers.js';
import { assertCloseToScale, onBoth } from './compare.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

const size = (shape: number[]): number => tf.util.sizeFromShape(shape);

interface Case {
  label: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
}

const cases: Case[] = [
  { label: 'the CNN’s first layer: 3×3, 1 → 32 channels', x: [4, 12, 12, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'valid' },
  { label: 'the CNN’s 3×3, 32 → 16 channels', x: [3, 9, 9, 32], filter: [3, 3, 32, 16], strides: 1, pad: 'valid' },
  { label: 'a 1×1, 16 → 64 channels, batch 1', x: [1, 7, 5, 16], filter: [1, 1, 16, 64], strides: 1, pad: 'valid' },
  { label: '3×3 stride 2 same, 4 → 8 channels, odd sizes', x: [2, 9, 7, 4], filter: [3, 3, 4, 8], strides: 2, pad: 'same' },
  { label: '2×3 strides [2, 1], explicit padding 2, 12 → 4', x: [2, 6, 9, 12], filter: [2, 3, 12, 4], strides: [2, 1], pad: 2 },
  { label: '5×5 same over 2×3 (taps that see no input), 3 → 4, batch 1', x: [1, 2, 3, 3], filter: [5, 5, 3, 4], strides: 1, pad: 'same' },
  { label: '3×3 stride 3 valid, 3 → 16 (gaps between windows)', x: [2, 11, 10, 3], filter: [3, 3, 3, 16], strides: 3, pad: 'valid' },
  { label: '4×4 stride 2 padding 3, 5 → 24', x: [2, 5, 6, 5], filter: [4, 4, 5, 24], strides: 2, pad: 3 },
];

function filterGradient(c: Case, xs: Float32Array, dys: Float32Array, outShape: number[]): number[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xs, c.x);
    const dy = tf.tensor(dys, outShape);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter }) as tf.Tensor;
    return Array.from(dw.dataSync());
  });
}

describe('the Conv2D filter gradient’s SIMD loop on wasm matches the cpu kernel within 1e-5', () => {
  it('is available on this runtime, and the cases below use every tile', () => {
    assert.ok(convLoops(tf.engine().backend) !== undefined);
    const used = new Set(cases.map((c) => String(tileFor(c.x[3], c.filter[3]))));
    for (const tile of TILES) assert.ok(used.has(String(tile)), `tile ${String(tile)} tested`);
  });
  for (const c of cases) {
    it(`${c.label} (tile ${String(tileFor(c.x[3], c.filter[3]))})`, async () => {
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape);
      const xs = randomFloat32(size(c.x), 20);
      const dys = randomFloat32(size(outShape), 21);
      const [wasm, cpu] = await onBoth(() => filterGradient(c, xs, dys, outShape));
      assertCloseToScale(wasm, cpu, 1e-5, 'dfilter');
    });
  }
});

describe('the filter gradient’s SIMD loop writes nothing outside its tap of dW', () => {
  for (const [ti, to] of TILES) {
    it(`tile ${ti}×${to}`, () => {
      const backend = tf.engine().backend;
      const loops = convLoops(backend);
      assert.ok(loops !== undefined);
      // One tap of a 1×1 convolution over [2, 3, 4, cin]: dW[0, 0] is cin × cout.
      const [batch, rows, cols, cin, cout] = [2, 3, 4, ti * 3, 4 * to * 3];
      assert.deepEqual(tileFor(cin, cout), [ti, to], 'the tile under test is the one chosen');
      const x = tf.tensor(randomFloat32(batch * rows * cols * cin, 22));
      const dy = tf.tensor(randomFloat32(batch * rows * cols * cout, 23));
      const guard = 64;
      const area = allocate(backend, [guard + cin * cout + guard]);
      try {
        view(backend, area).fill(0);
        const f = 4;
        loops.filterTap({
          x: view(backend, x).byteOffset, dy: view(backend, dy).byteOffset, dw: view(backend, area).byteOffset + guard * f,
          batch, xImage: rows * cols * cin * f, dyImage: rows * cols * cout * f, rows, cols,
          xRow: cols * cin * f, xCol: cin * f, dyRow: cols * cout * f, cin, cout,
        });
        const after = Array.from(view(backend, area));
        for (let i = 0; i < guard; i++) {
          assert.equal(after[i], 0, `${guard - i} floats before dW`);
          assert.equal(after[guard + cin * cout + i], 0, `${i} floats after dW`);
        }
        // dW = xᵀ·dy over all positions, in float64.
        const xv = x.dataSync();
        const dv = dy.dataSync();
        const expected = new Float64Array(cin * cout);
        for (let n = 0; n < batch * rows * cols; n++) {
          for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) expected[i * cout + o] = (expected[i * cout + o] as number) + (xv[n * cin + i] as number) * (dv[n * cout + o] as number);
        }
        assertCloseToScale(after.slice(guard, guard + cin * cout), Array.from(expected), 1e-6, 'dW');
      } finally {
        backend.disposeData(area.dataId);
        tf.dispose([x, dy]);
      }
    });
  }
});
