/**
 * The CLI end to end, run as a user runs it: the built bin with NO_COLOR, on the bundled fixtures.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { runCli, type CliResult } from '../helpers.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const model = path.join(root, 'fixtures/digits-mlp/model.json');
const train = path.join(root, 'fixtures/digits/train.csv');
const test = path.join(root, 'fixtures/digits/test.csv');


async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).sort()) hash.update(name).update(await readFile(path.join(dir, name)));
  return hash.digest('hex');
}

/** A usage/input error: exit 2, one line on stderr naming the problem, no stack trace. */
function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0] as string, /^lowrank: /);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-cli-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('lowrank compress on the digits fixture', () => {
  let out: string;
  let result: CliResult;
  let report: CompressionReport;
  let inputHash: string;

  before(async () => {
    out = path.join(tmp, 'digits-out');
    inputHash = await hashTree(path.dirname(model));
    result = await runCli('compress', model, '--rank', '16', '--data', train, '--validation-data', test, '--epochs', '10', '--out', out);
    report = ReportSchema.parse(JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')));
  });

  it('exits 0 and writes model.json, one shard and report.json', async () => {
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['group1-shard1of1.bin', 'model.json', 'report.json']);
  });

  it('cuts the Dense parameters by at least 3x and reports what it kept', () => {
    assert.ok(report.input.factorizableParams / report.output.factorizableParams >= 3);
    assert.equal(report.layers.find((l) => l.name === 'dense_3')?.rank, null);
    assert.match(report.layers.find((l) => l.name === 'dense_3')?.reason ?? '', /largest useful rank: 9/);
    assert.ok(report.output.weightBytes < report.input.weightBytes / 3);
  });

  it('wins the accuracy back to within 2 points of the original', () => {
    const ev = report.evaluation;
    assert.ok(ev?.fineTuned?.accuracy !== undefined && ev.original.accuracy !== undefined);
    assert.ok(ev.factorized.accuracy !== undefined && ev.factorized.accuracy < ev.original.accuracy, 'truncation should cost accuracy');
    assert.ok(ev.original.accuracy - ev.fineTuned.accuracy <= 0.02, `original ${ev.original.accuracy}, fine-tuned ${ev.fineTuned.accuracy}`);
  });

  it('prints the report table on stdout and progress on stderr', () => {
    assert.match(result.stdout, /dense_1\s+Dense\s+64×256\s+16/);
    assert.match(result.stdout, /accuracy\s+\d+\.\d+%\s+\d+\.\d+%\s+\d+\.\d+%/);
    assert.match(result.stderr, /epoch 1\/10: loss/);
    assert.doesNotMatch(result.stdout + result.stderr, /\u001b\[/, 'NO_COLOR means no escape codes');
    for (const line of result.stdout.split('\n')) assert.ok(line.length <= 80, `line longer than 80 columns: ${line}`);
  });

  it('writes a model that plain tfjs loads, predicting what lowrank reported', async () => {
    const { stdout } = await run(process.execPath, [path.join(root, 'test/cli/stock-load.mjs'), out, test], { cwd: root, maxBuffer: 16 << 20 });
    const stock = JSON.parse(stdout) as { accuracy: number; classes: string[] };
    assert.deepEqual(stock.classes, ['Dense', 'Dense', 'Dense', 'Dense', 'Dense']);
    // lowrank evaluated on wasm, the stock load runs on cpu: argmax may differ only on a near-tie.
    assert.ok(Math.abs(stock.accuracy - (report.evaluation?.fineTuned?.accuracy ?? -1)) <= 1 / 359 + 1e-9);
  });

  it('leaves the input model byte-identical', async () => {
    assert.equal(await hashTree(path.dirname(model)), inputHash);
  });

  it('prints the stored report again with `lowrank report`, as text and as JSON', async () => {
    const text = await runCli('report', out);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /dense_2\s+Dense\s+256×128\s+16/);
    const json = await runCli('report', path.join(out, 'report.json'), '--json');
    assert.deepEqual(ReportSchema.parse(JSON.parse(json.stdout)), report);
  });

  it('refuses to overwrite the non-empty output without --force, leaving it as it was', async () => {
    const before = await hashTree(out);
    const r = await runCli('compress', model, '--rank', '8', '--epochs', '0', '--out', out);
    assertRefused(r, /not empty.*--force/);
    assert.equal(await hashTree(out), before);
  });

  it('replaces it with --force, leaving no temporary folder behind', async () => {
    const r = await runCli('compress', model, '--rank', '8', '--epochs', '0', '--out', out, '--force', '--json');
    assert.equal(r.code, 0, r.stderr);
    const json = ReportSchema.parse(JSON.parse(r.stdout));
    assert.equal(json.options.rank, '8');
    assert.equal(json.evaluation, null);
    assert.deepEqual((await readdir(tmp)).filter((n) => n.includes('.tmp-') || n.includes('.old-')), []);
  });
});

