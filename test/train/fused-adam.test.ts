/**
 * FusedAdam (src/train/fused-adam.ts) against tfjs's own Adam on the same backend: the same
 * variables, the same gradients, several steps, a changed learning rate, a variable without a
 * gradient, zeros and large values, within 1e-6 (issue 11's bound; the fused loop rounds less often).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { FusedAdam } from '../../src/train/fused-adam.js';
import { loops } from '../../src/train/wasm-loops.js';
import { randomFloat32 } from '../helpers.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

interface Run {
  values: Float32Array[];
  optimizerWeights: Float32Array[];
}

/** Train three variables with `optimizer` on fixed gradients; the final values and moments. */
const shapes = [[7, 5], [5], [3, 4, 2]];
const initial = shapes.map((shape, i) => randomFloat32(tf.util.sizeFromShape(shape), 10 + i));

async function run(optimizer: tf.AdamOptimizer, prefix: string): Promise<Run> {
  const variables = shapes.map((shape, i) => tf.tidy(() => tf.variable(tf.tensor(initial[i] as Float32Array, shape), true, `${prefix}-${i}`)));
  for (let step = 0; step < 6; step++) {
    if (step === 3) (optimizer as unknown as { learningRate: number }).learningRate = 0.05;
    const grads: Record<string, tf.Tensor | null> = {};
    variables.forEach((v, i) => {
      // The second variable gets a null gradient at step 2 (tfjs's Adam matches moments to variables
      // by position, so the name stays); zeros and large values appear in the rest.
      if (i === 1 && step === 2) {
        grads[v.name] = null;
        return;
      }
      const g = randomFloat32(v.size, 100 * step + i).map((x, k) => (k % 4 === 0 ? 0 : k % 9 === 0 ? x * 1e4 : x));
      grads[v.name] = tf.tensor(g, v.shape);
    });
    optimizer.applyGradients(grads as Record<string, tf.Variable>);
    tf.dispose(Object.values(grads).filter((g): g is tf.Tensor => g !== null));
  }
  const values = variables.map((v) => v.dataSync() as Float32Array);
  const saved = await optimizer.getWeights();
  const optimizerWeights = await Promise.all(saved.map(async (w) => (await w.tensor.data()) as Float32Array));
  saved[0]?.tensor.dispose(); // the iteration count, a new scalar; the rest are the optimizer's
  tf.dispose(variables);
  optimizer.dispose();
  return { values, optimizerWeights };
}

describe('FusedAdam equals tfjs Adam on wasm', () => {
  it('values, moments and iterations after six steps with a learning-rate change', async () => {
    const before = tf.memory().numTensors;
    const stock = await run(tf.train.adam(0.01), 'stock');
    const fused = await run(new FusedAdam(0.01), 'fused');
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    assert.equal(fused.values.length, stock.values.length);
    assert.equal(fused.optimizerWeights.length, stock.optimizerWeights.length);
    // Values within 1e-6; the moments (up to 1e8 here, from gradients of 1e4) within 1e-6 of their size.
    const largest = (pairs: ReadonlyArray<readonly [Float32Array, Float32Array | undefined]>, relative: boolean): number => {
      let worst = 0;
      for (const [a, b] of pairs) {
        assert.ok(b !== undefined && a.length === b.length);
        for (let k = 0; k < a.length; k++) {
          const d = Math.abs((a[k] as number) - (b[k] as number));
          worst = Math.max(worst, relative ? d / Math.max(1, Math.abs(b[k] as number)) : d);
        }
      }
      return worst;
    };
    const values = largest(fused.values.map((v, i) => [v, stock.values[i]] as const), false);
    const moments = largest(fused.optimizerWeights.map((v, i) => [v, stock.optimizerWeights[i]] as const), true);
    assert.ok(values <= 1e-6, `largest difference in the values ${values}`);
    assert.ok(moments <= 1e-6, `largest relative difference in the moments ${moments}`);
    // The SIMD loop (src/train/wasm-loops.ts) does tfjs's float32 operations in tfjs's order: bit for bit.
    if (loops(tf.backend()) !== undefined) assert.deepEqual([values, moments], [0, 0], 'the SIMD update is tfjs\'s bit for bit');
    // And the update did move every value: a no-op optimizer would not pass by accident.
    assert.ok(fused.values.every((v, i) => v.some((x, k) => x !== (initial[i] as Float32Array)[k])));
  });

  it('keeps a clone of a variable (fineTune’s best-epoch copy) unchanged', () => {
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3]), true, 'clone-check'));
    const copy = v.clone();
    const optimizer = new FusedAdam(0.1);
    const g = tf.tensor([1, -1, 0.5]);
    optimizer.applyGradients({ [v.name]: g } as Record<string, tf.Variable>);
    assert.deepEqual(Array.from(copy.dataSync()), [1, 2, 3]);
    assert.notDeepEqual(Array.from(v.dataSync()), [1, 2, 3]);
    tf.dispose([v, copy, g]);
    optimizer.dispose();
  });
});
