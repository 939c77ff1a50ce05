import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { loadModel, saveModel, type OpenedModel } from '../../src/io/index.js';
import { applyPlan, chosen, planModel, truncate, type FactorizedModel, type Plan } from '../../src/factorize/index.js';
import { readTopology } from '../../src/graph/topology.js';
import { DIGITS_MLP, DIGITS_TEST, hashFolder, makeTempDir, matmul, maxAbsDiff, randomFloat32, readDigits, removeTempDir } from '../helpers.js';

let x: Float32Array;
let count: number;
let tmp: string;

before(async () => {
  await initBackend('wasm');
  const digits = await readDigits(DIGITS_TEST);
  x = digits.x;
  count = digits.count;
  tmp = await makeTempDir();
});

after(async () => {
  await removeTempDir(tmp);
});

function predict(model: tf.LayersModel, values: Float32Array, features: number): Float32Array {
  return tf.tidy(() => {
    const input = tf.tensor2d(values, [values.length / features, features]);
    return (model.predict(input) as tf.Tensor).dataSync() as Float32Array;
  }).slice();
}

/** Replace each chosen layer's kernel by the float32 product A·B of its rank-k factors. */
function setReconstructedKernels(model: tf.LayersModel, plan: Plan): void {
  for (const e of chosen(plan)) {
    const d = plan.decompositions.get(e.name);
    assert.ok(d !== undefined && e.rank !== null);
    const f = truncate(d, e.rank);
    const layer = model.getLayer(e.name);
    const [, bias] = layer.getWeights();
    assert.ok(bias !== undefined);
    const kernel = tf.tensor2d(Float32Array.from(matmul(f.a, f.b, e.m, e.rank, e.n)), [e.m, e.n]);
    layer.setWeights([kernel, bias]);
    kernel.dispose();
  }
}

function layerConfigs(topology: Record<string, unknown>): Array<{ className: string; config: Record<string, unknown> }> {
  return readTopology('model.json', topology).layers.map((l) => ({ className: l.class_name, config: l.config }));
}

describe('factorized digits-mlp at rank 16, before fine-tuning', () => {
  let original: OpenedModel;
  let reference: OpenedModel;
  let plan: Plan;
  let result: FactorizedModel;
  let inputHashes: Record<string, string>;

  before(async () => {
    inputHashes = await hashFolder(path.dirname(DIGITS_MLP));
    original = await loadModel(DIGITS_MLP);
    plan = planModel(DIGITS_MLP, original.stored.json.modelTopology, original.model, { kind: 'fixed', rank: 16 });
    result = await applyPlan(DIGITS_MLP, original.stored.json.modelTopology, original.model, plan);
    reference = await loadModel(DIGITS_MLP);
    setReconstructedKernels(reference.model, plan);
  });

  after(() => {
    original.model.dispose();
    reference.model.dispose();
    result.model.dispose();
  });

  it('predicts what the original with rank-16 reconstructed kernels predicts (max abs diff ≤ 1e-4)', () => {
    const got = predict(result.model, x, 64);
    const want = predict(reference.model, x, 64);
    assert.equal(got.length, count * 10);
    const diff = maxAbsDiff(got, want);
    assert.ok(diff <= 1e-4, `max |factorized − reference| = ${diff}`);
    // The comparison has power: rank 16 really changes the model's outputs.
    const fromOriginal = maxAbsDiff(predict(original.model, x, 64), want);
    assert.ok(fromOriginal > 1e-3, `rank-16 outputs differ from the original by only ${fromOriginal}`);
  });

  it('leaves the original model and its files untouched', async () => {
    const fresh = await loadModel(DIGITS_MLP);
    try {
      assert.equal(maxAbsDiff(predict(original.model, x, 64), predict(fresh.model, x, 64)), 0);
    } finally {
      fresh.model.dispose();
    }
    assert.deepEqual(await hashFolder(path.dirname(DIGITS_MLP)), inputHashes);
  });

  it('splices <name>_lowrank (k units, no bias, linear) before each chosen layer, which keeps name, bias and activation', () => {
    const before = layerConfigs(original.stored.json.modelTopology);
    const after = layerConfigs(result.modelTopology);
    assert.deepEqual(after.map((l) => l.config['name']), ['dense_1_lowrank', 'dense_1', 'dense_2_lowrank', 'dense_2', 'dense_3']);
    assert.ok(after.every((l) => l.className === 'Dense'));
    for (const name of ['dense_1', 'dense_2']) {
      const old = before.find((l) => l.config['name'] === name)?.config;
      const first = after.find((l) => l.config['name'] === `${name}_lowrank`)?.config;
      const second = after.find((l) => l.config['name'] === name)?.config;
      assert.ok(old && first && second);
      assert.equal(first['units'], 16);
      assert.equal(first['use_bias'], false);
      assert.equal(first['activation'], 'linear');
      assert.equal(second['units'], old['units']);
      assert.equal(second['use_bias'], true);
      assert.equal(second['activation'], old['activation']);
      assert.equal(second['batch_input_shape'], undefined);
    }
    // The model's input shape moves to the first factor of the first layer.
    assert.deepEqual(after[0]?.config['batch_input_shape'], [null, 64]);
    // The untouched layer's config is unchanged.
    assert.deepEqual(after[4], before[2]);
    assert.deepEqual([...result.firstFactors], [['dense_1', 'dense_1_lowrank'], ['dense_2', 'dense_2_lowrank']]);
    // The live model has the same layers.
    assert.deepEqual(result.model.layers.map((l) => l.name), ['dense_1_lowrank', 'dense_1', 'dense_2_lowrank', 'dense_2', 'dense_3']);
    const liveFirst = result.model.getLayer('dense_1_lowrank').getConfig();
    assert.equal(liveFirst['units'], 16);
    assert.equal(liveFirst['useBias'], false);
    assert.equal(liveFirst['activation'], 'linear');
  });

  it('has exactly the parameters the plan promised', () => {
    const planned = plan.entries.reduce((s, e) => s + e.paramsAfter, 0);
    assert.equal(result.model.countParams(), planned);
    assert.equal(planned, 256 + 16 * 320 + 128 + 16 * 384 + 1290);
    assert.ok(result.model.countParams() < original.model.countParams());
  });

  it('holds the factors and the original bias / untouched weights bit for bit', () => {
    for (const e of chosen(plan)) {
      const d = plan.decompositions.get(e.name);
      assert.ok(d !== undefined && e.rank !== null);
      const f = truncate(d, e.rank);
      const [a] = result.model.getLayer(`${e.name}_lowrank`).getWeights();
      const [b, bias] = result.model.getLayer(e.name).getWeights();
      const [, originalBias] = original.model.getLayer(e.name).getWeights();
      assert.ok(a && b && bias && originalBias);
      assert.deepEqual(a.shape, [e.m, e.rank]);
      assert.deepEqual(b.shape, [e.rank, e.n]);
      assert.deepEqual(a.dataSync(), f.a);
      assert.deepEqual(b.dataSync(), f.b);
      assert.deepEqual(bias.dataSync(), originalBias.dataSync());
    }
    const got = result.model.getLayer('dense_3').getWeights().map((t) => t.dataSync());
    const want = original.model.getLayer('dense_3').getWeights().map((t) => t.dataSync());
    assert.deepEqual(got, want);
  });

  it('saves and reloads to the same predictions', async () => {
    const dir = path.join(tmp, 'digits-rank16');
    await saveModel(result.model, dir);
    const reloaded = await loadModel(path.join(dir, 'model.json'));
    try {
      assert.equal(maxAbsDiff(predict(reloaded.model, x, 64), predict(result.model, x, 64)), 0);
      assert.equal(reloaded.model.countParams(), result.model.countParams());
    } finally {
      reloaded.model.dispose();
    }
  });
});

