/**
 * The Dense-chain training step (src/train/dense-step.ts, dense-loss.ts) against the general one
 * (model.apply under tfjs's tape): the loss and every gradient on the fixtures' MLPs, factorized and
 * not, for each objective fine-tuning uses; a few seeded fineTune steps give the same weights; the
 * path is taken for the models it claims and not for the others, which still train.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { loadModel } from '../../src/io/index.js';
import { applyPlan, planModel } from '../../src/factorize/index.js';
import { readDataset, type Dataset } from '../../src/data/dataset.js';
import { denseChain, denseGradients } from '../../src/train/dense-step.js';
import { crossEntropyHead, headCovers } from '../../src/train/dense-loss.js';
import { objectiveLoss, type Objective } from '../../src/train/loss.js';
import { fineTune } from '../../src/train/fine-tune.js';
import { featureTensors, labelTensor } from '../../src/train/tensors.js';
import { memorySource } from '../../src/data/stream.js';
import { DIGITS_CNN, DIGITS_MLP, DIGITS_TRAIN, FIXTURES } from '../helpers.js';

const FASHION_MLP = path.join(FIXTURES, 'fashion-mlp', 'model.json');
const FASHION_TRAIN = { file: path.join(FIXTURES, 'fashion', 'train.npy'), labels: path.join(FIXTURES, 'fashion', 'train-labels.npy') };

before(async () => {
  assert.equal(await initBackend('wasm'), 'wasm');
});

async function fashion(): Promise<Dataset> {
  return readDataset(FASHION_TRAIN.file, { labels: FASHION_TRAIN.labels, inputScale: 1 / 255 });
}

/** The model at `file`, factorized at `rank` as compress does (all Dense layers that pay). */
async function factorized(file: string, rank: number): Promise<tf.LayersModel> {
  const { model } = await loadModel(file);
  const topology = model.toJSON(null, false) as unknown as Record<string, unknown>;
  const plan = planModel('test', topology, model, { kind: 'fixed', rank });
  const result = await applyPlan('test', topology, model, plan);
  model.dispose();
  return result.model;
}

const trainable = (model: tf.LayersModel): tf.Variable[] => model.trainableWeights.map((w) => w.read() as tf.Variable);

/** max |a − b| / max |b|: the difference relative to the gradient's scale. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
}

/** The general step's loss and gradients, and the Dense-chain step's (with the loop head when it covers the objective). */
function bothGradients(model: tf.LayersModel, data: Dataset, objective: Objective, rows: number, teacherModel?: tf.LayersModel, useHead = true) {
  const variables = trainable(model);
  const chain = denseChain(model, variables);
  assert.ok(chain, 'the model is a Dense chain');
  const indices = Int32Array.from({ length: rows }, (_, i) => i * 3);
  return tf.tidy(() => {
    const [xs] = featureTensors(data, [[data.featureSize]], indices) as [tf.Tensor];
    const ys = labelTensor(data, indices);
    const teacher = teacherModel === undefined ? undefined : (teacherModel.predict(xs) as tf.Tensor);
    const general = tf.variableGrads(() => objectiveLoss(objective, model.apply(xs, { training: true }) as tf.Tensor, ys, teacher), variables);
    const classes = chain.stages[chain.stages.length - 1]?.kernel.shape[1] as number;
    const labels = ys.dataSync() as Float32Array;
    const teacherValues = teacher?.dataSync() as Float32Array | undefined;
    const head = useHead && headCovers(objective, data.labelSize, classes) ? (out: Float32Array, grad: Float32Array) => crossEntropyHead(objective, out, labels, teacherValues, rows, classes, grad) : undefined;
    const fast = denseGradients(chain, xs, variables, (p) => objectiveLoss(objective, p, ys, teacher), head);
    const result = {
      generalLoss: general.value.dataSync()[0] as number,
      fastLoss: fast.value,
      names: variables.map((v) => v.name),
      general: variables.map((v) => general.grads[v.name]?.dataSync() as Float32Array),
      fast: variables.map((v) => fast.grads[v.name]?.dataSync() as Float32Array),
      usedHead: head !== undefined,
    };
    return result;
  });
}

