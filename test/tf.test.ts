import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../src/tf.js';
import { matmul, randomFloat32, transpose } from './helpers.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** Run `fn` with `name` as the current backend, then go back to wasm. */
async function onBackend<T>(name: 'wasm' | 'cpu', fn: () => T): Promise<T> {
  assert.ok(await tf.setBackend(name));
  try {
    return fn();
  } finally {
    assert.ok(await tf.setBackend('wasm'));
  }
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** |x − y| ≤ tol·max(|y|, 1) elementwise. */
function assertClose(x: Float32Array, y: Float32Array, tol: number, label: string): void {
  assert.equal(x.length, y.length, `${label}: length`);
  for (let i = 0; i < x.length; i++) {
    const a = x[i] as number;
    const b = y[i] as number;
    assert.ok(Math.abs(a - b) <= tol * Math.max(Math.abs(b), 1), `${label}[${i}]: ${a} vs ${b}`);
  }
}

function sameBits(x: Float32Array, y: Float32Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

/** The last two axes swapped. */
function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = [...Array(t.rank).keys()];
  perm[t.rank - 2] = t.rank - 1;
  perm[t.rank - 1] = t.rank - 2;
  return tf.transpose(t, perm);
}

interface MatMulCase {
  label: string;
  /** Logical shapes: a [..., m, k], b [..., k, n]. */
  batch: number[];
  m: number;
  k: number;
  n: number;
}

const shapes: MatMulCase[] = [
  { label: '[37×53]·[53×41]', batch: [], m: 37, k: 53, n: 41 },
  { label: 'batched [3,37×53]·[3,53×29]', batch: [3], m: 37, k: 53, n: 29 },
];
const combos: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

/** Stored operands for a transpose combination: a stored as [..., k, m] when transposeA, and so on. */
function operands(c: MatMulCase, ta: boolean, tb: boolean, seed: number): { a: tf.Tensor; b: tf.Tensor } {
  const batch = c.batch.reduce((x, y) => x * y, 1);
  const aShape = [...c.batch, ...(ta ? [c.k, c.m] : [c.m, c.k])];
  const bShape = [...c.batch, ...(tb ? [c.n, c.k] : [c.k, c.n])];
  return {
    a: tf.tensor(randomFloat32(batch * c.m * c.k, seed), aShape),
    b: tf.tensor(randomFloat32(batch * c.k * c.n, seed + 1), bShape),
  };
}

/** float64 reference of op(a)·op(b) from the stored values. */
function reference(c: MatMulCase, ta: boolean, tb: boolean, a: Float32Array, b: Float32Array): Float32Array {
  const batch = c.batch.reduce((x, y) => x * y, 1);
  const out = new Float32Array(batch * c.m * c.n);
  for (let i = 0; i < batch; i++) {
    let ai: ArrayLike<number> = a.subarray(i * c.m * c.k, (i + 1) * c.m * c.k);
    let bi: ArrayLike<number> = b.subarray(i * c.k * c.n, (i + 1) * c.k * c.n);
    if (ta) ai = transpose(ai, c.k, c.m);
    if (tb) bi = transpose(bi, c.n, c.k);
    out.set(matmul(ai, bi, c.m, c.k, c.n), i * c.m * c.n);
  }
  return out;
}

describe('wasm BatchMatMul with transposeA/transposeB', () => {
  for (const c of shapes) {
    for (const [ta, tb] of combos) {
      it(`${c.label} transposeA=${ta} transposeB=${tb}: bit-identical to explicit transposes, close to float64 and to cpu`, async () => {
        const seed = 100 + (ta ? 1 : 0) * 10 + (tb ? 1 : 0) * 20 + c.batch.length;
        const { got, explicit, a, b } = tf.tidy(() => {
          const { a, b } = operands(c, ta, tb, seed);
          const got = values(tf.matMul(a, b, ta, tb));
          const explicit = values(tf.matMul(ta ? swapLast(a) : a, tb ? swapLast(b) : b));
          return { got, explicit, a: values(a), b: values(b) };
        });
        assert.equal(got.length, c.batch.reduce((x, y) => x * y, 1) * c.m * c.n);
        assert.ok(sameBits(got, explicit), 'fixed kernel differs from the explicit-transpose product');
        assertClose(got, reference(c, ta, tb, a, b), 1e-5, 'wasm vs float64');
        const cpu = await onBackend('cpu', () =>
          tf.tidy(() => {
            const { a, b } = operands(c, ta, tb, seed);
            return values(tf.matMul(a, b, ta, tb));
          }),
        );
        assertClose(got, cpu, 1e-4, 'wasm vs cpu');
      });
    }
  }

  for (const [ta, tb] of combos.slice(1)) {
    it(`fused matMul (bias + relu) transposeA=${ta} transposeB=${tb}: bit-identical to explicit transposes and close to cpu`, async () => {
      const c = shapes[0] as MatMulCase;
      const run = (): Float32Array =>
        tf.tidy(() => {
          const { a, b } = operands(c, ta, tb, 7);
          const bias = tf.tensor1d(randomFloat32(c.n, 9));
          return values(tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'relu' }));
        });
      const got = run();
      const explicit = tf.tidy(() => {
        const { a, b } = operands(c, ta, tb, 7);
        const bias = tf.tensor1d(randomFloat32(c.n, 9));
        return values(tf.fused.matMul({ a: ta ? swapLast(a) : a, b: tb ? swapLast(b) : b, bias, activation: 'relu' }));
      });
      assert.ok(sameBits(got, explicit), 'fixed fused kernel differs from the explicit-transpose product');
      assert.ok(got.some((v) => v > 0) && got.some((v) => v === 0), 'relu was applied');
      assertClose(got, await onBackend('cpu', run), 1e-4, 'wasm vs cpu');
    });
  }

  it('leaks no tensors and no backend buffers across the fixed kernel calls', () => {
    const { a, b } = operands(shapes[1] as MatMulCase, true, true, 3);
    const bias = tf.tensor1d(randomFloat32(29, 4));
    const calls = (): void => {
      tf.matMul(a, b, true, true).dispose();
      tf.tidy(() => {
        tf.matMul(a, b, true, true);
        tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' });
      });
    };
    calls(); // warm-up
    const tensors = tf.memory().numTensors;
    // The fix's own temporaries are backend buffers, not tensors: count those too.
    const buffers = tf.engine().backend.numDataIds();
    for (let i = 0; i < 5; i++) calls();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.engine().backend.numDataIds(), buffers);
    tf.dispose([a, b, bias]);
  });
});

