import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../../src/tf.js';
import { excludedFallbacks, registerCpuFallbacks, replacedWasmKernels } from '../../src/kernels/wasm-fallbacks.js';
import { randomFloat32 } from '../helpers.js';
import { assertRelClose, cpuBackend, gradsOf, onBoth, onCpu } from './compare.js';

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

describe('registerCpuFallbacks', () => {
  it('creates the cpu backend on first use without switching away from wasm', () => {
    // Einsum has no fast path: it always goes through the cpu kernel.
    const product = tf.tidy(() => Array.from(tf.einsum('ij,jk->ik', tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()));
    assert.equal(tf.getBackend(), 'wasm');
    assert.ok('cpu' in tf.engine().registry, 'the cpu backend exists after a fallback ran');
    assert.deepEqual(product, [11]);
  });

  it('covers every kernel cpu has and wasm lacks, except the complex64 ones', () => {
    const names = registerCpuFallbacks();
    for (const k of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
      assert.ok(names.includes(k), `${k} registered`);
    }
    const wasm = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    const missing = tf.getKernelsForBackend('cpu').map((k) => k.kernelName).filter((k) => !wasm.has(k));
    assert.deepEqual(missing.sort(), [...excludedFallbacks().keys()].sort());
    for (const k of replacedWasmKernels().keys()) assert.ok(names.includes(k), `${k} replaced`);
    assert.deepEqual(registerCpuFallbacks(), names, 'a second call changes nothing');
  });

  it('leaks neither tensors nor wasm or cpu buffers', () => {
    const cpu = cpuBackend();
    const wasm = tf.engine().backend;
    const run = (): void => {
      gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), [
        { values: randomFloat32(2 * 6 * 6 * 2, 3), shape: [2, 6, 6, 2] },
        { values: randomFloat32(3 * 3 * 2 * 3, 4), shape: [3, 3, 2, 3] },
      ], [0, 1]);
      gradsOf((x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'), [
        { values: randomFloat32(2 * 5 * 5 * 2, 5), shape: [2, 5, 5, 2] },
        { values: randomFloat32(3 * 3 * 2 * 2, 6), shape: [3, 3, 2, 2] },
      ], [0, 1]);
      gradsOf((p, i) => tf.gather(p, i as tf.Tensor1D), [
        { values: randomFloat32(6 * 3, 7), shape: [6, 3] },
        { values: [1, 4, 1, 0], shape: [4], dtype: 'int32' },
      ], [0]);
      tf.tidy(() => {
        tf.raggedRange(tf.tensor1d([0, 5], 'int32'), tf.tensor1d([3, 7], 'int32'), tf.tensor1d([1, 1], 'int32'));
      });
    };
    run(); // warm-up
    const tensors = tf.memory().numTensors;
    const wasmBuffers = wasm.numDataIds();
    const cpuBuffers = cpu.numDataIds();
    for (let i = 0; i < 3; i++) run();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(wasm.numDataIds(), wasmBuffers);
    assert.equal(cpu.numDataIds(), cpuBuffers);
  });

  it('handles multi-output kernels, array inputs, int32 and string tensors', async () => {
    const run = (): unknown[] =>
      tf.tidy(() => {
        const range = tf.raggedRange(tf.tensor1d([0, 5], 'int32'), tf.tensor1d([3, 7], 'int32'), tf.tensor1d([1, 1], 'int32'));
        const gathered = tf.raggedGather([tf.tensor1d([0, 2, 3, 5], 'int32')], tf.tensor1d([1, 2, 3, 4, 5]), tf.tensor1d([2, 0], 'int32'), 1);
        const einsum = tf.einsum('ij,jk->ik', tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]]));
        const text = tf.string.staticRegexReplace(tf.tensor1d(['hello world', 'foo']), 'o', '0');
        return [
          Array.from((range.rtNestedSplits as tf.Tensor).dataSync()),
          Array.from((range.rtDenseValues as tf.Tensor).dataSync()),
          (range.rtDenseValues as tf.Tensor).dtype,
          gathered.outputNestedSplits.map((t) => Array.from(t.dataSync())),
          Array.from(gathered.outputDenseValues.dataSync()),
          Array.from(einsum.dataSync()),
          text.dataSync(),
        ];
      });
    const [wasm, cpu] = await onBoth(run);
    assert.deepEqual(wasm, cpu);
    assert.deepEqual(wasm, [[0, 3, 5], [0, 1, 2, 5, 6], 'int32', [[0, 2, 4]], [4, 5, 1, 2], [19, 22, 43, 50], ['hell0 w0rld', 'f00']]);
  });
});