function assertSame(r: ReturnType<typeof bothGradients>, what: string): void {
  assert.ok(Math.abs(r.fastLoss - r.generalLoss) <= 1e-5 * Math.max(1, Math.abs(r.generalLoss)), `${what}: loss ${r.fastLoss} vs ${r.generalLoss}`);
  r.names.forEach((name, i) => {
    const g = r.general[i] as Float32Array;
    const d = r.fast[i] as Float32Array;
    assert.equal(d.length, g.length, `${what}: ${name} size`);
    assert.ok(g.some((x) => x !== 0), `${what}: ${name} has a gradient (else the comparison proves nothing)`);
    const rel = relative(d, g);
    assert.ok(rel <= 1e-5, `${what}: ${name} differs by ${rel.toExponential(2)} of its scale`);
  });
}

const sparse = (distill: number, temperature: number): Objective => ({ kind: 'sparse-categorical-crossentropy', fromLogits: false, distill, temperature });

describe('Dense-chain step: loss and gradients equal the general step', () => {
  it('fashion-mlp and its rank-16 factorization, labels only and distilled (α 0.5, T 2; α 1, T 1)', async () => {
    const data = await fashion();
    const original = (await loadModel(FASHION_MLP)).model;
    const student = await factorized(FASHION_MLP, 16);
    try {
      const r = bothGradients(original, data, sparse(0, 1), 32);
      assert.ok(r.usedHead, 'the loop head covers sparse cross-entropy');
      assertSame(r, 'fashion-mlp');
      // The factorized student learns from the original, as compress runs it.
      for (const objective of [sparse(0, 1), sparse(0.5, 2), sparse(1, 1)]) {
        assertSame(bothGradients(student, data, objective, 32, original), `rank 16, distill ${objective.distill}, T ${objective.temperature}`);
      }
    } finally {
      original.dispose();
      student.dispose();
    }
  });

  it('digits-mlp factorized, an odd batch, and the tfjs head (mse) where the loop head does not apply', async () => {
    const data = await readDataset(DIGITS_TRAIN);
    const model = await factorized(DIGITS_MLP, 8);
    const teacher = (await loadModel(DIGITS_MLP)).model;
    try {
      assertSame(bothGradients(model, data, sparse(0, 1), 13), 'digits rank 8');
      // The same objective through tfjs's tape on the output: the head is the only difference.
      assertSame(bothGradients(model, data, sparse(0.3, 3), 32, teacher, false), 'digits rank 8, tfjs head');
      // mse of the softmax outputs against one-hot labels given as 10 columns.
      const oneHot: Dataset = { ...data, labelSize: 10, y: Float32Array.from({ length: data.count * 10 }, (_, k) => ((data.y as Float32Array)[Math.floor(k / 10)] === k % 10 ? 1 : 0)) };
      const mse: Objective = { kind: 'mse', fromLogits: false, distill: 0, temperature: 1 };
      const r = bothGradients(model, oneHot, mse, 32);
      assert.equal(r.usedHead, false);
      assertSame(r, 'digits rank 8, mse');
      const categorical: Objective = { kind: 'categorical-crossentropy', fromLogits: false, distill: 0, temperature: 1 };
      assertSame(bothGradients(model, oneHot, categorical, 32), 'digits rank 8, categorical');
    } finally {
      model.dispose();
      teacher.dispose();
    }
  });

  it('logits (a linear output, from_logits), sigmoid and tanh hidden layers, a frozen layer, no bias', async () => {
    const data = await readDataset(DIGITS_TRAIN);
    const build = (): tf.LayersModel =>
      tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [64], units: 24, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: 'ones' }),
          tf.layers.dense({ units: 16, activation: 'sigmoid', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
          tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: tf.initializers.constant({ value: 0.1 }) }),
          tf.layers.dense({ units: 10, activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
    const model = build();
    const teacher = build();
    try {
      for (const objective of [
        { kind: 'sparse-categorical-crossentropy', fromLogits: true, distill: 0, temperature: 1 },
        { kind: 'sparse-categorical-crossentropy', fromLogits: true, distill: 0.5, temperature: 4 },
      ] satisfies Objective[]) {
        assertSame(bothGradients(model, data, objective, 32, objective.distill > 0 ? teacher : undefined), `logits, distill ${objective.distill}`);
      }
      // The first layer frozen: no gradient for it, the backward stops at the second.
      (model.layers[0] as tf.layers.Layer).trainable = false;
      assert.equal(trainable(model).length, 5);
      assertSame(bothGradients(model, data, sparse(0, 1), 32), 'first layer frozen');
    } finally {
      model.dispose();
      teacher.dispose();
    }
  });
});

