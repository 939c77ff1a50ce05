/**
 * Embedding factorization: a table [vocab, d] becomes Embedding(vocab, k) (keeping mask_zero and
 * input_length) followed by Dense(d, no bias, linear) under the original name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { applyPlan, chosen, planModel, type FactorizedModel } from '../../src/factorize/index.js';
import { readTopology } from '../../src/graph/topology.js';
import { loadModel, type OpenedModel } from '../../src/io/index.js';
import {
  makeTempDir,
  maxAbsDiffAll,
  predictArrays,
  randomFloat32,
  rankMatrix,
  removeTempDir,
  saveAndLoad,
  setReconstructedKernels,
  setWeightValues,
  stockLoad,
  useTempDirAndLeakCheck,
} from '../helpers.js';

const VOCAB = 50;
const D = 16;

const tempDir = useTempDirAndLeakCheck();

/** Token ids [rows, length] with values in [lo, VOCAB), from a seeded stream. */
function tokens(rows: number, length: number, seed: number, lo = 0): tf.Tensor2D {
  const r = randomFloat32(rows * length, seed);
  const ids = Array.from(r, (v) => lo + (Math.floor(Math.abs(v) * 1000) % (VOCAB - lo)));
  return tf.tensor2d(ids, [rows, length], 'float32');
}

function layerJson(topology: Record<string, unknown>, name: string): { class_name: string; config: Record<string, unknown> } {
  const layer = readTopology('model.json', topology).layers.find((l) => l.config.name === name);
  assert.ok(layer !== undefined, `no layer ${name}`);
  return layer;
}

describe('Embedding(50, 16) with an exactly rank-4 table, factorized at rank 4', () => {
  let built: tf.LayersModel;
  let opened: OpenedModel;
  let file: string;
  let result: FactorizedModel;

  before(async () => {
    built = tf.sequential({
      name: 'bag',
      layers: [
        tf.layers.embedding({ name: 'emb', inputDim: VOCAB, outputDim: D, inputLength: 7 }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ name: 'head', units: 3, activation: 'softmax' }),
      ],
    });
    setWeightValues(built.getLayer('emb'), [rankMatrix(VOCAB, D, 4, 1)]);
    ({ file, opened } = await saveAndLoad(built, path.join(tempDir(), 'bag')));
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['emb', 4]]) });
    const e = chosen(plan)[0];
    assert.ok(e !== undefined && e.name === 'emb');
    assert.equal(e.className, 'Embedding');
    assert.equal(e.m, VOCAB);
    assert.equal(e.n, D);
    assert.equal(e.maxUsefulRank, 12); // floor((800 − 1) / 66)
    assert.equal(e.paramsAfter, 4 * (VOCAB + D));
    assert.ok((e.relativeError ?? 1) < 1e-6);
    result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
  });

  after(() => {
    built.dispose();
    opened.model.dispose();
    result.model.dispose();
  });

  it('reproduces the outputs for every token id (max abs diff ≤ 1e-5)', () => {
    // Every id 0..49 appears: 50 ids in rows of 7, padded with more.
    const ids = Array.from({ length: 56 }, (_, i) => i % VOCAB);
    const x = tf.tensor2d(ids, [8, 7], 'float32');
    try {
      const diff = maxAbsDiffAll(predictArrays(result.model, x), predictArrays(built, x));
      assert.ok(diff <= 1e-5, `max diff ${diff}`);
      // The embedding output itself, not just the softmax.
      const inner = (m: tf.LayersModel): Float32Array[] => {
        const probe = tf.model({ inputs: m.inputs, outputs: m.getLayer('emb').output as tf.SymbolicTensor });
        return predictArrays(probe, x);
      };
      const tableDiff = maxAbsDiffAll(inner(result.model), inner(built));
      assert.ok(tableDiff <= 1e-5, `embedding output max diff ${tableDiff}`);
    } finally {
      x.dispose();
    }
  });

  it('the first factor is Embedding(50, 4) keeping input_length; the second is Dense(16) named like the original, no bias, linear', () => {
    const first = layerJson(result.modelTopology, 'emb_lowrank');
    const second = layerJson(result.modelTopology, 'emb');
    assert.equal(first.class_name, 'Embedding');
    assert.equal(first.config['input_dim'], VOCAB);
    assert.equal(first.config['output_dim'], 4);
    assert.equal(first.config['input_length'], 7);
    assert.equal(second.class_name, 'Dense');
    assert.equal(second.config['units'], D);
    assert.equal(second.config['use_bias'], false);
    assert.equal(second.config['activation'], 'linear');
    assert.deepEqual(result.model.layers.map((l) => `${l.name}:${l.getClassName()}`), ['emb_lowrank:Embedding', 'emb:Dense', 'flat:Flatten', 'head:Dense']);
    const [table] = result.model.getLayer('emb_lowrank').getWeights();
    const secondWeights = result.model.getLayer('emb').getWeights();
    assert.deepEqual(table?.shape, [VOCAB, 4]);
    assert.equal(secondWeights.length, 1);
    assert.deepEqual(secondWeights[0]?.shape, [4, D]);
    // input_length still fixes the model's input shape, so Flatten → Dense still builds.
    assert.deepEqual(result.model.inputs[0]?.shape, [null, 7]);
    assert.deepEqual(result.model.getLayer('emb').outputShape, [null, 7, D]);
    assert.equal(result.model.countParams(), 4 * (VOCAB + D) + (7 * D * 3 + 3));
  });

  it('saves and reloads with plain tfjs to the same outputs', async () => {
    const dir = path.join(tempDir(), 'bag-out');
    const { opened: reopened } = await saveAndLoad(result.model, dir);
    const stock = await stockLoad(dir);
    const x = tokens(9, 7, 4);
    try {
      const want = predictArrays(result.model, x);
      assert.equal(maxAbsDiffAll(predictArrays(reopened.model, x), want), 0);
      assert.ok(maxAbsDiffAll(predictArrays(stock, x), want) <= 1e-6);
    } finally {
      x.dispose();
      reopened.model.dispose();
      stock.dispose();
    }
  });
});

