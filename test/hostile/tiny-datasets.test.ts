/**
 * Datasets too small to split, through the built CLI, read whole and streamed: every size either works
 * (a held-out part of at least one row, at least one row to train on, batches as short as the data) or
 * is refused with exit 2, one line naming the file and stating what would work, nothing written. The
 * library follows the same rules.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { DatasetError } from '../../src/errors.js';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { initBackend } from '../../src/tf.js';
import { DIGITS_MLP, DIGITS_TEST, makeTempDir, removeTempDir, runCli } from '../helpers.js';
import { DIGITS_CSV_HEADER, DIGITS_DIR, expectRefused } from './harness.js';

let tmp = '';
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeTempDir(tmp);
});

const header = DIGITS_CSV_HEADER;
/** `n` rows for the digits model (64 features, 10 classes); `label` picks each row's class. */
const csv = (n: number, label: (i: number) => number = (i) => i % 10): string =>
  `${[header, ...Array.from({ length: n }, (_, i) => `${Array.from({ length: 64 }, (_, j) => (i * 7 + j) % 17).join(',')},${label(i)}`)].join('\n')}\n`;

let counter = 0;
/** A case folder holding `in/<name>` with `contents`; returns the folder and the file. */
async function dataset(name: string, contents: string): Promise<{ root: string; data: string }> {
  const root = path.join(tmp, `case-${counter++}`);
  await mkdir(path.join(root, 'in'), { recursive: true });
  const data = path.join(root, 'in', name);
  await writeFile(data, contents);
  return { root, data };
}

/** Run compress with one epoch and read the report it wrote. */
async function compressed(root: string, data: string, args: readonly string[]): Promise<CompressionReport> {
  const out = path.join(root, 'out');
  const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, ...args, '--out', out, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return ReportSchema.parse(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')));
}

/** The run measured every model on its held-out rows and fine-tuned one epoch. */
function assertMeasuredAndTrained(report: CompressionReport): void {
  const ev = report.evaluation;
  assert.ok(ev !== null && ev.fineTuned !== null);
  for (const m of [ev.original, ev.factorized, ev.fineTuned]) {
    assert.ok(Number.isFinite(m.loss), `loss ${m.loss}`);
    assert.ok(m.accuracy !== undefined && m.accuracy >= 0 && m.accuracy <= 1, `accuracy ${m.accuracy}`);
  }
  assert.equal(report.training?.epochs.length, 1);
}

for (const streamed of [false, true]) {
  const mode = streamed ? ['--stream'] : ['--no-stream'];
  describe(`tiny datasets ${streamed ? 'streamed' : 'read whole'}`, { concurrency: 2 }, () => {
    it('refuses a single row with the default split, saying a split needs 2 rows', async () => {
      const { root, data } = await dataset('one.csv', csv(1));
      await expectRefused(root, [path.join(root, 'in'), DIGITS_DIR], ['compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, ...mode, '--out', path.join(root, 'out')], data, /only 1 sample: .*needs at least 2 samples, one to train on and one to measure on; .*--validation-data$/);
    });

    it('refuses a split that would leave no row to train on, naming the largest split and the rows it needs', async () => {
      const { root, data } = await dataset('ten.csv', csv(10));
      await expectRefused(root, [path.join(root, 'in'), DIGITS_DIR], ['compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, '--validation-split', '0.99', ...mode, '--out', path.join(root, 'out')], data, /--validation-split 0\.99 would hold out all 10 samples, leaving none to train on; use a split of at most 0\.9, or at least 51 samples$/);
    });

    it('refuses --validation-split 0 without --validation-data: nothing would be held out to measure', async () => {
      const { root, data } = await dataset('ten.csv', csv(10));
      await expectRefused(root, [path.join(root, 'in'), DIGITS_DIR], ['compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, '--validation-split', '0', ...mode, '--out', path.join(root, 'out')], data, /--validation-split 0 holds nothing out .*nothing to measure the model on; give --validation-data, or a split above 0$/);
    });

    it('trains on one row and measures on the other of a 2-row file', async () => {
      const { root, data } = await dataset('two.csv', csv(2));
      // Seed 1: the streamed hold-out drawn row by row used to hold out neither row here and crash.
      const report = await compressed(root, data, [...mode, '--seed', '1']);
      assert.deepEqual([report.data?.samples, report.data?.trainSamples, report.data?.validationSamples, report.data?.streamed], [2, 1, 1, streamed]);
      assertMeasuredAndTrained(report);
    });

    it('trains on fewer rows than a batch, in one short batch', async () => {
      const { root, data } = await dataset('ten.csv', csv(10));
      const report = await compressed(root, data, [...mode, '--batch-size', '32']);
      assert.deepEqual([report.data?.trainSamples, report.data?.validationSamples], [8, 2]);
      assert.ok((report.data?.trainSamples ?? 0) < report.options.batchSize);
      assertMeasuredAndTrained(report);
    });

    it('trains and measures on a dataset of one class only', async () => {
      const { root, data } = await dataset('sevens.csv', csv(30, () => 7));
      const report = await compressed(root, data, mode);
      assert.deepEqual([report.data?.trainSamples, report.data?.validationSamples], [24, 6]);
      assertMeasuredAndTrained(report);
    });

    it('trains on all of --data with --validation-split 0 and --validation-data, even a single row', async () => {
      const { root, data } = await dataset('one.csv', csv(1));
      const report = await compressed(root, data, [...mode, '--validation-split', '0', '--validation-data', DIGITS_TEST]);
      assert.deepEqual([report.data?.samples, report.data?.trainSamples], [1, 1]);
      assert.ok((report.data?.validationSamples ?? 0) > 100, 'measured on the whole --validation-data file');
      assertMeasuredAndTrained(report);
    });
  });
}

describe('compress() applies the same rules', () => {
  before(async () => {
    await initBackend('wasm');
  });

  for (const stream of [false, true]) {
    it(`refuses a single row and a split of 0 without validation data${stream ? ', streamed' : ''}`, async () => {
      const { root, data } = await dataset('one.csv', csv(1));
      const common = { model: DIGITS_MLP, rank: '4', epochs: 1, data, stream, out: path.join(root, 'out') };
      await assert.rejects(compress(common), (err: unknown) => err instanceof DatasetError && err.file === data && /^only 1 sample: .*at least 2 samples/.test(err.message));
      await assert.rejects(compress({ ...common, validationSplit: 0 }), (err: unknown) => err instanceof DatasetError && err.file === data && /^--validation-split 0 holds nothing out/.test(err.message));
      const { report } = await compress({ ...common, validationSplit: 0, validationData: DIGITS_TEST });
      assert.equal(report?.data?.trainSamples, 1);
    });
  }
});
