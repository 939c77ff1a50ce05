/**
 * Conv2D factorization: a kernel [kh, kw, cin, cout] seen as a (kh·kw·cin)×cout matrix becomes a
 * Conv2D with k filters (the original kernel size, strides, padding and dilation; no bias, linear)
 * followed by a 1×1 Conv2D (original name, bias and activation).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { applyPlan, chosen, planModel, type Plan } from '../../src/factorize/index.js';
import { readTopology } from '../../src/graph/topology.js';
import { loadModel } from '../../src/io/index.js';
import {
  frobenius,
  makeTempDir,
  maxAbsDiff,
  maxAbsDiffAll,
  predictArrays,
  randomFloat32,
  rankMatrix,
  reconstructedKernel,
  removeTempDir,
  saveAndLoad,
  setReconstructedKernels,
  setWeightValues,
  stockLoad,
  useTempDirAndLeakCheck,
} from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();

interface ConvCase {
  label: string;
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
  dilationRate: [number, number];
}

const H = 11;
const W = 10;
const CIN = 3;
const COUT = 8;

// tfjs refuses strides > 1 together with dilation > 1, so dilation is tried with stride 1.
const CASES: ConvCase[] = [
  { label: '3×3, strides 2, same', kernelSize: [3, 3], strides: [2, 2], padding: 'same', dilationRate: [1, 1] },
  { label: '3×2, strides [2,1], valid', kernelSize: [3, 2], strides: [2, 1], padding: 'valid', dilationRate: [1, 1] },
  { label: '3×3, dilation 2, same', kernelSize: [3, 3], strides: [1, 1], padding: 'same', dilationRate: [2, 2] },
  { label: '2×3, dilation [2,3], valid', kernelSize: [2, 3], strides: [1, 1], padding: 'valid', dilationRate: [2, 3] },
];

/** conv (relu, bias) → flatten → dense: the conv kernel set to `kernel` (row-major (kh·kw·cin)×cout). */
function convModel(c: ConvCase, kernel: Float32Array): tf.LayersModel {
  const model = tf.sequential({
    name: 'convnet',
    layers: [
      tf.layers.conv2d({
        name: 'conv',
        inputShape: [H, W, CIN],
        filters: COUT,
        kernelSize: c.kernelSize,
        strides: c.strides,
        padding: c.padding,
        dilationRate: c.dilationRate,
        activation: 'relu',
      }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ name: 'head', units: 3 }),
    ],
  });
  setWeightValues(model.getLayer('conv'), [kernel, randomFloat32(COUT, 77, 0.3)]);
  return model;
}

const images = (count: number, seed: number): tf.Tensor4D => tf.tensor4d(randomFloat32(count * H * W * CIN, seed), [count, H, W, CIN]);

function topologyLayer(topology: Record<string, unknown>, name: string): { class_name: string; config: Record<string, unknown> } {
  const layer = readTopology('model.json', topology).layers.find((l) => l.config.name === name);
  assert.ok(layer !== undefined, `no layer ${name}`);
  return layer;
}

describe('Conv2D with an exactly rank-2 kernel, factorized at rank 2', () => {
  for (const c of CASES) {
    it(`${c.label}: two standard layers that reproduce the outputs (≤ 1e-4)`, async () => {
      const [kh, kw] = c.kernelSize;
      const m = kh * kw * CIN;
      const built = convModel(c, rankMatrix(m, COUT, 2, 10));
      const { file, opened } = await saveAndLoad(built, path.join(tempDir(), `exact-${c.label.replace(/\W+/g, '-')}`));
      const x = images(6, 3);
      let result: Awaited<ReturnType<typeof applyPlan>> | undefined;
      try {
        const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['conv', 2]]) });
        const e = plan.entries.find((x) => x.name === 'conv');
        assert.ok(e !== undefined);
        assert.equal(e.className, 'Conv2D');
        assert.equal(e.m, m);
        assert.equal(e.n, COUT);
        assert.equal(e.rank, 2);
        assert.ok((e.relativeError ?? 1) < 1e-6, `relative error ${e.relativeError}`);
        assert.equal(e.paramsAfter, COUT + 2 * (m + COUT));
        result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);

        // On disk: the first factor carries the spatial work, the second only mixes channels.
        const first = topologyLayer(result.modelTopology, 'conv_lowrank');
        const second = topologyLayer(result.modelTopology, 'conv');
        assert.equal(first.class_name, 'Conv2D');
        assert.equal(second.class_name, 'Conv2D');
        assert.equal(first.config['filters'], 2);
        assert.deepEqual(first.config['kernel_size'], c.kernelSize);
        assert.deepEqual(first.config['strides'], c.strides);
        assert.equal(first.config['padding'], c.padding);
        assert.deepEqual(first.config['dilation_rate'], c.dilationRate);
        assert.equal(first.config['use_bias'], false);
        assert.equal(first.config['activation'], 'linear');
        assert.deepEqual(first.config['batch_input_shape'], [null, H, W, CIN]);
        assert.equal(second.config['filters'], COUT);
        assert.deepEqual(second.config['kernel_size'], [1, 1]);
        assert.deepEqual(second.config['strides'], [1, 1]);
        assert.deepEqual(second.config['dilation_rate'], [1, 1]);
        assert.equal(second.config['use_bias'], true);
        assert.equal(second.config['activation'], 'relu');
        assert.equal(second.config['batch_input_shape'], undefined);

        // Live: the same, as tfjs built it.
        assert.deepEqual(result.model.layers.map((l) => l.name), ['conv_lowrank', 'conv', 'flat', 'head']);
        const [a] = result.model.getLayer('conv_lowrank').getWeights();
        const [b, bias] = result.model.getLayer('conv').getWeights();
        assert.ok(a && b && bias);
        assert.deepEqual(a.shape, [kh, kw, CIN, 2]);
        assert.deepEqual(b.shape, [1, 1, 2, COUT]);
        assert.deepEqual(bias.dataSync(), opened.model.getLayer('conv').getWeights()[1]?.dataSync());
        assert.equal(result.model.countParams(), opened.model.countParams() - m * COUT + 2 * (m + COUT));

        const want = predictArrays(built, x);
        const got = predictArrays(result.model, x);
        const diff = maxAbsDiffAll(got, want);
        assert.ok(diff <= 1e-4, `max |factorized − original| = ${diff}`);
        // The output shapes agree too (strides and padding live in the first factor only).
        assert.deepEqual(result.model.getLayer('conv').outputShape, built.getLayer('conv').outputShape);
      } finally {
        x.dispose();
        built.dispose();
        opened.model.dispose();
        result?.model.dispose();
      }
    });
  }
});

