/**
 * Fine-tuning: schedules, keeping the best epoch, training only the factors, distillation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { compress } from '../../src/compress.js';
import { learningRateAt } from '../../src/train/fine-tune.js';
import { readModel } from '../../src/io/load.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, useTempDirAndLeakCheck } from '../helpers.js';
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
  });
});

describe('fine-tuning through compress()', () => {
  it('keeps the best epoch by validation loss, and stops after --patience epochs without one', async () => {
    // A learning rate far too high makes later epochs worse: the kept weights must be the best ones.
    const { report } = await compress({ model: DIGITS_MLP, rank: '8', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 8, learningRate: 0.05, patience: 2, out: path.join(tempDir(), 'best') });
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

  it('distils without labels and recovers accuracy close to labelled fine-tuning', async () => {
    const lines = (await readFile(DIGITS_TRAIN, 'utf8')).trim().split('\n');
    const unlabelled = path.join(tempDir(), 'unlabelled.csv');
    await writeFile(unlabelled, lines.map((l) => l.split(',').slice(0, 64).join(',')).join('\n') + '\n');
    const common = { model: DIGITS_MLP, rank: '16', validationData: DIGITS_TEST, epochs: 10, validationSplit: 0 };
    const labelled = await compress({ ...common, data: DIGITS_TRAIN, out: path.join(tempDir(), 'labelled') });
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
