/**
 * --ratio end to end: the budget is met, the allocation beats a uniform rank holding at least as many
 * parameters before fine-tuning (accuracy on fixtures/digits/test.csv), the report carries the budget
 * and the predicted and measured output errors; and --energy with --method whiten reads the whitened
 * spectrum.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { resolveCompressOptions } from '../../src/compress/options.js';
import { UsageError } from '../../src/errors.js';
import { energyKept } from '../../src/factorize/index.js';
import { ReportSchema } from '../../src/report/schema.js';
import { initBackend, tf } from '../../src/tf.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, FIXTURES } from '../helpers.js';

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-ratio-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let runs = 0;
const FASHION = path.join(FIXTURES, 'fashion');
/** The fixture's training and held-out test files (fashion-mlp: the 500 + 500 committed Fashion-MNIST images). */
const dataFor = (fixture: string) =>
  fixture === 'fashion-mlp'
    ? { data: path.join(FASHION, 'train.npy'), labels: path.join(FASHION, 'train-labels.npy'), validationData: path.join(FASHION, 'test.npy'), validationLabels: path.join(FASHION, 'test-labels.npy'), inputScale: 1 / 255 }
    : { data: DIGITS_TRAIN, validationData: DIGITS_TEST };

async function run(fixture: string, choice: { ratio: number } | { rank: number }) {
  const { report, plan } = await compress({
    model: path.join(FIXTURES, fixture, 'model.json'),
    ...choice,
    ...dataFor(fixture),
    epochs: 0,
    out: path.join(tmp, `run-${runs++}`),
    backend: 'wasm',
  });
  assert.ok(report !== null);
  const accuracy = report.evaluation?.factorized?.accuracy;
  assert.ok(typeof accuracy === 'number');
  return { report, plan, accuracy };
}

describe('--ratio before fine-tuning', () => {
  // Each case: a uniform rank, and --ratio at exactly the share of parameters that rank keeps.
  // digits-cnn 4 and fashion-mlp 7 are small budgets (9.7%, 4.8%), where the spectra's shares lost
  // to uniform ranks (29.5% against 54.0% on digits-cnn at 7.4%) before the measured score.
  for (const [fixture, rank] of [['digits-mlp', 16], ['digits-cnn', 4], ['fashion-mlp', 7]] as const) {
    it(`${fixture}: meets the budget and beats uniform rank ${rank} at the same parameter count`, async () => {
      const tensors = tf.memory().numTensors;
      const uniform = await run(fixture, { rank });
      const ratio = uniform.report.output.factorizableParams / uniform.report.input.factorizableParams;
      const allocated = await run(fixture, { ratio });
      assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
      const { report } = allocated;
      assert.equal(report.options.ratio, ratio);
      const budget = report.budget;
      assert.ok(budget !== undefined && budget !== null);
      assert.equal(budget.spectra, 'whiten');
      // Allocated on the measured losses, and the loss it expected (KL to the original's outputs on the
      // calibration rows, all chosen layers cut at once) is in the report: positive and finite.
      assert.equal(budget.score, 'measured');
      assert.ok(typeof budget.predictedLoss === 'number' && budget.predictedLoss > 0 && budget.predictedLoss < 10, `predicted loss ${budget.predictedLoss}`);
      for (const l of report.layers.filter((x) => x.rank !== null)) assert.ok(typeof l.predictedLoss === 'number' && l.predictedLoss >= 0, `${l.name}: ${l.predictedLoss}`);
      assert.equal(budget.paramsAfter, report.output.factorizableParams);
      assert.ok(budget.paramsAfter <= ratio * budget.paramsBefore, `${budget.paramsAfter} over ${ratio}·${budget.paramsBefore}`);
      assert.ok(uniform.report.output.factorizableParams >= report.output.factorizableParams);
      // Ranks differ across layers: an allocation, not a uniform rank in disguise.
      const ranks = report.layers.filter((l) => l.rank !== null).map((l) => l.rank);
      assert.ok(new Set(ranks).size > 1, `ranks ${ranks.join('/')}`);
      assert.ok(allocated.accuracy > uniform.accuracy, `--ratio ${ratio.toFixed(4)}: ${allocated.accuracy} vs rank ${rank}: ${uniform.accuracy}`);
      // Predicted and measured output errors, for every factorized layer: both in (0, 1), the measured
      // one on the inputs the compressed model gives, so not equal, but of the same size.
      for (const l of report.layers.filter((x) => x.rank !== null)) {
        assert.equal(l.method, 'whiten');
        const predicted = l.predictedOutputError;
        const measured = l.outputError;
        assert.ok(typeof predicted === 'number' && predicted > 0 && predicted < 1, `${l.name}: predicted ${predicted}`);
        assert.ok(typeof measured === 'number' && measured > 0 && measured < 1, `${l.name}: measured ${measured}`);
        // Of the same size where the layers before it keep most of their signal; digits-cnn's allocation
        // cuts a Conv2D to rank 1 before its dense layers, whose inputs are then far from the original's
        // the prediction was taken on (dense_2: predicted 0.166, measured 0.049).
        if (fixture !== 'digits-cnn') assert.ok(measured < 3 * predicted && predicted < 3 * measured, `${l.name}: predicted ${predicted}, measured ${measured}`);
      }
      // The first layer sees the model's own inputs in both passes, so its prediction lacks only the
      // truncation's ridge: the measured error can only be larger, and not by much.
      const first = report.layers.find((l) => l.name === 'dense_1');
      if (fixture === 'digits-mlp') {
        assert.ok(first !== undefined && typeof first.outputError === 'number' && typeof first.predictedOutputError === 'number');
        assert.ok(first.outputError >= first.predictedOutputError - 1e-6, `${first.outputError} < ${first.predictedOutputError}`);
        assert.ok(first.outputError <= first.predictedOutputError * 1.25, `${first.outputError} vs ${first.predictedOutputError}`);
      }
      assert.doesNotThrow(() => ReportSchema.parse(JSON.parse(JSON.stringify(report))));
    });
  }

});

