/**
 * MaxPoolGrad's wasm SIMD loop (src/kernels/pooling-simd.ts), the path for windows that do not
 * overlap over a multiple of four channels, against the cpu kernel bit for bit (−0 and NaN told
 * apart): ties, zeros, −∞ and NaN in the windows, −0 and NaN in dy, 'same' and 'valid' padding,
 * odd sizes with uncovered rows, strides larger than the window, oblong windows, batch 1. And the
 * module called on the heap directly: nothing written outside dx's covered pixels.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { poolingLoops, type PoolGeometry } from '../../src/kernels/pooling-simd.js';
import { allocate, view } from '../../src/kernels/heap.js';
import { randomFloat32 } from '../helpers.js';
import { onBoth } from './compare.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

const size = (shape: number[]): number => tf.util.sizeFromShape(shape);

/** ReLU of small integers: zeros everywhere and repeated maxima. */
function tied(count: number, seed: number): number[] {
  return Array.from(randomFloat32(count, seed), (v) => Math.max(0, Math.round(v * 2)));
}

/** Some −∞ and NaN among tied values, and whole windows of them (every 8th and 9th pixel run). */
function hostile(count: number, seed: number): number[] {
  return tied(count, seed).map((v, i) => (i % 13 === 0 ? -Infinity : i % 17 === 0 ? NaN : i % 19 === 0 ? -v - 0.5 : v));
}

/** dy with −0 (0 + −0 is +0 in the cpu kernel's sum), NaN and ±∞ among normal values. */
function gradients(count: number, seed: number): number[] {
  return Array.from(randomFloat32(count, seed), (v, i) => (i % 11 === 0 ? -0 : i % 23 === 0 ? NaN : i % 29 === 0 ? -Infinity : v));
}

interface Case {
  label: string;
  x: [number, number, number, number];
  filter: number | [number, number];
  stride: number | [number, number];
  pad: 'valid' | 'same' | number;
  values: (n: number) => number[];
}

const cases: Case[] = [
  { label: '2×2 stride 2 valid, the CNN’s shape class (26×26, 32 channels)', x: [2, 26, 26, 32], filter: 2, stride: 2, pad: 'valid', values: (n) => tied(n, 1) },
  { label: '2×2 stride 2 valid on 11×11 (last row and column uncovered)', x: [3, 11, 11, 8], filter: 2, stride: 2, pad: 'valid', values: (n) => tied(n, 2) },
  { label: '2×2 stride 2 same on odd sizes (clipped windows at the edge), batch 1', x: [1, 5, 7, 4], filter: 2, stride: 2, pad: 'same', values: (n) => hostile(n, 3) },
  { label: '3×3 stride 3 same, −∞ and NaN in the windows', x: [2, 8, 7, 12], filter: 3, stride: 3, pad: 'same', values: (n) => hostile(n, 4) },
  { label: '2×2 stride 3 valid (gaps between windows)', x: [2, 8, 9, 4], filter: 2, stride: 3, pad: 'valid', values: (n) => tied(n, 5) },
  { label: 'oblong 2×3 window, strides [2, 3], same', x: [2, 7, 10, 8], filter: [2, 3], stride: [2, 3], pad: 'same', values: (n) => hostile(n, 6) },
  { label: '2×2 stride 2 over all-negative values', x: [2, 6, 6, 4], filter: 2, stride: 2, pad: 'valid', values: (n) => Array.from(randomFloat32(n, 7), (v) => -5 - Math.abs(v)) },
  { label: '2×2 stride 2 explicit padding 1', x: [2, 5, 6, 4], filter: 2, stride: 2, pad: 1, values: (n) => hostile(n, 8) },
];

function maxPoolGrad(c: Case, values: number[], dyValues: number[]): number[] {
  return tf.tidy(() => {
    const input = tf.tensor4d(values, c.x);
    const output = tf.maxPool(input, c.filter, c.stride, c.pad);
    const dy = tf.tensor(dyValues.slice(0, output.size), output.shape);
    const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input, output }, { filterSize: c.filter, strides: c.stride, pad: c.pad }) as tf.Tensor;
    return Array.from(dx.dataSync());
  });
}