describe('gradients on wasm match cpu', () => {
  const convCases: Array<{ label: string; x: number[]; filter: number[]; strides: number | [number, number]; pad: 'same' | 'valid' | number }> = [
    { label: '3×3 stride 2 same', x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
    { label: '3×3 stride 1 valid', x: [3, 6, 6, 2], filter: [3, 3, 2, 5], strides: 1, pad: 'valid' },
    { label: '2×4 stride [2,3] same', x: [1, 9, 10, 2], filter: [2, 4, 2, 3], strides: [2, 3], pad: 'same' },
    { label: '3×3 stride 2 explicit pad 1', x: [2, 6, 5, 1], filter: [3, 3, 1, 2], strides: 2, pad: 1 },
    { label: '1×1', x: [2, 4, 4, 3], filter: [1, 1, 3, 2], strides: 1, pad: 'valid' },
  ];
  for (const c of convCases) {
    it(`conv2d ${c.label} (Conv2DBackpropFilter, and wasm’s own Conv2DBackpropInput)`, async () => {
      const run = (): number[][] =>
        gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), [
          { values: randomFloat32(tf.util.sizeFromShape(c.x), 10), shape: c.x },
          { values: randomFloat32(tf.util.sizeFromShape(c.filter), 11), shape: c.filter },
        ], [0, 1]);
      const [wasm, cpu] = await onBoth(run);
      assertRelClose(wasm[0] as number[], cpu[0] as number[], 1e-4, 'dx');
      assertRelClose(wasm[1] as number[], cpu[1] as number[], 1e-4, 'dfilter');
    });
  }

  for (const [strides, pad] of [[1, 'valid'], [2, 'same']] as const) {
    it(`depthwiseConv2d ×2 stride ${strides} ${pad} (both DepthwiseConv2dNative backprops)`, async () => {
      const run = (): number[][] =>
        gradsOf((x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, pad), [
          { values: randomFloat32(2 * 7 * 7 * 3, 20), shape: [2, 7, 7, 3] },
          { values: randomFloat32(3 * 3 * 3 * 2, 21), shape: [3, 3, 3, 2] },
        ], [0, 1]);
      const [wasm, cpu] = await onBoth(run);
      assertRelClose(wasm[0] as number[], cpu[0] as number[], 1e-4, 'dx');
      assertRelClose(wasm[1] as number[], cpu[1] as number[], 1e-4, 'dfilter');
    });
  }

  it('gather with repeated indices (UnsortedSegmentSum)', async () => {
    const indices = [3, 0, 3, 7, 1, 3, 0, 9];
    const run = (): number[][] =>
      gradsOf((params, idx) => tf.gather(params, idx as tf.Tensor1D), [
        { values: randomFloat32(10 * 4, 30), shape: [10, 4] },
        { values: indices, shape: [indices.length], dtype: 'int32' },
      ], [0]);
    const [wasm, cpu] = await onBoth(run);
    assertRelClose(wasm[0] as number[], cpu[0] as number[], 1e-4, 'dparams');
  });

  it('unsortedSegmentSum drops ids outside [0, numSegments) and keeps int32', async () => {
    const run = (): unknown[] =>
      tf.tidy(() => {
        const ids = tf.tensor1d([2, -1, 0, 5, 2, 1], 'int32');
        const f = tf.unsortedSegmentSum(tf.tensor2d(Array.from(randomFloat32(12, 50)), [6, 2]), ids, 4);
        const i = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4, 5, 6], 'int32'), ids, 3);
        return [Array.from(f.dataSync()), f.shape, Array.from(i.dataSync()), i.dtype];
      });
    const [wasm, cpu] = await onBoth(run);
    assertRelClose(wasm[0] as number[], cpu[0] as number[], 1e-6, 'float32 sums');
    assert.deepEqual(wasm.slice(1, 3), cpu.slice(1, 3));
    assert.deepEqual(wasm.slice(1), [[4, 2], [3, 6, 6], 'int32']);
    // cpu's kernel sums through a float32 mask and returns float32 even for int32 data; wasm keeps
    // the dtype, as TensorFlow and tfjs's webgl backend do.
    assert.equal(cpu[3], 'float32');
  });

  it('maxPool over all-negative windows (wasm’s own MaxPoolGrad drops these gradients)', async () => {
    const x = Array.from(randomFloat32(2 * 6 * 6 * 3, 40), (v) => v - 10);
    const run = (): number[][] =>
      gradsOf((t) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), [{ values: x, shape: [2, 6, 6, 3] }], [0]);
    const [wasm, cpu] = await onBoth(run);
    const dx = wasm[0] as number[];
    // One nonzero per 2×2 window: the gradient reaches every window.
    assert.equal(dx.filter((v) => v !== 0).length, 2 * 3 * 3 * 3);
    assertRelClose(dx, cpu[0] as number[], 1e-4, 'dx');
  });
});