describe('Conv2D with a full-rank random kernel', () => {
  const c: ConvCase = { label: 'random', kernelSize: [3, 3], strides: [2, 2], padding: 'same', dilationRate: [1, 1] };
  const m = 3 * 3 * CIN; // 27×8: the largest useful rank is floor((216 − 1) / 35) = 6

  let built: tf.LayersModel;
  let file: string;
  let opened: Awaited<ReturnType<typeof saveAndLoad>>['opened'];
  let kernel: Float32Array;

  before(async () => {
    kernel = randomFloat32(m * COUT, 21, 0.3);
    built = convModel(c, kernel);
    ({ file, opened } = await saveAndLoad(built, path.join(tempDir(), 'random')));
  });

  after(() => {
    built.dispose();
    opened.model.dispose();
  });

  const planAt = (rank: number): Plan => planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['conv', rank]]) });

  for (const k of [1, 3, 6]) {
    it(`at rank ${k}: outputs equal the original's with the kernel replaced by its rank-${k} reconstruction (≤ 1e-4)`, async () => {
      const plan = planAt(k);
      assert.deepEqual(chosen(plan).map((e) => e.name), ['conv']);
      const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
      // The reference is the saved original (same head weights) with the reconstructed kernel.
      const reference = (await loadModel(file)).model;
      setReconstructedKernels(reference, plan);
      const x = images(5, 8);
      try {
        const want = predictArrays(reference, x);
        const got = predictArrays(result.model, x);
        const diff = maxAbsDiffAll(got, want);
        assert.ok(diff <= 1e-4, `max |factorized − reconstructed| = ${diff}`);
        // The comparison has power: the truncation really changes the outputs.
        const fromOriginal = maxAbsDiffAll(predictArrays(built, x), want);
        assert.ok(fromOriginal > 1e-3, `rank ${k} changes the outputs by only ${fromOriginal}`);
      } finally {
        x.dispose();
        reference.dispose();
        result.model.dispose();
      }
    });

    it(`at rank ${k}: relativeError and energyKept equal ‖W−W_k‖_F/‖W‖_F and ‖W_k‖²/‖W‖² computed directly`, () => {
      const plan = planAt(k);
      const e = chosen(plan)[0];
      assert.ok(e !== undefined && e.relativeError !== undefined && e.energyKept !== undefined);
      const wk = reconstructedKernel(plan, 'conv');
      const direct = frobenius(kernel, wk) / frobenius(kernel);
      assert.ok(Math.abs(e.relativeError - direct) <= 1e-5, `plan ${e.relativeError} vs direct ${direct}`);
      // W_k is orthogonal to W − W_k, so ‖W_k‖² is the energy kept.
      const kept = (frobenius(wk) / frobenius(kernel)) ** 2;
      assert.ok(Math.abs(e.energyKept - kept) <= 1e-5, `plan ${e.energyKept} vs direct ${kept}`);
    });
  }

  it('skips a rank above the largest useful one (6 for 27×8) with a reason naming it', () => {
    const e7 = planAt(7).entries.find((x) => x.name === 'conv');
    assert.ok(e7 !== undefined);
    assert.equal(e7.maxUsefulRank, 6);
    assert.equal(e7.rank, null);
    assert.equal(e7.paramsAfter, e7.paramsBefore);
    assert.match(e7.reason ?? '', /\b6\b/);
    assert.equal(planAt(6).entries.find((x) => x.name === 'conv')?.rank, 6);
  });
});

