/**
 * The SIMD products (src/train/wasm-matmul.ts) on the wasm heap against a float64 reference: C = A·B
 * with and without bias and relu, C = Aᵀ·B, C = A·Bᵀ with and without relu's derivative as a mask
 * (both of its ways: dot products for a long inner dimension, B transposed for a short one), at sizes
 * that are and are not multiples of the register tiles (4 × 8, 2 × 4) and of four, one row, one
 * column, inner dimension one; nothing written around the output, no input changed; and the
 * Dense-chain step with them gives the gradients it gives with the backend's products.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { allocate, view } from '../../src/kernels/heap.js';
import { products, type Products } from '../../src/train/wasm-matmul.js';
import { loadModel } from '../../src/io/index.js';
import { applyPlan, planModel } from '../../src/factorize/index.js';
import { denseChain, denseGradients } from '../../src/train/dense-step.js';
import { objectiveLoss, type Objective } from '../../src/train/loss.js';
import { fineTune } from '../../src/train/fine-tune.js';
import { readDataset } from '../../src/data/dataset.js';
import { FIXTURES, randomFloat32 } from '../helpers.js';

let mm: Products;
const backend = (): tf.KernelBackend => tf.backend();

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
  const made = products(backend());
  assert.ok(made, 'Node 20 has wasm SIMD: the products must assemble and instantiate');
  mm = made;
});

/** [m, k, n]: tile multiples and not, 1 row, 1 column, inner 1, the MLP's shapes. */
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [1, 7, 1], [1, 5, 9], [9, 5, 1], [3, 1, 6], [4, 8, 8], [5, 7, 11], [7, 3, 13], [8, 16, 16], [13, 9, 10],
  [6, 33, 5], [33, 13, 17], [2, 40, 3], [32, 24, 512], [32, 784, 24], [32, 256, 10], [32, 10, 256],
];
const GUARD = 8;
const SENTINEL = 1234.5;

/**
 * Runs `product` with its output `rows × cols` between GUARD sentinel floats on each side, and
 * returns the output; asserts the guards and the inputs are untouched.
 */
function guarded(inputs: tf.Tensor[], rows: number, cols: number, product: (c: number) => void): Float32Array {
  const before = inputs.map((t) => t.dataSync().slice());
  const buffer = allocate(backend(), [rows * cols + 2 * GUARD]);
  view(backend(), buffer).fill(SENTINEL);
  product(view(backend(), buffer).byteOffset + 4 * GUARD);
  const all = view(backend(), buffer).slice();
  backend().disposeData(buffer.dataId);
  const guards = [...all.subarray(0, GUARD), ...all.subarray(GUARD + rows * cols)];
  assert.ok(guards.every((g) => g === SENTINEL), `nothing written around the ${rows} × ${cols} output`);
  inputs.forEach((t, i) => assert.deepEqual(t.dataSync(), before[i], 'inputs unchanged'));
  return all.subarray(GUARD, GUARD + rows * cols);
}

/**
 * |got − exact| within float32 summation's bound, (k + 2)·2⁻²⁴·Σ|aᵢbᵢ| (+ |bias|), for every element;
 * `exact` and `magnitude` are functions of (row, column).
 */
function assertClose(got: Float32Array, rows: number, cols: number, exact: (r: number, c: number) => number, magnitude: (r: number, c: number) => number, k: number, label: string): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const want = exact(r, c);
      const bound = (k + 2) * 2 ** -24 * magnitude(r, c) + 1e-30;
      const have = got[r * cols + c] as number;
      assert.ok(Math.abs(have - want) <= bound, `${label}: C[${r}, ${c}] = ${have}, exact ${want} (bound ${bound})`);
    }
  }
}

const at = (t: tf.Tensor): number => view(backend(), t).byteOffset;
let seed = 1;
const random = (shape: [number, number] | [number]): tf.Tensor => tf.tensor(randomFloat32(shape.reduce((a, b) => a * b, 1), seed++), shape);

