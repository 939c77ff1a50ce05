/**
 * The SIMD loops (src/train/wasm-loops.ts) on the wasm heap against plain references, at sizes that
 * exercise the four-lane loop, the scalar tail and both: relu's derivative and the column sums
 * exactly (the same float32 operations in the same order), and they leave the memory around their
 * outputs alone.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { allocate, view } from '../../src/kernels/heap.js';
import { loops, type Loops } from '../../src/train/wasm-loops.js';
import { randomFloat32 } from '../helpers.js';

let simd: Loops;
const backend = (): tf.KernelBackend => tf.backend();
const at = (info: tf.TensorInfo): number => view(backend(), info).byteOffset;

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const made = loops(backend());
  assert.ok(made, 'Node 20 has wasm SIMD: the loops must assemble and instantiate');
  simd = made;
});

describe('wasm SIMD loops', () => {
  it('reluBackward: dy where y > 0, else 0, for 1 to 13 values', () => {
    for (let n = 1; n <= 13; n++) {
      tf.tidy(() => {
        const y = tf.tensor1d(randomFloat32(n, n).map((v, i) => (i % 5 === 0 ? 0 : v)));
        const dy = tf.tensor1d(randomFloat32(n, 100 + n));
        // Two more values than the output, to see that nothing past it is written.
        const out = allocate(backend(), [n + 2]);
        view(backend(), out).fill(7);
        simd.reluBackward(at(y), at(dy), at(out), n);
        const got = view(backend(), out).slice();
        backend().disposeData(out.dataId);
        const yv = y.dataSync();
        const dyv = dy.dataSync();
        const expected = Array.from({ length: n }, (_, i) => ((yv[i] as number) > 0 ? (dyv[i] as number) : 0));
        assert.deepEqual(Array.from(got.subarray(0, n)), expected, `n = ${n}`);
        assert.deepEqual(Array.from(got.subarray(n)), [7, 7]);
      });
    }
  });

  it('addRows: float32 column sums in row order, for widths 1 to 9 and several rows', () => {
    for (const rows of [1, 3, 32]) {
      for (let cols = 1; cols <= 9; cols++) {
        tf.tidy(() => {
          const m = tf.tensor2d(randomFloat32(rows * cols, rows * 10 + cols), [rows, cols]);
          const out = allocate(backend(), [cols + 1]);
          view(backend(), out).fill(0);
          view(backend(), out)[cols] = 5;
          simd.addRows(at(m), rows, cols, at(out));
          const got = view(backend(), out).slice();
          backend().disposeData(out.dataId);
          const values = m.dataSync();
          const expected = Array.from({ length: cols }, (_, c) => {
            let sum = 0;
            for (let r = 0; r < rows; r++) sum = Math.fround(sum + (values[r * cols + c] as number));
            return sum;
          });
          assert.deepEqual(Array.from(got.subarray(0, cols)), expected, `${rows} × ${cols}`);
          assert.equal(got[cols], 5);
        });
      }
    }
  });
});