describe('Conv2D in a functional model with a residual Add', () => {
  it('factorized at its exact rank reproduces the outputs, saves and reloads with plain tfjs', async () => {
    // x → conv_a (3×3, same, relu) → conv_b (3×3, same, linear) → add(x, conv_b) → pool → dense
    const input = tf.input({ shape: [8, 8, 4], name: 'image' });
    const a = tf.layers.conv2d({ name: 'conv_a', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ name: 'conv_b', filters: 4, kernelSize: 3, padding: 'same' }).apply(a) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'residual' }).apply([input, b]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(sum) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head', units: 5 }).apply(pooled) as tf.SymbolicTensor;
    const built = tf.model({ inputs: input, outputs: out, name: 'resnetish' });
    // conv_a: 36×6, rank 2 (max useful 4); conv_b: 54×4, rank 1 (max useful 3).
    setWeightValues(built.getLayer('conv_a'), [rankMatrix(36, 6, 2, 31), randomFloat32(6, 33, 0.2)]);
    setWeightValues(built.getLayer('conv_b'), [rankMatrix(54, 4, 1, 34), randomFloat32(4, 36, 0.2)]);

    const dir = path.join(tempDir(), 'residual');
    const { file, opened } = await saveAndLoad(built, dir);
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['conv_a', 2], ['conv_b', 1]]) });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['conv_a', 'conv_b']);
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    const x = tf.tensor4d(randomFloat32(7 * 8 * 8 * 4, 40), [7, 8, 8, 4]);
    const outDir = path.join(tempDir(), 'residual-out');
    let stock: tf.LayersModel | undefined;
    try {
      const residual = topologyLayer(result.modelTopology, 'residual') as { inbound_nodes?: unknown };
      // The Add still reads the input and 'conv_b', which is now the second factor.
      assert.deepEqual(
        (residual.inbound_nodes as unknown[][][])[0]?.map((n) => n[0]),
        ['image', 'conv_b'],
      );
      const want = predictArrays(built, x);
      const got = predictArrays(result.model, x);
      assert.ok(maxAbsDiffAll(got, want) <= 1e-4, `max diff ${maxAbsDiffAll(got, want)}`);

      const { opened: reopened } = await saveAndLoad(result.model, outDir);
      const again = predictArrays(reopened.model, x);
      reopened.model.dispose();
      assert.equal(maxAbsDiffAll(again, got), 0);
      stock = await stockLoad(outDir);
      assert.deepEqual(stock.layers.map((l) => l.name), result.model.layers.map((l) => l.name));
      assert.ok(maxAbsDiff((predictArrays(stock, x)[0] as Float32Array), got[0] as Float32Array) <= 1e-6);
    } finally {
      x.dispose();
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
      stock?.dispose();
    }
  });
});

describe('Conv2D without a bias', () => {
  it('gives a second factor without a bias either, and reproduces an exact-rank kernel', async () => {
    const built = tf.sequential({
      layers: [tf.layers.conv2d({ name: 'conv', inputShape: [H, W, CIN], filters: COUT, kernelSize: 3, strides: 2, padding: 'same', useBias: false })],
    });
    setWeightValues(built.getLayer('conv'), [rankMatrix(27, COUT, 3, 80)]);
    const { file, opened } = await saveAndLoad(built, path.join(tempDir(), 'no-bias'));
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 3 });
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    const x = images(3, 81);
    try {
      assert.equal(topologyLayer(result.modelTopology, 'conv').config['use_bias'], false);
      assert.equal(result.model.getLayer('conv').getWeights().length, 1);
      assert.equal(result.model.countParams(), 3 * (27 + COUT));
      const diff = maxAbsDiffAll(predictArrays(result.model, x), predictArrays(built, x));
      assert.ok(diff <= 1e-4, `max diff ${diff}`);
    } finally {
      x.dispose();
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  });
});

describe('Conv2D with data_format channels_first', () => {
  it('keeps the data format on both factors and reproduces an exact-rank kernel', async () => {
    // The kernel layout is [kh, kw, cin, cout] whatever the data format.
    const built = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: 'conv', inputShape: [CIN, 7, 6], dataFormat: 'channelsFirst', filters: COUT, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }),
        tf.layers.flatten({ name: 'flat' }),
      ],
    });
    setWeightValues(built.getLayer('conv'), [rankMatrix(27, COUT, 2, 50), randomFloat32(COUT, 52, 0.2)]);
    const { file, opened } = await saveAndLoad(built, path.join(tempDir(), 'channels-first'));
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 2 });
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    const x = tf.tensor4d(randomFloat32(4 * CIN * 7 * 6, 53), [4, CIN, 7, 6]);
    try {
      for (const name of ['conv_lowrank', 'conv']) {
        assert.equal(topologyLayer(result.modelTopology, name).config['data_format'], 'channels_first');
      }
      const want = predictArrays(built, x);
      const got = predictArrays(result.model, x);
      assert.ok(maxAbsDiffAll(got, want) <= 1e-4, `max diff ${maxAbsDiffAll(got, want)}`);
    } finally {
      x.dispose();
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  });
});