describe('wasm SIMD products against float64', () => {
  it('A·B, plain and with bias and relu', () => {
    for (const [m, k, n] of SHAPES) {
      tf.tidy(() => {
        const a = random([m, k]);
        const b = random([k, n]);
        const bias = random([n]);
        const [av, bv, biasv] = [a.dataSync(), b.dataSync(), bias.dataSync()];
        const dot = (r: number, c: number, abs: boolean): number => {
          let s = 0;
          for (let p = 0; p < k; p++) s += (abs ? Math.abs : Number)((av[r * k + p] as number) * (bv[p * n + c] as number));
          return s;
        };
        const plain = guarded([a, b], m, n, (c) => mm.ab(at(a), at(b), 0, c, m, k, n, false));
        assertClose(plain, m, n, (r, c) => dot(r, c, false), (r, c) => dot(r, c, true), k, `A·B ${m}×${k}×${n}`);
        const fused = guarded([a, b, bias], m, n, (c) => mm.ab(at(a), at(b), at(bias), c, m, k, n, true));
        assertClose(fused, m, n, (r, c) => Math.max(0, dot(r, c, false) + (biasv[c] as number)), (r, c) => dot(r, c, true) + Math.abs(biasv[c] as number), k, `relu(A·B + bias) ${m}×${k}×${n}`);
        assert.ok(fused.some((v) => v === 0) || m * n < 4, 'relu cut something');
      });
    }
  });

  it('Aᵀ·B', () => {
    for (const [m, k, n] of SHAPES) {
      tf.tidy(() => {
        const a = random([k, m]);
        const b = random([k, n]);
        const [av, bv] = [a.dataSync(), b.dataSync()];
        const dot = (r: number, c: number, abs: boolean): number => {
          let s = 0;
          for (let p = 0; p < k; p++) s += (abs ? Math.abs : Number)((av[p * m + r] as number) * (bv[p * n + c] as number));
          return s;
        };
        const got = guarded([a, b], m, n, (c) => mm.atb(at(a), at(b), c, m, k, n));
        assertClose(got, m, n, (r, c) => dot(r, c, false), (r, c) => dot(r, c, true), k, `Aᵀ·B ${m}×${k}×${n}`);
      });
    }
  });

  it('A·Bᵀ, plain and masked by relu\'s derivative (dot products where k > n, B transposed where not)', () => {
    const shapes = SHAPES.some(([, k, n]) => k > n) && SHAPES.some(([, k, n]) => k <= n);
    assert.ok(shapes, 'both ways are exercised');
    for (const [m, k, n] of SHAPES) {
      tf.tidy(() => {
        const a = random([m, k]);
        const b = random([n, k]);
        // The mask: a relu output, a fifth of it exactly zero, negative values too.
        const mask = tf.tensor2d(randomFloat32(m * n, seed++).map((v, i) => (i % 5 === 0 ? 0 : v)), [m, n]);
        const [av, bv, maskv] = [a.dataSync(), b.dataSync(), mask.dataSync()];
        const dot = (r: number, c: number, abs: boolean): number => {
          let s = 0;
          for (let p = 0; p < k; p++) s += (abs ? Math.abs : Number)((av[r * k + p] as number) * (bv[c * k + p] as number));
          return s;
        };
        const plain = guarded([a, b], m, n, (c) => mm.abt(at(a), at(b), 0, c, m, k, n));
        assertClose(plain, m, n, (r, c) => dot(r, c, false), (r, c) => dot(r, c, true), k, `A·Bᵀ ${m}×${k}×${n}`);
        const masked = guarded([a, b, mask], m, n, (c) => mm.abt(at(a), at(b), at(mask), c, m, k, n));
        assertClose(masked, m, n, (r, c) => ((maskv[r * n + c] as number) > 0 ? dot(r, c, false) : 0), (r, c) => dot(r, c, true), k, `A·Bᵀ masked ${m}×${k}×${n}`);
      });
    }
  });

  it('agree with tfjs\'s matMul within 1e-5 of scale on the MLP\'s shapes', () => {
    for (const [m, k, n] of [[32, 784, 24], [32, 24, 512], [32, 256, 10]] as const) {
      tf.tidy(() => {
        const a = random([m, k]);
        const b = random([k, n]);
        const bias = random([n]);
        const expected = tf.relu(tf.add(tf.matMul(a, b), bias)).dataSync();
        const got = guarded([a, b, bias], m, n, (c) => mm.ab(at(a), at(b), at(bias), c, m, k, n, true));
        const scale = Math.max(...Array.from(expected, Math.abs));
        const diff = Math.max(...Array.from(got, (v, i) => Math.abs(v - (expected[i] as number))));
        assert.ok(diff <= 1e-5 * scale, `${m}×${k}×${n}: ${diff} of ${scale}`);
      });
    }
  });

  it('are unavailable without a wasm heap (the cpu backend): the step then keeps the backend\'s products', () => {
    assert.equal(products({} as tf.KernelBackend), undefined);
  });
});