describe('training on wasm follows the cpu loss curve', () => {
  interface Case {
    label: string;
    inputShape: number[];
    /** Integer inputs in [0, vocab) when set. */
    vocab?: number;
    layers: () => tf.layers.Layer[];
    optimizer: () => tf.Optimizer;
  }

  /** Five trainOnBatch steps from fixed weights and data; returns the losses. */
  async function lossCurve(c: Case): Promise<number[]> {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: c.inputShape }));
    for (const layer of c.layers()) model.add(layer);
    // Weights from a seeded generator, not from the initialisers, so both backends start identical.
    model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomFloat32(w.size, 500 + i, 0.3), w.shape)));
    model.compile({ optimizer: c.optimizer(), loss: 'categoricalCrossentropy' });
    const n = 16;
    const size = tf.util.sizeFromShape(c.inputShape);
    const raw = randomFloat32(n * size, 600);
    const xs = c.vocab === undefined
      ? tf.tensor(raw, [n, ...c.inputShape])
      : tf.tensor(Array.from(raw, (v) => Math.floor(Math.abs(v) * 1000) % (c.vocab as number)), [n, ...c.inputShape], 'int32');
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % 10), 'int32'), 10);
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) losses.push((await model.trainOnBatch(xs, ys)) as number);
    tf.dispose([xs, ys]);
    model.optimizer.dispose();
    model.dispose();
    return losses;
  }

  const cases: Case[] = [
    {
      label: 'Conv2D(8, 3×3) → Flatten → Dense(10, softmax), SGD',
      inputShape: [8, 8, 1],
      layers: () => [
        tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
      optimizer: () => tf.train.sgd(0.1),
    },
    {
      label: 'Embedding(50, 8) → GlobalAveragePooling1D → Dense(10, softmax), Adam',
      inputShape: [6],
      vocab: 50,
      layers: () => [
        tf.layers.embedding({ inputDim: 50, outputDim: 8 }),
        tf.layers.globalAveragePooling1d(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
      optimizer: () => tf.train.adam(0.01),
    },
    {
      label: 'DepthwiseConv2D(3×3, ×2) → MaxPooling2D → Flatten → Dense(10, softmax), Adam',
      inputShape: [8, 8, 3],
      layers: () => [
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
      optimizer: () => tf.train.adam(0.01),
    },
  ];

  for (const c of cases) {
    it(c.label, async () => {
      const wasm = await lossCurve(c);
      assert.equal(tf.getBackend(), 'wasm');
      const cpu = await onCpu(() => lossCurve(c));
      const [first, last] = [cpu[0] as number, cpu[4] as number];
      assert.ok(last < first, `loss decreases on cpu: ${cpu.join(', ')}`);
      wasm.forEach((loss, step) => {
        const ref = cpu[step] as number;
        assert.ok(Math.abs(loss - ref) <= 1e-4 * Math.abs(ref), `step ${step}: wasm ${loss} vs cpu ${ref}`);
      });
    });
  }
});
