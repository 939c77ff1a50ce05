/**
 * `evaluate()` and `lowrank evaluate`: the same metrics as compress, for any model and file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { evaluate } from '../src/evaluate.js';
import { loadModel } from '../src/io/index.js';
import { tf } from '../src/tf.js';
import { DIGITS_MLP, DIGITS_MLP_QUANTIZED, DIGITS_TEST, argmaxRows, readDigits, runCli, useTempDirAndLeakCheck } from './helpers.js';

const tempDir = useTempDirAndLeakCheck();

describe('evaluate()', () => {
  it('measures accuracy and loss on the whole file, matching an independent count', async () => {
    const report = await evaluate({ model: DIGITS_MLP, data: DIGITS_TEST });
    const digits = await readDigits(DIGITS_TEST);
    const { model } = await loadModel(DIGITS_MLP);
    const probabilities = tf.tidy(() => (model.predict(tf.tensor2d(digits.x, [digits.count, digits.features])) as tf.Tensor).dataSync() as Float32Array);
    model.dispose();
    const predicted = argmaxRows(probabilities, 10);
    let correct = 0;
    let nll = 0;
    for (let i = 0; i < digits.count; i++) {
      if (predicted[i] === digits.labels[i]) correct++;
      nll -= Math.log(Math.max(1e-7, probabilities[i * 10 + (digits.labels[i] as number)] as number));
    }
    assert.equal(report.samples, digits.count);
    assert.equal(report.metrics.accuracy, correct / digits.count);
    assert.ok(Math.abs((report.metrics.loss as number) - nll / digits.count) < 1e-4);
    assert.equal(report.metrics.agreement, undefined, 'no reference, no agreement');
  });

  it('compares with a reference: itself agrees fully, the quantized copy almost', async () => {
    const self = await evaluate({ model: DIGITS_MLP, data: DIGITS_TEST, reference: DIGITS_MLP });
    assert.equal(self.metrics.agreement, 1);
    assert.equal(self.metrics.relativeOutputError, 0);
    const quantized = await evaluate({ model: DIGITS_MLP_QUANTIZED, data: DIGITS_TEST, reference: DIGITS_MLP });
    assert.ok((quantized.metrics.agreement as number) >= 0.98);
    assert.ok((quantized.metrics.relativeOutputError as number) > 0);
  });

  it('reads a file without labels and measures only agreement', async () => {
    const lines = (await readFile(DIGITS_TEST, 'utf8')).trim().split('\n');
    const unlabelled = path.join(tempDir(), 'unlabelled.csv');
    await writeFile(unlabelled, lines.map((l) => l.split(',').slice(0, 64).join(',')).join('\n') + '\n');
    const report = await evaluate({ model: DIGITS_MLP_QUANTIZED, data: unlabelled, reference: DIGITS_MLP });
    assert.equal(report.metrics.accuracy, undefined);
    assert.ok((report.metrics.agreement as number) >= 0.98);
  });
});

describe('lowrank evaluate', () => {
  it('prints the metrics, and --json the same numbers', async () => {
    const [text, json] = await Promise.all([
      runCli('evaluate', 'fixtures/digits-mlp/model.json', '--data', 'fixtures/digits/test.csv'),
      runCli('evaluate', 'fixtures/digits-mlp/model.json', '--data', 'fixtures/digits/test.csv', '--json'),
    ]);
    assert.equal(text.code, 0, text.stderr);
    const parsed = JSON.parse(json.stdout) as { metrics: { accuracy: number } };
    assert.match(text.stdout, new RegExp(`accuracy\\s+${(parsed.metrics.accuracy * 100).toFixed(2)}%`));
  });

  it('refuses a dataset that does not fit with exit 2', async () => {
    const r = await runCli('evaluate', 'fixtures/digits-mlp/model.json', '--data', 'fixtures/digits-mlp/model.json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^lowrank: fixtures\/digits-mlp\/model\.json: /);
  });
});
