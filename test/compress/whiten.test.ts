/**
 * --method whiten end to end, before any fine-tuning: on fixtures and ranks where plain SVD loses at
 * least 5 accuracy points on the test file, the whitened truncation loses at most a third of that.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { resolveCompressOptions } from '../../src/compress/options.js';
import { initBackend, tf } from '../../src/tf.js';
import { DIGITS_TEST, DIGITS_TRAIN, FIXTURES } from '../helpers.js';

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-whiten-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function accuracies(fixture: string, rank: number, method: 'svd' | 'whiten') {
  const { report } = await compress({
    model: path.join(FIXTURES, fixture, 'model.json'),
    rank,
    method,
    data: DIGITS_TRAIN,
    validationData: DIGITS_TEST,
    epochs: 0,
    out: path.join(tmp, `${fixture}-${rank}-${method}`),
    backend: 'wasm',
  });
  assert.ok(report !== null);
  const original = report.evaluation?.original?.accuracy;
  const factorized = report.evaluation?.factorized?.accuracy;
  assert.ok(typeof original === 'number' && typeof factorized === 'number');
  return { original, factorized, report };
}

describe('--method whiten before fine-tuning', () => {
  for (const [fixture, rank] of [['digits-mlp', 8], ['digits-cnn', 8]] as const) {
    it(`${fixture} at rank ${rank}: loses at most a third of what plain SVD loses`, async () => {
      const before = tf.memory().numTensors;
      const svd = await accuracies(fixture, rank, 'svd');
      const whiten = await accuracies(fixture, rank, 'whiten');
      assert.equal(tf.memory().numTensors, before, 'calibration leaks no tensors');
      const svdLoss = svd.original - svd.factorized;
      const whitenLoss = whiten.original - whiten.factorized;
      assert.ok(svdLoss >= 0.05, `plain SVD should lose ≥ 5 points here (lost ${svdLoss})`);
      assert.ok(whitenLoss <= svdLoss / 3, `whiten lost ${whitenLoss}, plain SVD ${svdLoss}`);
      // The report says which matrix its per-layer numbers describe.
      for (const layer of whiten.report.layers.filter((l) => l.rank !== null)) {
        assert.equal(layer.method, 'whiten');
        assert.ok(typeof layer.weightError === 'number' && layer.weightError > 0);
      }
      assert.ok(svd.report.layers.every((l) => l.method === undefined));
    });
  }
});

describe('--method default', () => {
  it('is whiten with --data and svd without; whiten without data is refused', () => {
    const model = path.join(FIXTURES, 'digits-mlp', 'model.json');
    assert.equal(resolveCompressOptions({ model, rank: 4, data: DIGITS_TRAIN }).method, 'whiten');
    assert.equal(resolveCompressOptions({ model, rank: 4 }).method, 'svd');
    assert.throws(() => resolveCompressOptions({ model, rank: 4, method: 'whiten' }), /needs --data/);
  });
});
