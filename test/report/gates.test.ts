/**
 * Quality gates on a stored report, through `lowrank report` as a CI runs it: every exit path
 * (pass 0, each gate failing 1 with the report still printed, a gate the report cannot answer 2),
 * and the arithmetic at the limits.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { evaluateGates, parseGateLimits } from '../../src/report/gates.js';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { UsageError } from '../../src/errors.js';
import { ROOT, makeTempDir, removeTempDir, runCli } from '../helpers.js';

const fixture = path.join(ROOT, 'test', 'report', 'fixtures', 'report.json');
const load = async (): Promise<CompressionReport> => ReportSchema.parse(JSON.parse(await readFile(fixture, 'utf8')));

describe('lowrank report with quality gates', () => {
  it('exits 0 when every gate passes', async () => {
    const r = await runCli('report', fixture, '--max-accuracy-drop', '1.5', '--max-agreement-loss', '0.02', '--min-size-reduction', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^all gates passed$/m);
    assert.doesNotMatch(r.stdout, /FAIL/);
  });

  const failing: Array<[string, string[], RegExp]> = [
    ['accuracy drop', ['--max-accuracy-drop', '0.5'], /^FAIL {2}accuracy drop {2}0\.84 points {2}≤ 0\.5 points$/m],
    ['agreement loss', ['--max-agreement-loss', '0.01'], /^FAIL {2}agreement loss {2}0\.0195 {2}≤ 0\.01$/m],
    ['size reduction', ['--min-size-reduction', '4'], /^FAIL {2}size reduction {2}3\.93× {2}≥ 4×$/m],
  ];
  for (const [name, flags, line] of failing) {
    it(`exits 1 when the ${name} gate fails, still printing the whole report`, async () => {
      const r = await runCli('report', fixture, ...flags);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, line);
      assert.match(r.stdout, /^1 of 1 gate\(s\) failed$/m);
      assert.match(r.stdout, /^dense_1\s+Dense/m, 'the report is printed too');
      const json = await runCli('report', fixture, ...flags, '--json');
      assert.equal(json.code, 1);
      assert.equal(ReportSchema.parse(JSON.parse(json.stdout)).gates?.[0]?.passed, false);
    });
  }

  it('exits 2, saying why, for a gate the report cannot answer', async () => {
    const dir = await makeTempDir();
    try {
      // As compress writes it without --data: nothing evaluated.
      const report = await load();
      const bare: CompressionReport = { ...report, data: null, loss: null, evaluation: null, training: null, sizes: report.sizes.map((s) => ({ ...s, metrics: null })) };
      delete bare.gates;
      const file = path.join(dir, 'report.json');
      await writeFile(file, JSON.stringify(bare));
      const accuracy = await runCli('report', dir, '--max-accuracy-drop', '1');
      assert.equal(accuracy.code, 2);
      assert.equal(accuracy.stdout, '', 'nothing printed');
      assert.equal(accuracy.stderr, `lowrank: ${file}: --max-accuracy-drop needs accuracy, but this report has none (it was made without --data)\n`);
      const agreement = await runCli('report', file, '--max-agreement-loss', '0.1');
      assert.equal(agreement.code, 2);
      assert.match(agreement.stderr, /--max-agreement-loss needs agreement with the original, but this report has none/);
      // Size needs no data.
      assert.equal((await runCli('report', file, '--min-size-reduction', '3')).code, 0);
    } finally {
      await removeTempDir(dir);
    }
  });

  it('exits 2 for a limit that is not a number or out of range', async () => {
    const nan = await runCli('report', fixture, '--max-accuracy-drop', 'lots');
    assert.equal(nan.code, 2);
    assert.equal(nan.stderr, 'lowrank: --max-accuracy-drop must be a number of points, like 1.5\n');
    const range = await runCli('report', fixture, '--max-agreement-loss', '2');
    assert.equal(range.code, 2);
    assert.equal(range.stderr, 'lowrank: --max-agreement-loss must be in [0, 1]\n');
  });
});

describe('evaluateGates', () => {
  it('passes a value exactly at the limit and fails one just past it', async () => {
    const report = await load();
    const original = report.evaluation?.original.accuracy as number;
    const output = report.sizes.find((s) => s.variant === 'lowrank')?.metrics?.accuracy as number;
    const drop = (original - output) * 100; // 3 of 359 samples: 0.8357 points
    assert.equal(Math.round(drop * 359), 300);
    const at = evaluateGates(report, { maxAccuracyDrop: 300 / 359, minSizeReduction: 203_304 / 51_752 });
    assert.deepEqual(at.map((g) => g.passed), [true, true]);
    const past = evaluateGates(report, { maxAccuracyDrop: 300 / 359 - 1e-6, minSizeReduction: 203_304 / 51_752 + 1e-6 });
    assert.deepEqual(past.map((g) => g.passed), [false, false]);
  });

  it('gates the model in the output folder: the quantized variant when --quantize wrote one', async () => {
    const report = await load();
    const quantized: CompressionReport = {
      ...report,
      options: { ...report.options, quantize: 'uint8' },
      sizes: report.sizes.map((s) => (s.variant === 'lowrank+uint8' && s.metrics ? { ...s, metrics: { ...s.metrics, accuracy: 0.9 } } : s)),
    };
    const [gate] = evaluateGates(quantized, { maxAccuracyDrop: 5 });
    assert.ok(gate !== undefined && Math.abs(gate.value - ((report.evaluation?.original.accuracy ?? 0) - 0.9) * 100) < 1e-9);
    assert.equal(gate.passed, false);
  });

  it('takes limits as numbers or numeric strings, and refuses anything else with a UsageError', () => {
    assert.deepEqual(parseGateLimits({ maxAccuracyDrop: '1.5', minSizeReduction: 3 }), { maxAccuracyDrop: 1.5, minSizeReduction: 3 });
    assert.throws(() => parseGateLimits({ minSizeReduction: '0' }), (e: unknown) => e instanceof UsageError && /greater than 0/.test(e.message));
    assert.throws(() => parseGateLimits({ maxAccuracyDrop: '' }), UsageError);
  });
});
