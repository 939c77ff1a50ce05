/**
 * `--svd` on compress and inspect, run as a user runs them (the built CLI): the randomized method's
 * report says which layers have only their top singular values, and a bad method is exit 2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import type { InspectReport } from '../../src/inspect.js';
import { DIGITS_MLP, runCli, type CliResult } from '../helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-svd-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('lowrank compress --svd', () => {
  let randomized: CompressionReport;
  let exact: CompressionReport;
  let runs: CliResult[];

  before(async () => {
    runs = await Promise.all(
      ['randomized', 'exact'].map((method) =>
        runCli('compress', DIGITS_MLP, '--rank', '16', '--epochs', '0', '--svd', method, '--quiet', '--out', path.join(tmp, method)),
      ),
    );
    randomized = ReportSchema.parse(JSON.parse(await readFile(path.join(tmp, 'randomized', 'report.json'), 'utf8')));
    exact = ReportSchema.parse(JSON.parse(await readFile(path.join(tmp, 'exact', 'report.json'), 'utf8')));
  });

  it('exits 0 with either method and records it in the report options', () => {
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.equal(randomized.options.svd, 'randomized');
    assert.equal(exact.options.svd, 'exact');
  });

  it('randomized: the truncated layers keep their top 16 values, marked incomplete, near the exact ones', () => {
    for (const name of ['dense_1', 'dense_2']) {
      const r = randomized.layers.find((l) => l.name === name);
      const e = exact.layers.find((l) => l.name === name);
      assert.ok(r !== undefined && e !== undefined);
      assert.equal(r.svd, 'randomized');
      assert.equal(r.singularValuesComplete, false);
      assert.equal(r.singularValues.length, 16);
      assert.equal(e.svd, 'exact');
      assert.equal(e.singularValuesComplete, undefined);
      assert.equal(e.singularValues.length, Math.min(...e.shape));
      // Shares come from ‖W‖²_F, so they stay comparable with the exact ones; the truncation is at
      // most 2% worse.
      assert.ok(r.relativeError !== undefined && e.relativeError !== undefined);
      assert.ok(r.relativeError <= e.relativeError * 1.02 + 1e-6, `${name}: ${r.relativeError} vs ${e.relativeError}`);
      assert.ok(Math.abs((r.energyKept ?? 0) + r.relativeError ** 2 - 1) < 1e-9);
    }
  });

  it('an unknown method is exit 2 naming the choices, and nothing is written', async () => {
    const out = path.join(tmp, 'bad');
    const r = await runCli('compress', DIGITS_MLP, '--rank', '16', '--epochs', '0', '--svd', 'fast', '--out', out);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^lowrank: .*--svd.*fast.*exact, randomized, auto/);
    assert.equal(existsSync(out), false);
  });
});

describe('lowrank inspect --svd randomized', () => {
  it('gives ranks from the top values and says which spectra are partial', async () => {
    const [json, text] = await Promise.all([
      runCli('inspect', DIGITS_MLP, '--svd', 'randomized', '--json'),
      runCli('inspect', DIGITS_MLP, '--svd', 'randomized'),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout) as InspectReport;
    const dense2 = report.layers.find((l) => l.name === 'dense_2')?.factorization;
    assert.ok(dense2 !== undefined);
    assert.equal(dense2.svd, 'randomized');
    assert.equal(dense2.singularValuesComplete, false);
    assert.ok(dense2.singularValues.length < 128);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`dense_2: ranks from the top ${dense2.singularValues.length} of 128 singular values`));
  });
});
