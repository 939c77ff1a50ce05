/**
 * Fine-tuning: schedules, keeping the best epoch, training only the factors, distillation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { fineTune, learningRateAt } from '../../src/train/fine-tune.js';
import { readDataset, type Dataset } from '../../src/data/dataset.js';
import { memorySource, type BatchSource } from '../../src/data/stream.js';
import { readModel } from '../../src/io/load.js';
import { saveModel } from '../../src/io/index.js';
import { chosen } from '../../src/factorize/index.js';
import { tf } from '../../src/tf.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, randomFloat32, setWeightValues, useTempDirAndLeakCheck } from '../helpers.js';
import { writeFile, readFile } from 'node:fs/promises';

const tempDir = useTempDirAndLeakCheck();

describe('learningRateAt', () => {
  it('warms up linearly, then follows the schedule to its end', () => {
    assert.equal(learningRateAt(1, 0, 100, 'constant', 4), 0.25);
    assert.equal(learningRateAt(1, 3, 100, 'constant', 4), 1);
    assert.equal(learningRateAt(1, 50, 100, 'constant', 0), 1);
    assert.equal(learningRateAt(1, 0, 100, 'cosine', 0), 1);
    assert.ok(Math.abs(learningRateAt(1, 50, 100, 'cosine', 0) - 0.5) < 1e-12);
    assert.ok(learningRateAt(1, 100, 100, 'cosine', 0) < 1e-12);
    assert.ok(Math.abs(learningRateAt(2, 25, 100, 'linear', 0) - 1.5) < 1e-12);
    // After warm-up the decay spans the remaining steps.
    assert.ok(Math.abs(learningRateAt(1, 10, 110, 'linear', 10) - 1) < 1e-12);
    // plateau's reductions follow the validation loss, epoch by epoch; within the run it is the base rate, after warm-up.
    assert.equal(learningRateAt(1, 0, 100, 'plateau', 4), 0.25);
    assert.equal(learningRateAt(1, 99, 100, 'plateau', 0), 1);
  });
});

describe('fine-tuning through compress()', () => {
  it('keeps the best epoch by validation loss, and stops after --patience epochs without one', async () => {
    // A learning rate far too high makes later epochs worse: the kept weights must be the best ones.
    // Label loss only, so that the validation loss that picks the epoch is the loss evaluation reports.
    const { report } = await compress({ model: DIGITS_MLP, rank: '8', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 8, learningRate: 0.05, patience: 2, distill: 0, out: path.join(tempDir(), 'best') });
    const t = report?.training;
    assert.ok(t);
    const losses = t.epochs.map((e) => e.validationLoss as number);
    const best = Math.min(t.initialValidationLoss as number, ...losses);
    const expectedEpoch = best === t.initialValidationLoss ? 0 : losses.indexOf(best) + 1;
    assert.equal(t.bestEpoch, expectedEpoch);
    // The evaluation of the kept model reproduces the best validation loss.
    assert.ok(Math.abs((report?.evaluation?.fineTuned?.loss as number) - best) < 1e-5, `${report?.evaluation?.fineTuned?.loss} vs ${best}`);
    if (t.stoppedEarly) assert.equal(t.epochs.length - t.bestEpoch, 2);
    else assert.equal(t.epochs.length, 8);
  });

  it('stops early by default, and --patience 0 runs every epoch', async () => {
    // The same run as above, whose validation loss gets worse after the first epochs at this rate.
    const common = { model: DIGITS_MLP, rank: '8', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 8, learningRate: 0.05 };
    const byDefault = (await compress({ ...common, out: path.join(tempDir(), 'patience-default') })).report?.training;
    const every = (await compress({ ...common, patience: 0, out: path.join(tempDir(), 'patience-0') })).report?.training;
    assert.ok(byDefault && every);
    assert.equal(byDefault.patience, 2);
    assert.equal(byDefault.stoppedEarly, true);
    assert.equal(byDefault.epochs.length - byDefault.bestEpoch, 2);
    assert.equal(every.patience, undefined);
    assert.equal(every.stoppedEarly, false);
    assert.equal(every.epochs.length, 8);
  });

  it('--lr-schedule plateau halves the rate after exactly the epochs without a better validation loss, keeps the best, stops after patience', async () => {
    // At 0.02 this run's validation loss fails to improve at some epochs and recovers at others (at
    // 0.05 it diverges for good, which would test nothing).
    const common = { model: DIGITS_MLP, rank: '8', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 8, learningRate: 0.02, distill: 0 };
    const plateau = (await compress({ ...common, lrSchedule: 'plateau', patience: 3, out: path.join(tempDir(), 'plateau') })).report;
    const short = (await compress({ ...common, lrSchedule: 'plateau', patience: 2, out: path.join(tempDir(), 'plateau-2') })).report?.training;
    const constant = (await compress({ ...common, lrSchedule: 'constant', patience: 0, out: path.join(tempDir(), 'plateau-constant') })).report?.training;
    const t = plateau?.training;
    assert.ok(t && short && constant);
    assert.equal(t.schedule, 'plateau');
    // Replay: an epoch is better when its validation loss is below every one before it (the start included);
    // each epoch's rate is 0.02 halved once per earlier epoch that was not; patience p stops at the p-th miss in a row.
    let best = t.initialValidationLoss as number;
    let rate = 0.02;
    let bestEpoch = 0;
    let misses = 0;
    let recovered = false;
    let stopAt2 = 0;
    for (const e of t.epochs) {
      assert.ok(Math.abs(e.learningRate - rate) < 1e-12, `epoch ${e.epoch}: rate ${e.learningRate}, expected ${rate}`);
      const loss = e.validationLoss as number;
      if (loss < best) {
        best = loss;
        bestEpoch = e.epoch;
        recovered ||= misses > 0;
      } else {
        rate /= 2;
        misses++;
      }
      if (stopAt2 === 0 && e.epoch - bestEpoch >= 2 && e.epoch < 8) stopAt2 = e.epoch;
    }
    assert.ok(misses > 0 && recovered, 'the run must miss and then improve at a halved rate, or nothing was tested');
    assert.equal(t.bestEpoch, bestEpoch);
    // The kept model is the best epoch: its evaluation reproduces the best validation loss.
    assert.ok(Math.abs((plateau?.evaluation?.fineTuned?.loss as number) - best) < 1e-5, `${plateau?.evaluation?.fineTuned?.loss} vs ${best}`);
    assert.equal(t.stoppedEarly, t.epochs.length < 8);
    // With patience 2 the same run stops at its second miss in a row (it has one), keeping the best before it.
    assert.ok(stopAt2 > 0);
    assert.equal(short.stoppedEarly, true);
    assert.equal(short.epochs.length, stopAt2);
    assert.deepEqual(short.epochs.map((e) => e.validationLoss), t.epochs.slice(0, stopAt2).map((e) => e.validationLoss));
    // The same weights as the constant rate until the first epoch without a better loss; the halved rate then trains differently.
    const first = t.epochs.findIndex((e, i) => (e.validationLoss as number) >= Math.min(t.initialValidationLoss as number, ...t.epochs.slice(0, i).map((x) => x.validationLoss as number)));
    for (let i = 0; i <= first; i++) assert.equal(t.epochs[i]?.validationLoss, constant.epochs[i]?.validationLoss, `epoch ${i + 1} as with a constant rate`);
    assert.ok(first + 1 < t.epochs.length);
    assert.notEqual(t.epochs[first + 1]?.validationLoss, constant.epochs[first + 1]?.validationLoss);
  });

  it('with --train factors leaves every layer that was not factorized bit-identical', async () => {
    const out = path.join(tempDir(), 'factors');
    await compress({ model: DIGITS_MLP, rank: 'dense_2=16', data: DIGITS_TRAIN, epochs: 2, train: 'factors', out });
    const before = await readModel(DIGITS_MLP);
    const after = await readModel(path.join(out, 'model.json'));
    for (const name of ['dense_1/kernel', 'dense_1/bias', 'dense_3/kernel', 'dense_3/bias']) {
      const a = before.weights.find((w) => w.entry.name === name);
      const b = after.weights.find((w) => w.entry.name === name);
      assert.ok(a && b && Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `${name} unchanged`);
    }
    const factor = after.weights.find((w) => w.entry.name === 'dense_2_lowrank/kernel');
    assert.ok(factor);
  });

  it('with --train factors matches layers by full path: a same-named layer in a nested model keeps its weights', async () => {
    // Top-level Dense "proj" is factorized; the nested model "block" holds a LayerNormalization also
    // named "proj" (its weights are proj/gamma and proj/beta, so the two layers' weights do not clash).
    const blockIn = tf.input({ shape: [32], name: 'block_in' });
    const block = tf.model({ inputs: blockIn, outputs: tf.layers.layerNormalization({ name: 'proj' }).apply(blockIn) as tf.SymbolicTensor, name: 'block' });
    const x = tf.input({ shape: [64], name: 'pixels' });
    const hidden = tf.layers.dense({ name: 'proj', units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(x) as tf.SymbolicTensor;
    const normed = block.apply(hidden) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head', units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }).apply(normed) as tf.SymbolicTensor;
    const built = tf.model({ inputs: x, outputs: out, name: 'nested_names' });
    const norm = block.getLayer('proj');
    setWeightValues(norm, [randomFloat32(32, 7, 0.3).map((v) => 1 + v), randomFloat32(32, 8, 0.3)]);
    const dir = path.join(tempDir(), 'nested-names');
    await saveModel(built, dir);
    built.dispose();

    const out2 = path.join(tempDir(), 'nested-names-out');
    const { report, plan } = await compress({ model: path.join(dir, 'model.json'), rank: 'proj=8', data: DIGITS_TRAIN, epochs: 2, learningRate: 0.01, train: 'factors', out: out2 });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['proj']);
    assert.equal(report?.training?.epochs.length, 2);
    const before = await readModel(path.join(dir, 'model.json'));
    const after = await readModel(path.join(out2, 'model.json'));
    for (const name of ['proj/gamma', 'proj/beta', 'head/kernel', 'head/bias']) {
      const a = before.weights.find((w) => w.entry.name === name);
      const b = after.weights.find((w) => w.entry.name === name);
      assert.ok(a && b, `${name} present`);
      assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `${name} unchanged`);
    }
    // The factors did train: the second factor differs from what plain truncation gives.
    const untrained = path.join(tempDir(), 'nested-names-untrained');
    await compress({ model: path.join(dir, 'model.json'), rank: 'proj=8', epochs: 0, out: untrained });
    const trainedKernel = after.weights.find((w) => w.entry.name === 'proj/kernel');
    const truncatedKernel = (await readModel(path.join(untrained, 'model.json'))).weights.find((w) => w.entry.name === 'proj/kernel');
    assert.ok(trainedKernel && truncatedKernel && !Buffer.from(trainedKernel.bytes).equals(Buffer.from(truncatedKernel.bytes)), 'the factor proj trained');
  });

  it('distils without labels and recovers accuracy close to labelled fine-tuning', async () => {
    const lines = (await readFile(DIGITS_TRAIN, 'utf8')).trim().split('\n');
    const unlabelled = path.join(tempDir(), 'unlabelled.csv');
    await writeFile(unlabelled, lines.map((l) => l.split(',').slice(0, 64).join(',')).join('\n') + '\n');
    // Plain SVD, whose large truncation loss is what the recovery is measured against.
    const common = { model: DIGITS_MLP, rank: '16', method: 'svd' as const, validationData: DIGITS_TEST, epochs: 10, validationSplit: 0 };
    const labelled = await compress({ ...common, data: DIGITS_TRAIN, distill: 0, out: path.join(tempDir(), 'labelled') });
    const distilled = await compress({ ...common, data: unlabelled, label: 'none', out: path.join(tempDir(), 'distilled') });
    assert.equal(distilled.report?.training?.distill, 1);
    const a = labelled.report?.evaluation?.fineTuned?.accuracy as number;
    const b = distilled.report?.evaluation?.fineTuned?.accuracy as number;
    const before = distilled.report?.evaluation?.factorized?.accuracy as number;
    assert.ok(b > before + 0.2, `distillation recovers: ${before} → ${b}`);
    assert.ok(a - b <= 0.02, `labelled ${a}, distilled ${b}`);
  });

  it('refuses a label-loss mix when the data has no labels', async () => {
    const lines = (await readFile(DIGITS_TEST, 'utf8')).trim().split('\n');
    const unlabelled = path.join(tempDir(), 'unlabelled-test.csv');
    await writeFile(unlabelled, lines.map((l) => l.split(',').slice(0, 64).join(',')).join('\n') + '\n');
    await assert.rejects(
      compress({ model: DIGITS_MLP, rank: '16', data: unlabelled, label: 'none', distill: 0.5, epochs: 1, out: path.join(tempDir(), 'mix') }),
      /--distill 0\.5 mixes in a label loss, but .*unlabelled-test\.csv has no labels/,
    );
  });
});

/**
 * A small digits classifier with a BatchNormalization between two Dense layers, its BN weights set to
 * seeded values far from the defaults (so that a change to any of them shows).
 */
