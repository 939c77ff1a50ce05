/**
 * The bias gradient's column sums as a wasm SIMD loop (src/kernels/column-sums.ts, behind
 * plumbing.ts's Sum over leading axes): the bits of wasm's own Sum over axis 0 of the 2-D view, on
 * column counts with and without a multiple of four, and nothing written outside the output.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { columnSumLoop } from '../../src/kernels/column-sums.js';
import { allocate, view } from '../../src/kernels/heap.js';
import { randomFloat32 } from '../helpers.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

describe('column sums on wasm', () => {
  it('is available on this runtime (else Sum keeps wasm’s kernel)', () => {
    assert.ok(columnSumLoop(tf.engine().backend) !== undefined);
  });

  for (const shape of [[32, 26, 26, 32], [8, 11, 11, 64], [3, 7, 5, 6], [1, 9, 9, 1], [2, 4, 4, 0]]) {
    it(`Sum of [${shape.join(', ')}] over B, H, W equals wasm’s Sum over axis 0 of [B·H·W, C] bit for bit`, () => {
      const size = tf.util.sizeFromShape(shape);
      // Magnitudes over six decades: any other order of the additions changes low bits.
      const values = Array.from(randomFloat32(size, 5), (v, i) => v * 10 ** ((i * 7) % 6));
      const [fast, wasm] = tf.tidy(() => {
        const x = tf.tensor(values, shape);
        const [b, h, w, cols] = shape as [number, number, number, number];
        // A single reduced axis is not the fast path: this is wasm's own Sum kernel.
        const own = tf.sum(x.reshape([b * h * w, cols]), 0);
        return [Array.from(tf.sum(x, [0, 1, 2]).dataSync()), Array.from(own.dataSync())];
      });
      assert.deepEqual(fast, wasm);
    });
  }

  it('writes nothing outside its output, and starts the sums from zero', () => {
    const backend = tf.engine().backend;
    const columnSums = columnSumLoop(backend);
    assert.ok(columnSums !== undefined);
    const [rows, cols, guard] = [37, 11, 32];
    const m = tf.tensor(randomFloat32(rows * cols, 6));
    const area = allocate(backend, [guard + cols + guard]);
    try {
      view(backend, area).fill(7.5);
      columnSums(view(backend, m).byteOffset, rows, cols, view(backend, area).byteOffset + guard * 4);
      const after = Array.from(view(backend, area));
      assert.deepEqual(after.slice(0, guard), new Array<number>(guard).fill(7.5), 'before the output');
      assert.deepEqual(after.slice(guard + cols), new Array<number>(guard).fill(7.5), 'after the output');
      const values = m.dataSync();
      const expected = new Float32Array(cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expected[c] = Math.fround((expected[c] as number) + (values[r * cols + c] as number));
      assert.deepEqual(after.slice(guard, guard + cols), Array.from(expected));
    } finally {
      backend.disposeData(area.dataId);
      m.dispose();
    }
  });
});