describe('MaxPoolGrad’s SIMD loop on wasm equals the cpu kernel bit for bit', () => {
  it('is available on this runtime (else these cases would test the JavaScript loop)', () => {
    assert.ok(poolingLoops(tf.engine().backend) !== undefined);
  });
  for (const c of cases) {
    it(c.label, async () => {
      const values = c.values(size(c.x));
      const dyValues = gradients(size(c.x), 9);
      const [wasm, cpu] = await onBoth(() => maxPoolGrad(c, values, dyValues));
      // deepStrictEqual compares numbers with Object.is: −0 ≠ +0, NaN = NaN.
      assert.deepEqual(wasm, cpu);
      assert.ok(cpu.some((v) => v !== 0 && !Number.isNaN(v)), 'the gradient reaches the input');
    });
  }
});

describe('MaxPoolGrad’s SIMD loop writes nothing outside dx', () => {
  // 2×2 stride 2 takes the unrolled function, the others the general one; all leave pixels uncovered.
  const windows: Array<[filter: number, stride: number]> = [[2, 2], [3, 3], [2, 3]];
  for (const [f, s] of windows) {
    it(`${f}×${f} stride ${s}: guard zones around dx and the pixels no window covers untouched`, () => {
      const backend = tf.engine().backend;
      const loops = poolingLoops(backend);
      assert.ok(loops !== undefined);
      const [inHeight, inWidth] = [7, 9];
      const [outHeight, outWidth] = [Math.floor((inHeight - f) / s) + 1, Math.floor((inWidth - f) / s) + 1];
      const g: PoolGeometry = { batch: 2, inHeight, inWidth, channels: 8, outHeight, outWidth, filterHeight: f, filterWidth: f, strideHeight: s, strideWidth: s, top: 0, left: 0 };
      const n = g.batch * inHeight * inWidth * g.channels;
      const m = g.batch * outHeight * outWidth * g.channels;
      const guard = 64;
      const x = tf.tensor(tied(n, 10));
      const dy = tf.tensor(randomFloat32(m, 11));
      const area = allocate(backend, [guard + n + guard]);
      try {
        const sentinel = 12345.5;
        view(backend, area).fill(sentinel);
        loops.maxPoolGrad(view(backend, x).byteOffset, view(backend, dy).byteOffset, view(backend, area).byteOffset + guard * 4, g);
        const after = view(backend, area);
        for (let i = 0; i < guard; i++) {
          assert.equal(after[i], sentinel, `guard before dx, ${guard - i} floats before`);
          assert.equal(after[guard + n + i], sentinel, `guard after dx, ${i} floats after`);
        }
        const xs = x.dataSync();
        const dys = dy.dataSync();
        // Expected: sentinel where no window reaches, else 0 + dy at each window's winner (its first
        // pixel strictly greater than those before) and 0 at its other pixels.
        const expected = new Float32Array(n).fill(sentinel);
        for (let b = 0; b < g.batch; b++) {
          for (let yr = 0; yr < outHeight; yr++) {
            for (let yc = 0; yc < outWidth; yc++) {
              for (let d = 0; d < g.channels; d++) {
                let at = -1;
                let best = -Infinity;
                for (let wr = 0; wr < f; wr++) {
                  for (let wc = 0; wc < f; wc++) {
                    const j = ((b * inHeight + yr * s + wr) * inWidth + yc * s + wc) * g.channels + d;
                    expected[j] = 0;
                    if ((xs[j] as number) > best) [best, at] = [xs[j] as number, j];
                  }
                }
                if (at >= 0) expected[at] = dys[((b * outHeight + yr) * outWidth + yc) * g.channels + d] as number;
              }
            }
          }
        }
        assert.deepEqual(Array.from(after.subarray(guard, guard + n)), Array.from(expected));
        assert.ok(expected.some((v) => v === sentinel), 'some pixels are uncovered');
      } finally {
        backend.disposeData(area.dataId);
        tf.dispose([x, dy]);
      }
    });
  }
});