describe('lowrank compress refuses bad input with exit 2 and writes nothing', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing model', () => ['compress', path.join(tmp, 'nope/model.json'), '--rank', '4', '--epochs', '0'], /nope\/model\.json: cannot read model: no such file/],
    ['rank 0', () => ['compress', model, '--rank', '0', '--epochs', '0'], /--rank must be a positive integer/],
    ['a rank that is not a number', () => ['compress', model, '--rank', 'abc', '--epochs', '0'], /--rank must be a positive integer/],
    ['a rank that saves nothing', () => ['compress', model, '--rank', '200', '--epochs', '0'], /no layer would get smaller at --rank 200; the largest rank that would help is 85/],
    ['a layer the model does not have', () => ['compress', model, '--rank', 'dense_9=4', '--epochs', '0'], /"dense_9".*dense_1, dense_2, dense_3/],
    ['a negative epoch count', () => ['compress', model, '--rank', '4', '--epochs', '-1'], /--epochs must be at least 0/],
    ['fine-tuning epochs without data', () => ['compress', model, '--rank', '4', '--epochs', '2'], /--epochs 2 fine-tunes, which needs --data/],
    ['an accuracy gate without data', () => ['compress', model, '--rank', '4', '--max-accuracy-drop', '1'], /--max-accuracy-drop needs accuracy, which needs --data/],
    ['an unknown option', () => ['compress', model, '--rank', '4', '--forse'], /unknown option '--forse'.*--force/],
    ['an unknown command', () => ['comprss', model], /unknown command 'comprss'.*compress/],
    ['a dataset of the wrong width', () => ['compress', model, '--rank', '4', '--data', path.join(tmp, 'narrow.csv')], /narrow\.csv: line 1: row has 63 features, the model expects 64/],
    ['a dataset with a bad cell', () => ['compress', model, '--rank', '4', '--data', path.join(tmp, 'bad-cell.csv')], /bad-cell\.csv: line 3.*"x7"/],
    ['a label outside the classes', () => ['compress', model, '--rank', '4', '--data', path.join(tmp, 'bad-label.csv')], /bad-label\.csv: sample 2: label 12 is not a class index of this model \(0\.\.9\)/],
  ];

  before(async () => {
    const lines = (await readFile(train, 'utf8')).trim().split('\n');
    const header = lines[0] as string;
    const rows = lines.slice(1, 6);
    await writeFile(path.join(tmp, 'narrow.csv'), rows.map((r) => r.split(',').slice(1).join(',')).join('\n') + '\n');
    const badCell = [header, rows[0], (rows[1] as string).replace(/^[^,]+/, 'x7'), rows[2]];
    await writeFile(path.join(tmp, 'bad-cell.csv'), badCell.join('\n') + '\n');
    const badLabel = [header, rows[0], (rows[1] as string).replace(/,[^,]+$/, ',12'), rows[2]];
    await writeFile(path.join(tmp, 'bad-label.csv'), badLabel.join('\n') + '\n');
  });

  for (const [name, args, pattern] of cases) {
    it(name, async () => {
      const out = path.join(tmp, `refused-${name.replace(/\W+/g, '-')}`);
      const r = await runCli(...args(), '--out', out);
      assertRefused(r, pattern);
      assert.equal(existsSync(out), false, 'nothing written');
    });
  }

  it('a dry run prints the plan and writes nothing', async () => {
    const out = path.join(tmp, 'dry');
    const r = await runCli('compress', model, '--rank', '16', '--dry-run', '--epochs', '0', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dense_1\s+Dense\s+64×256\s+51\s+16\s+16,640 →\s+5,376/);
    assert.match(r.stdout, /nothing written/);
    assert.equal(existsSync(out), false);
  });

  it('a dry run reads none of the data: a dataset that would be refused still plans', async () => {
    const out = path.join(tmp, 'dry-data');
    const r = await runCli('compress', model, '--rank', '16', '--dry-run', '--data', path.join(tmp, 'bad-cell.csv'), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dense_1\s+Dense\s+64×256\s+51\s+16/);
    assert.equal(existsSync(out), false);
  });

  it('a dry run still names a dataset that does not exist', async () => {
    const r = await runCli('compress', model, '--rank', '16', '--dry-run', '--data', path.join(tmp, 'nope.csv'));
    assertRefused(r, /nope\.csv: no such file/);
  });

  it('`lowrank report` on a folder without report.json is exit 2', async () => {
    await mkdir(path.join(tmp, 'empty'), { recursive: true });
    const r = await runCli('report', path.join(tmp, 'empty'));
    assertRefused(r, /report\.json: no report\.json here/);
  });

  it('a model whose weight path leaves its folder is refused', async () => {
    const dir = path.join(tmp, 'escape');
    await cp(path.dirname(model), dir, { recursive: true });
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    const r = await runCli('compress', path.join(dir, 'model.json'), '--rank', '4', '--epochs', '0', '--out', path.join(tmp, 'escape-out'));
    assertRefused(r, /weight path "\.\.\/\.\.\/etc\/passwd" leaves the model's folder/);
  });
});
