/**
 * FLOPs per sample against numbers worked out by hand from the layer shapes (2 per multiply-add).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { applyPlan, planModel } from '../../src/factorize/index.js';
import { loadModel } from '../../src/io/index.js';
import { countFlops } from '../../src/measure/flops.js';
import { tf } from '../../src/tf.js';
import { DIGITS_MLP, FIXTURES, useTempDirAndLeakCheck } from '../helpers.js';

useTempDirAndLeakCheck();

describe('countFlops', () => {
  it('counts the digits MLP before and after rank-16 factorization', async () => {
    const { stored, model } = await loadModel(DIGITS_MLP);
    const plan = planModel(DIGITS_MLP, stored.json.modelTopology, model, { kind: 'fixed', rank: 16 });
    const factorized = await applyPlan(DIGITS_MLP, stored.json.modelTopology, model, plan);
    try {
      // 64→256→128→10: 2·(64·256 + 256·128 + 128·10)
      assert.deepEqual(countFlops(model), { flops: 2 * (64 * 256 + 256 * 128 + 128 * 10), uncounted: [] });
      assert.equal(countFlops(model).flops, 100_864);
      // dense_1 → 64·16 + 16·256, dense_2 → 256·16 + 16·128, dense_3 kept (128·10)
      assert.equal(countFlops(factorized.model).flops, 2 * (64 * 16 + 16 * 256 + 256 * 16 + 16 * 128 + 128 * 10));
      assert.equal(countFlops(factorized.model).flops, 25_088);
    } finally {
      model.dispose();
      factorized.model.dispose();
    }
  });

  it('counts the digits CNN: same-padded convolutions, a residual Add, pooling and Dense', async () => {
    const { model } = await loadModel(path.join(FIXTURES, 'digits-cnn', 'model.json'));
    try {
      const conv1 = 2 * 3 * 3 * 1 * 32 * 8 * 8; // 8×8×1 → 8×8×32
      const conv2 = 2 * 3 * 3 * 32 * 32 * 8 * 8; // 8×8×32 → 8×8×32
      const dense1 = 2 * (4 * 4 * 32) * 64; // max-pooled to 4×4×32, flattened
      const dense2 = 2 * 64 * 10;
      assert.deepEqual(countFlops(model), { flops: conv1 + conv2 + dense1 + dense2, uncounted: [] });
      assert.equal(conv1 + conv2 + dense1 + dense2, 1_283_328);
    } finally {
      model.dispose();
    }
  });

  it('counts strided, depthwise, separable and transposed convolutions', () => {
    const input = tf.input({ shape: [12, 12, 3] });
    let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid' }).apply(input) as tf.SymbolicTensor; // → 5×5×8
    x = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor; // → 5×5×16
    x = tf.layers.separableConv2d({ filters: 4, kernelSize: 3, padding: 'valid' }).apply(x) as tf.SymbolicTensor; // → 3×3×4
    x = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor; // → 6×6×2
    x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    try {
      const expected =
        2 * 3 * 3 * 3 * 8 * (5 * 5) + // conv2d, stride 2, valid
        2 * 3 * 3 * 8 * 2 * (5 * 5) + // depthwise, multiplier 2
        2 * (3 * 3 * 16 + 16 * 4) * (3 * 3) + // separable: depthwise then 1×1
        2 * 2 * 2 * 4 * 2 * (3 * 3); // transposed: every input position scatters kh·kw·cin·cout
      assert.deepEqual(countFlops(model), { flops: expected, uncounted: [] });
      assert.equal(expected, 22_320);
    } finally {
      model.dispose();
    }
  });

  it('counts a sequence model: Embedding 0, Dense per position, Conv1D and an LSTM per time step', () => {
    const tokens = tf.input({ shape: [7] });
    let x = tf.layers.embedding({ inputDim: 50, outputDim: 4 }).apply(tokens) as tf.SymbolicTensor; // → 7×4
    x = tf.layers.dense({ units: 6 }).apply(x) as tf.SymbolicTensor; // → 7×6
    x = tf.layers.conv1d({ filters: 5, kernelSize: 3 }).apply(x) as tf.SymbolicTensor; // → 5×5
    x = tf.layers.lstm({ units: 3 }).apply(x) as tf.SymbolicTensor; // → 3
    x = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: tokens, outputs: x });
    try {
      const expected =
        0 + // embedding lookup
        2 * 4 * 6 * 7 + // Dense on each of 7 positions
        2 * 3 * 6 * 5 * 5 + // Conv1D: k·cin·cout per output position
        2 * (5 * 12 + 3 * 12) * 5 + // LSTM: input and recurrent kernels (4 gates × 3 units) per step
        2 * 3 * 2;
      assert.deepEqual(countFlops(model), { flops: expected, uncounted: [] });
    } finally {
      model.dispose();
    }
  });

  it('counts a shared layer once per use and a nested model inside, and lists what it cannot count', () => {
    const a = tf.input({ shape: [8], name: 'a' });
    const b = tf.input({ shape: [8], name: 'b' });
    const shared = tf.layers.dense({ units: 4, name: 'shared' });
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ units: 3, inputShape: [4], name: 'inner_dense' })] });
    const ia = inner.apply(shared.apply(a)) as tf.SymbolicTensor;
    const ib = inner.apply(shared.apply(b)) as tf.SymbolicTensor;
    const dot = tf.layers.dot({ axes: 1, name: 'similarity' }).apply([a, b]) as tf.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([ia, ib, dot]) as tf.SymbolicTensor; // 3 + 3 + 1
    const out = tf.layers.dense({ units: 2 }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: out });
    try {
      const expected = 2 * (2 * 8 * 4) + 2 * (2 * 4 * 3) + 2 * 7 * 2;
      assert.deepEqual(countFlops(model), { flops: expected, uncounted: [{ name: 'similarity', className: 'Dot', reason: 'no FLOP rule for Dot' }] });
    } finally {
      model.dispose();
      // model.dispose() leaves the weights of a layer or model applied twice (a tfjs quirk): free them.
      for (const w of [...shared.weights, ...inner.weights]) w.dispose();
    }
  });

  it('counts a model with open input sizes at the sizes it is run at, and lists what it cannot count without them', () => {
    const input = tf.input({ shape: [null, null, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 2 }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    try {
      assert.deepEqual(countFlops(model, [[10, 10, 3]]), { flops: 2 * 3 * 3 * 3 * 4 * (8 * 8) + 2 * 4 * 2, uncounted: [] });
      assert.deepEqual(countFlops(model), { flops: 2 * 4 * 2, uncounted: [{ name: 'conv', className: 'Conv2D', reason: 'open input size' }] });
    } finally {
      model.dispose();
    }
  });
});