describe('Dense-chain step inside fineTune', () => {
  /** Weights after a seeded epoch on 256 samples, with the Dense-chain step or the general one. */
  async function trainOnce(general: boolean, distill: number): Promise<{ weights: Float32Array[]; losses: number[]; step: string | undefined }> {
    const all = await fashion();
    const train: Dataset = { ...all, count: 256, x: all.x.subarray(0, 256 * 784), y: (all.y as Float32Array).subarray(0, 256) };
    const student = await factorized(FASHION_MLP, 16);
    const teacher = (await loadModel(FASHION_MLP)).model;
    const saved = process.env['LOWRANK_GENERAL_STEP'];
    process.env['LOWRANK_GENERAL_STEP'] = general ? '1' : '0';
    let step: string | undefined;
    try {
      const result = await fineTune(student, train, undefined, {
        objective: sparse(distill, 2),
        epochs: 2,
        batchSize: 32,
        learningRate: 1e-3,
        seed: 5,
        shapes: [[784]],
        teacher,
        onStep: (s) => (step = s),
      });
      return { weights: student.getWeights().map((w) => w.dataSync() as Float32Array), losses: result.history.map((h) => h.loss), step };
    } finally {
      if (saved === undefined) delete process.env['LOWRANK_GENERAL_STEP'];
      else process.env['LOWRANK_GENERAL_STEP'] = saved;
      student.dispose();
      teacher.dispose();
    }
  }

  it('16 seeded Adam steps give the general step\'s weights and losses (labels only, and distilled)', async () => {
    for (const distill of [0, 0.5]) {
      const before = tf.memory().numTensors;
      const fast = await trainOnce(false, distill);
      const general = await trainOnce(true, distill);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
      assert.equal(fast.step, 'dense-chain', 'the factorized fashion-mlp takes the Dense-chain step');
      assert.equal(general.step, 'general');
      fast.losses.forEach((loss, i) => assert.ok(Math.abs(loss - (general.losses[i] as number)) <= 1e-5 * Math.abs(loss), `epoch ${i + 1} loss ${loss} vs ${general.losses[i]}`));
      // Adam divides by √v: a gradient that differs in its last bits moves a weight by up to a step's
      // size (1e-3) only where the gradient is ~0; 16 steps keep every weight within 1e-4 of the other.
      fast.weights.forEach((w, i) => {
        let diff = 0;
        for (let k = 0; k < w.length; k++) diff = Math.max(diff, Math.abs((w[k] as number) - ((general.weights[i] as Float32Array)[k] as number)));
        assert.ok(diff <= 1e-4, `weight ${i} differs by ${diff}`);
      });
    }
  });

  it('models it does not cover take the general step and still train: a residual CNN, Dropout, nested', async () => {
    const data = await readDataset(DIGITS_TRAIN);
    const small: Dataset = { ...data, count: 64, x: data.x.subarray(0, 64 * 64), y: (data.y as Float32Array).subarray(0, 64) };
    const dropout = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 16, activation: 'relu' }), tf.layers.dropout({ rate: 0.2 }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
    const inner = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 16, activation: 'relu' })] });
    const nested = tf.sequential({ layers: [inner, tf.layers.dense({ units: 10, activation: 'softmax' })] });
    const cnn = (await loadModel(DIGITS_CNN)).model;
    try {
      for (const [model, shape] of [[dropout, [64]], [nested, [64]], [cnn, [8, 8, 1]]] as const) {
        let step: string | undefined;
        const result = await fineTune(model, small, undefined, { objective: sparse(0, 1), epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 1, shapes: [[...shape]], onStep: (s) => (step = s) });
        assert.equal(step, 'general', `${model.name} takes the general step`);
        assert.ok(Number.isFinite(result.history[0]?.loss), `${model.name} trains`);
      }
    } finally {
      dropout.dispose();
      nested.dispose();
      cnn.dispose();
    }
  });

  it('the digits and fashion MLPs, factorized or not, take the Dense-chain step; LOWRANK_GENERAL_STEP=1 turns it off', async () => {
    for (const model of [(await loadModel(DIGITS_MLP)).model, (await loadModel(FASHION_MLP)).model, await factorized(DIGITS_MLP, 8)]) {
      assert.ok(denseChain(model, trainable(model)), `${model.name} is a Dense chain`);
      process.env['LOWRANK_GENERAL_STEP'] = '1';
      try {
        assert.equal(denseChain(model, trainable(model)), undefined);
      } finally {
        delete process.env['LOWRANK_GENERAL_STEP'];
        model.dispose();
      }
    }
  });
});