describe('gradients of a small Dense model', () => {
  /** Loss gradients of Dense 20→16 relu → Dense 16→5 softmax, with seeded weights and data. */
  function gradients(): Float32Array[] {
    return tf.tidy(() => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ units: 16, activation: 'relu', inputShape: [20] }),
          tf.layers.dense({ units: 5, activation: 'softmax' }),
        ],
      });
      model.setWeights([
        tf.tensor2d(randomFloat32(20 * 16, 11, 0.3), [20, 16]),
        tf.tensor1d(randomFloat32(16, 12, 0.1)),
        tf.tensor2d(randomFloat32(16 * 5, 13, 0.3), [16, 5]),
        tf.tensor1d(randomFloat32(5, 14, 0.1)),
      ]);
      const x = tf.tensor2d(randomFloat32(24 * 20, 15), [24, 20]);
      const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 24 }, (_, i) => (i * 7) % 5), 'int32'), 5);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x) as tf.Tensor) as tf.Scalar);
      const out = model.trainableWeights.map((w) => {
        // LayerVariable.read() is the tf.Variable itself; variableGrads keys gradients by its name.
        const g = grads[(w.read() as tf.Variable).name];
        assert.ok(g !== undefined, `no gradient for ${w.name}`);
        return values(g);
      });
      model.dispose();
      return out;
    });
  }

  it('on wasm match cpu within 1e-4', async () => {
    const wasm = gradients();
    const cpu = await onBackend('cpu', gradients);
    assert.equal(wasm.length, 4);
    wasm.forEach((g, i) => {
      assert.ok(g.some((v) => v !== 0), `gradient ${i} is all zeros`);
      assertClose(g, cpu[i] as Float32Array, 1e-4, `gradient ${i}`);
    });
  });
});