describe('--energy with --method whiten', () => {
  it('picks each rank from the whitened spectrum: the smallest rank keeping the share of it', async () => {
    const fraction = 0.6;
    const { plan } = await compress({ model: DIGITS_MLP, energy: fraction, method: 'whiten', data: DIGITS_TRAIN, epochs: 0, dryRun: false, out: path.join(tmp, 'energy'), backend: 'wasm' });
    const whitened = plan.entries.filter((e) => e.method === 'whiten');
    assert.ok(whitened.length >= 2);
    for (const e of whitened) {
      const rank = e.rank as number;
      const total = e.singularValuesComplete === false ? e.spectrumEnergy : undefined;
      assert.ok(energyKept(e.singularValues, rank, total) >= fraction - 1e-9, `${e.name}: rank ${rank} keeps ${energyKept(e.singularValues, rank, total)}`);
      assert.ok(rank === 1 || energyKept(e.singularValues, rank - 1, total) < fraction, `${e.name}: rank ${rank - 1} already keeps ${fraction}`);
      assert.equal(e.paramsAfter, e.paramsBefore - e.m * e.n + rank * (e.m + e.n));
    }
  });
});

describe('--ratio options', () => {
  const model = DIGITS_MLP;
  it('takes (0, 1], alone', () => {
    assert.deepEqual(resolveCompressOptions({ model, ratio: '0.25' }).rank, { kind: 'ratio', fraction: 0.25 });
    assert.deepEqual(resolveCompressOptions({ model, ratio: 1 }).rank, { kind: 'ratio', fraction: 1 });
    for (const bad of [0, -0.1, 1.5, 'abc', '']) assert.throws(() => resolveCompressOptions({ model, ratio: bad }), (e: unknown) => e instanceof UsageError && /--ratio must be/.test(e.message), String(bad));
    assert.throws(() => resolveCompressOptions({ model, ratio: 0.1, rank: 4 }), /one of --rank, --energy and --ratio, not --rank and --ratio/);
    assert.throws(() => resolveCompressOptions({ model, ratio: 0.1, energy: 0.9 }), /not --energy and --ratio/);
  });

  it('refuses a ratio below rank 1 everywhere, naming the smallest that works', async () => {
    await assert.rejects(
      compress({ model, ratio: 0.01, out: path.join(tmp, 'tiny'), backend: 'wasm' }),
      (e: unknown) => e instanceof UsageError && /--ratio 0.01 is below .* the smallest reachable ratio is 0\.0\d+$/.test(e.message),
    );
  });
});