describe('Embedding with mask_zero feeding an LSTM', () => {
  /** Embedding(mask_zero) → LSTM(5) → Dense(2), sequences of any length; the table is random (full rank). */
  function build(maskZero: boolean): tf.LayersModel {
    const model = tf.sequential({
      name: 'masked',
      layers: [
        tf.layers.embedding({ name: 'emb', inputDim: VOCAB, outputDim: D, maskZero, inputShape: [null] }),
        tf.layers.lstm({ name: 'rnn', units: 5 }),
        tf.layers.dense({ name: 'head', units: 2 }),
      ],
    });
    // Seeded weights, the same for both variants, so only the mask differs between them.
    model.layers.forEach((layer, l) => {
      setWeightValues(layer, layer.getWeights().map((w, i) => randomFloat32(w.size, 10 * l + i + 11, 0.4)));
    });
    return model;
  }

  let built: tf.LayersModel;
  let opened: OpenedModel;
  let reference: OpenedModel;
  let file: string;
  let result: FactorizedModel;

  before(async () => {
    built = build(true);
    ({ file, opened } = await saveAndLoad(built, path.join(tempDir(), 'masked')));
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 6 });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['emb']);
    result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    reference = await loadModel(file);
    setReconstructedKernels(reference.model, plan);
  });

  after(() => {
    built.dispose();
    opened.model.dispose();
    reference.model.dispose();
    result.model.dispose();
  });

  it('keeps mask_zero on the first factor', () => {
    assert.equal(layerJson(result.modelTopology, 'emb_lowrank').config['mask_zero'], true);
    assert.equal(result.model.getLayer('emb_lowrank').getConfig()['maskZero'], true);
  });

  it('outputs equal the original with its table replaced by the rank-6 reconstruction (≤ 1e-4)', () => {
    const x = tf.tensor2d([[3, 9, 4, 0, 0, 0], [7, 1, 0, 0, 0, 0], [5, 6, 7, 8, 9, 10], [12, 0, 0, 0, 0, 0]], [4, 6], 'float32');
    try {
      const got = predictArrays(result.model, x);
      const want = predictArrays(reference.model, x);
      const diff = maxAbsDiffAll(got, want);
      assert.ok(diff <= 1e-4, `max |factorized − reconstructed| = ${diff}`);
      assert.ok(maxAbsDiffAll(predictArrays(built, x), want) > 1e-4, 'rank 6 should change the outputs');
    } finally {
      x.dispose();
    }
  });

  it('the mask reaches the LSTM: trailing zeros change nothing, as in the original', () => {
    // With the mask, the LSTM skips the padded steps, so [3, 9, 4, 0, 0] ≡ [3, 9, 4].
    const padded = tf.tensor2d([[3, 9, 4, 0, 0], [7, 1, 2, 0, 0]], [2, 5], 'float32');
    const short = tf.tensor2d([[3, 9, 4], [7, 1, 2]], [2, 3], 'float32');
    const unmasked = build(false);
    try {
      for (const model of [reference.model, result.model]) {
        const diff = maxAbsDiffAll(predictArrays(model, padded), predictArrays(model, short));
        assert.ok(diff <= 1e-5, `${model === result.model ? 'factorized' : 'reference'}: padding changed the outputs by ${diff}`);
      }
      // The check has power: without the mask the padding does change the outputs.
      assert.ok(maxAbsDiffAll(predictArrays(unmasked, padded), predictArrays(unmasked, short)) > 1e-4);
    } finally {
      tf.dispose([padded, short]);
      unmasked.dispose();
    }
  });

  it('saves and reloads with plain tfjs, mask included', async () => {
    const dir = path.join(tempDir(), 'masked-out');
    const { opened: reopened } = await saveAndLoad(result.model, dir);
    const stock = await stockLoad(dir);
    const padded = tf.tensor2d([[3, 9, 4, 0, 0]], [1, 5], 'float32');
    const short = tf.tensor2d([[3, 9, 4]], [1, 3], 'float32');
    try {
      const want = predictArrays(result.model, padded);
      assert.equal(maxAbsDiffAll(predictArrays(reopened.model, padded), want), 0);
      assert.ok(maxAbsDiffAll(predictArrays(stock, padded), want) <= 1e-6);
      assert.ok(maxAbsDiffAll(predictArrays(stock, short), want) <= 1e-5);
    } finally {
      tf.dispose([padded, short]);
      reopened.model.dispose();
      stock.dispose();
    }
  });
});

describe('Embedding in a functional model', () => {
  it('factorizes with inbound nodes rewired and reproduces an exact-rank table', async () => {
    const ids = tf.input({ shape: [5], name: 'ids' });
    const emb = tf.layers.embedding({ name: 'words', inputDim: VOCAB, outputDim: D, maskZero: true }).apply(ids) as tf.SymbolicTensor;
    const rnn = tf.layers.gru({ name: 'gru', units: 4 }).apply(emb) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head', units: 2 }).apply(rnn) as tf.SymbolicTensor;
    const built = tf.model({ inputs: ids, outputs: out });
    setWeightValues(built.getLayer('words'), [rankMatrix(VOCAB, D, 3, 60)]);
    const { file, opened } = await saveAndLoad(built, path.join(tempDir(), 'functional'));
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 3 });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['words']);
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    const x = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [49, 48, 47, 46, 45]], [3, 5], 'float32');
    try {
      const second = layerJson(result.modelTopology, 'words') as { inbound_nodes?: unknown };
      assert.deepEqual(second.inbound_nodes, [[['words_lowrank', 0, 0, {}]]]);
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