function buildBatchNormModel(): tf.LayersModel {
  const model = tf.sequential({ name: 'digits_bn' });
  model.add(tf.layers.dense({ name: 'dense_1', inputShape: [64], units: 48, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }));
  model.add(tf.layers.batchNormalization({ name: 'bn' }));
  model.add(tf.layers.dense({ name: 'dense_2', units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) }));
  const abs = (v: Float32Array): Float32Array => v.map(Math.abs);
  setWeightValues(model.getLayer('bn'), [
    randomFloat32(48, 13, 0.2).map((v) => 1 + v), // gamma
    randomFloat32(48, 14, 0.2), // beta
    abs(randomFloat32(48, 15, 3)), // moving_mean: relu outputs are >= 0
    abs(randomFloat32(48, 16, 4)).map((v) => 1 + v), // moving_variance
  ]);
  return model;
}

/** Every variable's values, by weight name (the model's full state). */
function snapshot(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
}

const BN_WEIGHTS = ['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance'];

describe('BatchNormalization while fine-tuning', () => {
  it('--train factors leaves BatchNormalization (statistics included) and every other non-factor weight bit-identical', async () => {
    const dir = path.join(tempDir(), 'bn-model');
    const built = buildBatchNormModel();
    await saveModel(built, dir);
    built.dispose();
    const out = path.join(tempDir(), 'bn-factors');
    const { report } = await compress({ model: path.join(dir, 'model.json'), rank: 'dense_1=8', data: DIGITS_TRAIN, epochs: 2, learningRate: 0.01, train: 'factors', out });
    assert.equal(report?.training?.epochs.length, 2);
    const before = await readModel(path.join(dir, 'model.json'));
    const after = await readModel(path.join(out, 'model.json'));
    for (const name of [...BN_WEIGHTS, 'dense_2/kernel', 'dense_2/bias']) {
      const a = before.weights.find((w) => w.entry.name === name);
      const b = after.weights.find((w) => w.entry.name === name);
      assert.ok(a && b, `${name} present`);
      assert.ok(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), `${name} unchanged`);
    }
    assert.deepEqual(after.weights.map((w) => w.entry.name).sort(), [...BN_WEIGHTS, 'dense_1/bias', 'dense_1/kernel', 'dense_1_lowrank/kernel', 'dense_2/bias', 'dense_2/kernel'].sort());
  });

  it('--train all keeps the best epoch whole: its moving statistics with its weights, not the last epoch\'s', async () => {
    const train = await readDataset(DIGITS_TRAIN);
    const validation = await readDataset(DIGITS_TEST);
    // Epoch 1 learns the true labels; later epochs learn labels shifted by one class, so the
    // validation loss rises after epoch 1 and the best epoch is neither the start nor the last.
    const shifted: Dataset = { ...train, y: (train.y as Float32Array).map((v) => (v + 1) % 10) };
    let epoch = 0;
    const source: BatchSource = {
      ...memorySource(train),
      batches: (batchSize, rng) => {
        epoch++;
        return memorySource(epoch === 1 ? train : shifted).batches(batchSize, rng);
      },
    };
    const model = buildBatchNormModel();
    try {
      const states = new Map<number, Map<string, Float32Array>>([[0, snapshot(model)]]);
      const result = await fineTune(model, source, validation, {
        objective: { kind: 'sparse-categorical-crossentropy', fromLogits: false, distill: 0, temperature: 1 },
        epochs: 3,
        batchSize: 32,
        learningRate: 0.01,
        seed: 1,
        shapes: [[64]],
        onEvent: (e) => {
          if (e.status === 'epoch') states.set(e.epoch, snapshot(model));
        },
      });
      assert.equal(result.history.length, 3);
      assert.ok(result.bestEpoch > 0 && result.bestEpoch < result.history.length, `setup: best epoch ${result.bestEpoch} is neither the start nor the last`);
      const best = states.get(result.bestEpoch) as Map<string, Float32Array>;
      const last = states.get(result.history.length) as Map<string, Float32Array>;
      // Under --train all the statistics move from epoch to epoch (else this test would prove nothing).
      for (const name of ['bn/moving_mean', 'bn/moving_variance']) {
        assert.ok(!Buffer.from((best.get(name) as Float32Array).buffer).equals(Buffer.from((last.get(name) as Float32Array).buffer)), `${name} moved after the best epoch`);
      }
      const now = snapshot(model);
      assert.deepEqual([...now.keys()].sort(), [...best.keys()].sort());
      for (const [name, values] of now) {
        assert.ok(Buffer.from(values.buffer).equals(Buffer.from((best.get(name) as Float32Array).buffer)), `${name} is the best epoch's`);
      }
    } finally {
      model.dispose();
    }
  });
});