describe('the teacher\'s outputs, computed once for data in memory', () => {
  it('give the same training as the teacher run on every batch, with the teacher run once, not every epoch', async () => {
    const all = await fashion();
    const train: Dataset = { ...all, count: 200, x: all.x.subarray(0, 200 * 784), y: (all.y as Float32Array).subarray(0, 200) };
    const run = async (source: Dataset | ReturnType<typeof memorySource>, general: boolean): Promise<{ weights: Float32Array[]; losses: number[]; predictCalls: number }> => {
      const student = await factorized(FASHION_MLP, 16);
      const teacher = (await loadModel(FASHION_MLP)).model;
      let predictCalls = 0;
      const predict = teacher.predict.bind(teacher);
      teacher.predict = (x, config) => {
        predictCalls++;
        return predict(x, config);
      };
      process.env['LOWRANK_GENERAL_STEP'] = general ? '1' : '0';
      try {
        const result = await fineTune(student, source, undefined, { objective: sparse(0.5, 2), epochs: 3, batchSize: 32, learningRate: 1e-3, seed: 9, shapes: [[784]], teacher });
        return { weights: student.getWeights().map((w) => w.dataSync() as Float32Array), losses: result.history.map((h) => h.loss), predictCalls };
      } finally {
        delete process.env['LOWRANK_GENERAL_STEP'];
        student.dispose();
        teacher.dispose();
      }
    };
    for (const general of [false, true]) {
      const cached = await run(train, general);
      // A BatchSource (what streamed files give) has no samples to compute ahead: the teacher runs per batch.
      const perBatch = await run(memorySource(train), general);
      assert.equal(cached.predictCalls, 1, 'one predict over the 200 samples (predictAll batches by 256)');
      assert.equal(perBatch.predictCalls, 3 * 7, 'one predict per batch and epoch');
      cached.losses.forEach((loss, i) => assert.ok(Math.abs(loss - (perBatch.losses[i] as number)) <= 1e-6 * Math.abs(loss), `epoch ${i + 1}: ${loss} vs ${perBatch.losses[i]}`));
      cached.weights.forEach((w, i) => {
        let diff = 0;
        for (let k = 0; k < w.length; k++) diff = Math.max(diff, Math.abs((w[k] as number) - ((perBatch.weights[i] as Float32Array)[k] as number)));
        assert.ok(diff <= 1e-6, `${general ? 'general' : 'dense-chain'} step: weight ${i} differs by ${diff}`);
      });
    }
  });
});
