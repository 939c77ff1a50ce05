/**
 * src/kernels/plumbing.ts on wasm: Identity and same-dtype Cast share their input's buffer (and the
 * share survives disposing either side), Cast to bool is x ≠ 0 as on cpu, other casts still convert, and Sum over leading axes gives
 * wasm's own Sum bit for bit (a float32 sum per column in row order) while other reductions are
 * wasm's kernel unchanged.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { randomFloat32 } from '../helpers.js';
import { assertCloseToScale, onBoth } from './compare.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** Column sums of `values` seen as [rows, cols], in float32 after every addition, rows in order. */
function float32ColumnSums(values: Float32Array, rows: number, cols: number): Float32Array {
  const sums = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sums[c] = Math.fround((sums[c] as number) + (values[r * cols + c] as number));
  return sums;
}

describe('Identity and Cast on wasm share the buffer instead of copying it', () => {
  it('a clone holds its values after the original is disposed, and the other way round', () => {
    const buffers = (): number => tf.engine().backend.numDataIds();
    const before = buffers();
    const x = tf.tensor(randomFloat32(24, 1), [2, 3, 4]);
    const expected = Array.from(x.dataSync());
    const copy = tf.clone(x);
    assert.equal(buffers() - before, 1, 'one buffer for both');
    x.dispose();
    assert.deepEqual(Array.from(copy.dataSync()), expected);
    const again = tf.clone(copy);
    copy.dispose();
    assert.deepEqual(Array.from(again.dataSync()), expected);
    again.dispose();
    assert.equal(buffers(), before, 'the buffer is freed with its last tensor');
  });

  it('Cast to the same dtype shares; to another dtype it still converts', () => {
    const x = tf.tensor([1.75, -2.5, 3.25, 0], [4]);
    const same = tf.cast(x, 'float32');
    assert.deepEqual(Array.from(same.dataSync()), [1.75, -2.5, 3.25, 0]);
    assert.equal(tf.engine().backend.refCount(x.dataId), 2, 'the same buffer, counted twice');
    const ints = tf.cast(x, 'int32');
    assert.equal(ints.dtype, 'int32');
    assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3, 0]);
    x.dispose();
    assert.deepEqual(Array.from(same.dataSync()), [1.75, -2.5, 3.25, 0], 'the shared cast outlives its input');
    tf.dispose([same, ints]);
  });

  it('Cast to bool is x ≠ 0 as on the cpu backend (wasm\'s own kernel made −2.5 into 254 and 0.3 into false)', async () => {
    const run = (): number[][] => tf.tidy(() => [
      tf.cast(tf.tensor([-2.5, 0, 1, 0.3, 300, -0, Number.NaN, Number.NEGATIVE_INFINITY, 1e-30], [3, 3]), 'bool'),
      tf.cast(tf.tensor([-3, 0, 2, 256], [4], 'int32'), 'bool'),
      tf.cast(tf.cast(tf.tensor([0.5, 0, -7], [3]), 'bool'), 'float32'),
    ].map((t) => Array.from(t.dataSync())));
    const [wasm, cpu] = await onBoth(run);
    assert.deepEqual(wasm, cpu);
    assert.deepEqual(wasm[0], [1, 0, 1, 1, 1, 0, 1, 1, 1]);
    assert.deepEqual(wasm[2], [1, 0, 1]);
  });

  it('gradients through ReLU (a same-dtype Cast) and a saved clone match the cpu backend', async () => {
    const values = Array.from(randomFloat32(60, 2));
    const run = (): number[] => tf.tidy(() => Array.from(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.relu(x), tf.relu(x))))(tf.tensor(values, [3, 4, 5])).dataSync()));
    const [wasm, cpu] = await onBoth(run);
    assert.deepEqual(wasm, cpu);
  });
});

describe('Sum over leading axes on wasm', () => {
  const cases: Array<{ label: string; shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { label: 'a bias gradient: [B, H, W, C] over B, H, W', shape: [4, 9, 7, 32], axis: [0, 1, 2], keepDims: false },
    { label: 'keepDims', shape: [3, 5, 5, 6], axis: [0, 1, 2], keepDims: true },
    { label: 'negative axes', shape: [2, 3, 4, 5], axis: [0, -3], keepDims: false },
    { label: 'two leading axes of four, two kept', shape: [3, 4, 5, 6], axis: [0, 1], keepDims: false },
    { label: 'batch 1, odd sizes', shape: [1, 13, 11, 3], axis: [0, 1, 2], keepDims: false },
  ];
  for (const c of cases) {
    it(`${c.label}: wasm's float32 column sums bit for bit, the cpu's within 1e-5`, async () => {
      const values = randomFloat32(tf.util.sizeFromShape(c.shape), 3);
      const run = (): { values: number[]; shape: number[] } =>
        tf.tidy(() => {
          const out = tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims);
          return { values: Array.from(out.dataSync()), shape: out.shape };
        });
      const [wasm, cpu] = await onBoth(run);
      assert.deepEqual(wasm.shape, cpu.shape);
      const reduced = tf.util.parseAxisParam(c.axis, c.shape).length;
      const rows = tf.util.sizeFromShape(c.shape.slice(0, reduced));
      assert.deepEqual(wasm.values, Array.from(float32ColumnSums(values, rows, values.length / rows)));
      assertCloseToScale(wasm.values, cpu.values, 1e-5, 'sum');
    });
  }

  it('other reductions are wasm’s kernel: trailing and middle axes, all axes, axes out of order, int32', async () => {
    const values = randomFloat32(120, 4);
    const run = (): number[][] =>
      tf.tidy(() => {
        const x = tf.tensor(values, [2, 3, 4, 5]);
        const reductions = [tf.sum(x, [2, 3]), tf.sum(x, [1, 2]), tf.sum(x), tf.sum(x, 0), tf.sum(x, [1, 0]), tf.sum(tf.cast(tf.mul(x, 10), 'int32'), [0, 1])];
        return reductions.map((t) => Array.from(t.dataSync()));
      });
    const [wasm, cpu] = await onBoth(run);
    for (const [i, w] of wasm.entries()) assertCloseToScale(w, cpu[i] as number[], 1e-5, `reduction ${i}`);
  });
});