describe('a model whose kernels have rank 4', () => {
  /** Dense 20→16 (relu) → Dense 16→12 (tanh) → Dense 12→3: the first two kernels are exact rank-4 products. */
  async function buildAndSave(dir: string, secondName: string): Promise<tf.LayersModel> {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ name: 'a', units: 16, activation: 'relu', inputShape: [20] }),
        tf.layers.dense({ name: secondName, units: 12, activation: 'tanh' }),
        tf.layers.dense({ name: 'out', units: 3 }),
      ],
    });
    const shapes: Array<[string, number, number, number]> = [['a', 20, 16, 10], [secondName, 16, 12, 20]];
    for (const [name, m, n, seed] of shapes) {
      const left = randomFloat32(m * 4, seed, 0.5);
      const right = randomFloat32(4 * n, seed + 1, 0.5);
      const kernel = tf.tensor2d(Float32Array.from(matmul(left, right, m, 4, n)), [m, n]);
      const bias = tf.tensor1d(randomFloat32(n, seed + 2, 0.1));
      model.getLayer(name).setWeights([kernel, bias]);
      tf.dispose([kernel, bias]);
    }
    await saveModel(model, dir);
    return model;
  }

  it('factorized at rank 4 reproduces the original outputs (max abs diff ≤ 1e-4)', async () => {
    const dir = path.join(tmp, 'rank4');
    const built = await buildAndSave(dir, 'b');
    const file = path.join(dir, 'model.json');
    const opened = await loadModel(file);
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 4 });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['a', 'b']);
    assert.equal(plan.entries.find((e) => e.name === 'out')?.rank, null); // 12×3 breaks even at rank 2
    for (const e of chosen(plan)) {
      assert.ok(e.relativeError !== undefined && e.relativeError < 1e-6, `${e.name} relative error ${e.relativeError}`);
      // Singular values beyond the 4th are float32 rounding noise.
      assert.ok((e.singularValues[4] as number) < 1e-5 * (e.singularValues[0] as number));
    }
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    try {
      const input = randomFloat32(50 * 20, 99);
      const want = predict(built, input, 20);
      const got = predict(result.model, input, 20);
      const diff = maxAbsDiff(got, want);
      assert.ok(diff <= 1e-4, `max |factorized − original| = ${diff}`);
      assert.equal(maxAbsDiff(predict(opened.model, input, 20), want), 0);
      assert.equal(result.model.countParams(), plan.entries.reduce((s, e) => s + e.paramsAfter, 0));
      assert.equal(result.model.countParams(), (16 + 4 * 36) + (12 + 4 * 28) + (12 * 3 + 3));
    } finally {
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  });

  it('picks a fresh name when <name>_lowrank is already taken', async () => {
    const dir = path.join(tmp, 'taken');
    const built = await buildAndSave(dir, 'a_lowrank');
    const file = path.join(dir, 'model.json');
    const opened = await loadModel(file);
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['a', 4]]) });
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    try {
      assert.deepEqual(result.model.layers.map((l) => l.name), ['a_lowrank_2', 'a', 'a_lowrank', 'out']);
      assert.equal(result.firstFactors.get('a'), 'a_lowrank_2');
      const input = randomFloat32(10 * 20, 5);
      assert.ok(maxAbsDiff(predict(result.model, input, 20), predict(built, input, 20)) <= 1e-4);
    } finally {
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  });
});