describe('the Dense-chain step with the SIMD products', () => {
  const FASHION_MLP = path.join(FIXTURES, 'fashion-mlp', 'model.json');
  const FASHION_TRAIN = { file: path.join(FIXTURES, 'fashion', 'train.npy'), labels: path.join(FIXTURES, 'fashion', 'train-labels.npy') };

  async function factorized(rank: number): Promise<tf.LayersModel> {
    const { model } = await loadModel(FASHION_MLP);
    const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
    const plan = planModel('test', topology, model, { kind: 'fixed', rank });
    const result = await applyPlan('test', topology, model, plan);
    model.dispose();
    return result.model;
  }

  it('gives the gradients of the backend\'s products (LOWRANK_XNNPACK_PRODUCTS=1) within 1e-5 of scale, and that fallback trains', async () => {
    const model = await factorized(16);
    const data = await readDataset(FASHION_TRAIN.file, { labels: FASHION_TRAIN.labels, inputScale: 1 / 255 });
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const objective: Objective = { kind: 'sparse-categorical-crossentropy', distill: 0, temperature: 2, fromLogits: false };
    const rows = 19;
    const x = tf.tensor2d(data.x.subarray(0, rows * data.featureSize), [rows, data.featureSize]);
    const y = tf.tensor1d((data.y as Float32Array).subarray(0, rows));
    const gradients = (xnnpack: boolean): { value: number; grads: Record<string, Float32Array> } => {
      process.env['LOWRANK_XNNPACK_PRODUCTS'] = xnnpack ? '1' : '0';
      const chain = denseChain(model, variables);
      assert.ok(chain, 'a Dense chain');
      assert.equal(chain.simdProducts, !xnnpack);
      return tf.tidy(() => {
        const { value, grads } = denseGradients(chain, x, variables, (out) => objectiveLoss(objective, out, y, undefined));
        return { value, grads: Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array])) };
      });
    };
    try {
      const simd = gradients(false);
      const xnnpack = gradients(true);
      assert.ok(Math.abs(simd.value - xnnpack.value) <= 1e-5 * Math.abs(xnnpack.value));
      assert.equal(Object.keys(simd.grads).length, variables.length);
      for (const v of variables) {
        const a = simd.grads[v.name] as Float32Array;
        const b = xnnpack.grads[v.name] as Float32Array;
        const scale = Math.max(...Array.from(b, Math.abs));
        const diff = Math.max(...Array.from(a, (value, i) => Math.abs(value - (b[i] as number))));
        assert.ok(diff <= 1e-5 * scale, `${v.name}: ${diff} of ${scale}`);
      }
      // The fallback's whole fineTune: two epochs lower the loss.
      process.env['LOWRANK_XNNPACK_PRODUCTS'] = '1';
      const result = await fineTune(model, data, undefined, { objective, epochs: 2, batchSize: 32, learningRate: 1e-3, seed: 3, shapes: [[data.featureSize]] });
      const losses = result.history.map((h) => h.loss);
      assert.ok((losses[1] as number) < (losses[0] as number), `loss ${losses.join(' → ')}`);
    } finally {
      delete process.env['LOWRANK_XNNPACK_PRODUCTS'];
      tf.dispose([x, y]);
      model.dispose();
    }
  });
});
