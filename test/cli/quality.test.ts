/**
 * `lowrank compress` as a CI runs it: the size table (float32, float16, uint8, low-rank, low-rank +
 * float16, low-rank + uint8, each measured on the digits fixture), --quantize output that stock tfjs
 * loads, and every exit path of the quality gates.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CompressionReport, SizeVariant } from '../../src/report/schema.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, ROOT, makeTempDir, removeTempDir, runCli, type CliResult } from '../helpers.js';
import { assertValidReport } from '../report/valid-report.js';

const run = promisify(execFile);

let tmp: string;
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeTempDir(tmp);
});

const readReportJson = async (dir: string): Promise<CompressionReport> => assertValidReport(JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')));

describe('lowrank compress --quantize float16 with passing gates on the digits fixture', () => {
  let out: string;
  let result: CliResult;
  let report: CompressionReport;
  const size = (variant: string): SizeVariant => {
    const s = report.sizes.find((x) => x.variant === variant);
    assert.ok(s !== undefined, `no ${variant} row`);
    return s;
  };

  before(async () => {
    out = path.join(tmp, 'f16');
    result = await runCli(
      'compress', DIGITS_MLP, '--rank', '16', '--data', DIGITS_TRAIN, '--validation-data', DIGITS_TEST, '--epochs', '10',
      '--quantize', 'float16', '--max-accuracy-drop', '3', '--max-agreement-loss', '0.05', '--min-size-reduction', '7', '--out', out,
    );
    report = await readReportJson(out);
  });

  it('exits 0 with every gate passed, and records the gates in report.json', () => {
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(report.gates?.map((g) => [g.gate, g.passed]), [['max-accuracy-drop', true], ['max-agreement-loss', true], ['min-size-reduction', true]]);
    assert.match(result.stdout, /^all gates passed$/m);
  });

  it('measures every variant: exact weight bytes per encoding, gzip, and metrics from the reloaded bytes', () => {
    assert.deepEqual(report.sizes.map((s) => s.variant), ['float32', 'float16', 'uint8', 'lowrank', 'lowrank+float16', 'lowrank+uint8']);
    // 50,826 parameters, 12,938 after: 4, 2 and 1 bytes each.
    assert.deepEqual(report.sizes.map((s) => [s.params, s.weightBytes]), [[50_826, 203_304], [50_826, 101_652], [50_826, 50_826], [12_938, 51_752], [12_938, 25_876], [12_938, 12_938]]);
    assert.equal(size('float32').weightBytes, report.input.weightBytes, 'float32 is the input as stored');
    for (const s of report.sizes) {
      assert.ok(s.gzipBytes > 0 && s.gzipBytes < s.weightBytes, `${s.variant}: gzip measured`);
      assert.ok(s.totalBytes > s.weightBytes, `${s.variant}: model.json counted on disk`);
      assert.ok(s.metrics?.accuracy !== undefined && s.metrics.agreement !== undefined, `${s.variant}: evaluated`);
    }
    assert.equal(size('float32').metrics?.agreement, 1, 'the original re-stored as float32 is the original');
    assert.deepEqual(size('float32').metrics?.accuracy, report.evaluation?.original.accuracy);
    // The low-rank row reloads the fine-tuned weights bit for bit.
    assert.equal(size('lowrank').metrics?.accuracy, report.evaluation?.fineTuned?.accuracy);
    assert.ok((size('uint8').metrics?.agreement ?? 0) > 0.95, 'uint8 keeps nearly every prediction');
  });

  it('prints the size table with the measured numbers, the written row marked', () => {
    const pctRe = String.raw`\d+\.\d\d%`;
    const row = (label: string, params: string, weights: string, ratio: string): RegExp => new RegExp(String.raw`^${label}\s+${params}\s+${weights}\s+[\d,]+\s+${ratio}\s+${pctRe}\s+${pctRe}$`, 'm');
    assert.match(result.stdout, /^stored as\s+params\s+weights\s+gzip\s+smaller\s+accuracy\s+agrees$/m);
    assert.match(result.stdout, row('float32', '50,826', '203,304', String.raw`1\.00×`));
    assert.match(result.stdout, row('float16', '50,826', '101,652', String.raw`2\.00×`));
    assert.match(result.stdout, row('uint8', '50,826', '50,826', String.raw`4\.00×`));
    assert.match(result.stdout, row('low-rank', '12,938', '51,752', String.raw`3\.93×`));
    assert.match(result.stdout, row(String.raw`low-rank\+float16 \*`, '12,938', '25,876', String.raw`7\.86×`));
    assert.match(result.stdout, row(String.raw`low-rank\+uint8`, '12,938', '12,938', String.raw`15\.71×`));
    for (const line of result.stdout.split('\n')) assert.ok([...line].length <= 80, `line longer than 80 columns: ${line}`);
  });

  it('writes the float16 variant it measured: every float weight float16, bytes as reported', async () => {
    const json = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string; quantization?: { dtype: string } }> }> };
    const weights = json.weightsManifest.flatMap((g) => g.weights);
    assert.ok(weights.length === 8 && weights.every((w) => w.quantization?.dtype === 'float16'), JSON.stringify(weights));
    assert.equal((await stat(path.join(out, 'group1-shard1of1.bin'))).size, 25_876);
    assert.equal(report.output.weightBytes, size('lowrank+float16').weightBytes);
    assert.equal(report.output.gzipBytes, size('lowrank+float16').gzipBytes);
  });

  it('the quantized output loads in plain tfjs and scores what the report says', async () => {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), out, DIGITS_TEST], { cwd: ROOT, maxBuffer: 16 << 20 });
    const stock = JSON.parse(stdout) as { accuracy: number };
    // lowrank evaluated on wasm, the stock load runs on cpu: argmax may differ only on a near-tie.
    assert.ok(Math.abs(stock.accuracy - (size('lowrank+float16').metrics?.accuracy ?? -1)) <= 1 / 359 + 1e-9);
  });

  it('`lowrank report` re-gates the stored report, and FLOPs per sample are in it', async () => {
    assert.deepEqual([report.flops?.original, report.flops?.output, report.flops?.uncountedLayers], [100_864, 25_088, []]);
    assert.match(result.stdout, /^FLOPs per sample\s+100,864\s+25,088\s+4\.02× fewer$/m);
    const r = await runCli('report', out, '--min-size-reduction', '8', '--format', 'markdown');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^\| ❌ \*\*FAIL\*\* \| \*\*size reduction\*\* \| \*\*7\.86×\*\* \| \*\*≥ 8×\*\* \|$/m);
    assert.match(r.stdout, /^\| \*\*low-rank\+float16\*\* \(written\) \| 12,938 \| 25,876 \|/m);
  });
});

describe('lowrank compress quality gates: failing and unanswerable', () => {
  let unlabelled = '';
  before(async () => {
    // The digits test set without its label column.
    unlabelled = path.join(tmp, 'unlabelled.csv');
    const rows = (await readFile(DIGITS_TEST, 'utf8')).trim().split('\n').slice(0, 50);
    await writeFile(unlabelled, rows.map((r) => r.split(',').slice(0, -1).join(',')).join('\n') + '\n');
  });

  it('exits 1 when gates fail, with the output written and the failures in report.json and on stdout', async () => {
    const out = path.join(tmp, 'failing');
    const r = await runCli('compress', DIGITS_MLP, '--rank', '16', '--data', DIGITS_TRAIN, '--validation-data', DIGITS_TEST, '--epochs', '0', '--max-accuracy-drop', '1', '--min-size-reduction', '100', '--out', out);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['group1-shard1of1.bin', 'model.json', 'report.json']);
    const report = await readReportJson(out);
    assert.deepEqual(report.gates?.map((g) => [g.gate, g.passed]), [['max-accuracy-drop', false], ['min-size-reduction', false]]);
    assert.match(r.stdout, /^FAIL\s+accuracy drop\s+\d+\.\d\d points\s+≤ 1 points$/m);
    assert.match(r.stdout, /^FAIL\s+size reduction\s+3\.93×\s+≥ 100×$/m);
    assert.match(r.stdout, /^2 of 2 gate\(s\) failed$/m);
  });

  const refused: Array<[string, () => string[], () => string]> = [
    ['no --data for an accuracy gate', () => ['--epochs', '0', '--max-accuracy-drop', '1'], () => '--max-accuracy-drop needs accuracy, which needs --data with labels'],
    ['no labels for an accuracy gate', () => ['--epochs', '0', '--data', unlabelled, '--label', 'none', '--max-accuracy-drop', '1'], () => `--max-accuracy-drop needs accuracy, but ${unlabelled} has no labels`],
    ['no --data for an agreement gate', () => ['--epochs', '0', '--max-agreement-loss', '0.1'], () => '--max-agreement-loss needs agreement with the original, which needs --data'],
    ['gates on a dry run', () => ['--epochs', '0', '--dry-run', '--min-size-reduction', '2'], () => 'quality gates need a real run; --dry-run measures nothing'],
    ['an unknown --quantize', () => ['--epochs', '0', '--quantize', 'int4'], () => "option '--quantize <dtype>' argument 'int4' is invalid. Allowed choices are float16, uint8."],
  ];
  for (const [name, args, message] of refused) {
    it(`exits 2 and writes nothing: ${name}`, async () => {
      const out = path.join(tmp, `refused-${name.replace(/\W+/g, '-')}`);
      const r = await runCli('compress', DIGITS_MLP, '--rank', '16', ...args(), '--out', out);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `lowrank: ${message()}\n`);
      assert.equal(existsSync(out), false, 'nothing written');
    });
  }
});
