/**
 * The owner's own examples, exactly as written: `lowrank compress model.json --rank 50` with no data,
 * and `lowrank report` with no path, run from the folder that holds the output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { ROOT, hashFolder, runCliIn as cliIn, type CliResult } from '../helpers.js';

const run = promisify(execFile);

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-nodata-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('lowrank compress model.json --rank 8 (no --data)', () => {
  let work: string;
  let result: CliResult;
  let report: CompressionReport;
  let inputHash: Record<string, string>;

  before(async () => {
    // A user's folder: their model beside where the output goes.
    work = path.join(tmp, 'project');
    await cp(path.join(ROOT, 'fixtures', 'digits-cnn'), path.join(work, 'model'), { recursive: true });
    inputHash = await hashFolder(path.join(work, 'model'));
    result = await cliIn(work, 'compress', 'model/model.json', '--rank', '8');
    report = ReportSchema.parse(JSON.parse(await readFile(path.join(work, 'model-lowrank', 'report.json'), 'utf8')));
  });

  it('exits 0 and writes the model beside the input, leaving the input as it was', async () => {
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((await readdir(path.join(work, 'model-lowrank'))).sort(), ['group1-shard1of1.bin', 'model.json', 'report.json']);
    assert.deepEqual(await hashFolder(path.join(work, 'model')), inputHash);
  });

  it('reports everything that needs no data, and no accuracy', () => {
    assert.equal(report.options.epochs, 0, 'the default epoch count applies only with data');
    assert.equal(report.data, null);
    assert.equal(report.evaluation, null);
    assert.equal(report.training, null);
    assert.ok(report.output.params < report.input.params);
    assert.ok(report.flops !== null && report.flops.output < report.flops.original);
    assert.equal(report.speed.length, 2);
    assert.ok(report.sizes.length >= 4);
    for (const s of report.sizes) assert.ok(s.metrics === undefined || s.metrics === null, `${s.variant} was not evaluated`);
    assert.ok(report.layers.some((l) => l.rank === 8 && l.singularValues.length > 0));
  });

  it('says "not measured" where accuracy would be, and says once on stderr why', () => {
    assert.match(result.stdout, /accuracy not measured: no --data was given/);
    assert.doesNotMatch(result.stdout, /\d+\.\d+%\s+\d+\.\d+%\s+\d+\.\d+%/);
    const notes = result.stderr.split('\n').filter((l) => /no --data/.test(l));
    assert.equal(notes.length, 1, result.stderr);
    assert.match(notes[0] as string, /not fine-tuned.*no accuracy/);
  });

  it('says it with --quiet too, and nothing else', async () => {
    const r = await cliIn(work, 'compress', 'model/model.json', '--rank', '8', '--quiet', '--out', 'quiet-out');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^note: no --data given/);
  });

  it('writes a model stock tfjs loads', async () => {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), path.join(work, 'model-lowrank'), path.join(ROOT, 'fixtures/digits/test.csv')], { cwd: ROOT, maxBuffer: 16 << 20 });
    const stock = JSON.parse(stdout) as { classes: string[] };
    assert.ok(stock.classes.includes('Conv2D'));
  });

  it('markdown and json say the same', async () => {
    const md = await cliIn(work, 'report', 'model-lowrank', '--format', 'markdown');
    assert.match(md.stdout, /Accuracy not measured: no --data was given/);
    const html = await cliIn(work, 'report', 'model-lowrank', '--format', 'html');
    assert.match(html.stdout, /Accuracy not measured: no --data was given/);
  });

  it('a broken model.json still gets its own one-line error first, whatever the flags', async () => {
    await mkdir(path.join(work, 'broken'), { recursive: true });
    await writeFile(path.join(work, 'broken', 'model.json'), '{"format": "layers-model", "modelTopology": ');
    for (const flags of [['--rank', '8'], ['--rank', '8', '--epochs', '4'], ['--rank', 'abc'], ['--rank', '8', '--max-accuracy-drop', '1']]) {
      const r = await cliIn(work, 'compress', 'broken/model.json', ...flags);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^lowrank: broken\/model\.json: /);
      assert.equal(existsSync(path.join(work, 'broken-lowrank')), false);
    }
  });
});

describe('lowrank report with no path', () => {
  it('shows the only lowrank output folder here, naming it', async () => {
    const dir = path.join(tmp, 'one');
    const r0 = await cliIn(tmp, 'compress', path.join(ROOT, 'fixtures/digits-mlp/model.json'), '--rank', '8', '--out', path.join(dir, 'small'), '-q');
    assert.equal(r0.code, 0, r0.stderr);
    await mkdir(path.join(dir, 'unrelated'));
    await writeFile(path.join(dir, 'unrelated', 'report.json'), '{"tool": {"name": "other"}}');
    const r = await cliIn(dir, 'report');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /digits-mlp\/model\.json → .*small/);
    assert.match(r.stderr, /showing small\/report\.json/);
  });

  it('prefers ./report.json', async () => {
    const dir = path.join(tmp, 'one', 'small');
    const r = await cliIn(dir, 'report', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(ReportSchema.parse(JSON.parse(r.stdout)).output.path, dir);
  });

  it('with several, shows the newest and says how to pick another', async () => {
    const dir = path.join(tmp, 'several');
    for (const name of ['older', 'newer']) {
      const r0 = await cliIn(tmp, 'compress', path.join(ROOT, 'fixtures/digits-mlp/model.json'), '--rank', name === 'older' ? '4' : '12', '--out', path.join(dir, name), '-q');
      assert.equal(r0.code, 0, r0.stderr);
    }
    // The newest by the report's own time, not by the folder's name or mtime.
    const past = new Date('2020-01-01');
    await utimes(path.join(dir, 'newer', 'report.json'), past, past);
    const r = await cliIn(dir, 'report', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ReportSchema.parse(JSON.parse(r.stdout)).options.rank, '12');
    assert.match(r.stderr, /showing newer\/report\.json, the newest of 2 .*others: older.*pass a folder/);
  });

  it('none: exit 2 with a line that says what to pass', async () => {
    const dir = path.join(tmp, 'empty-here');
    await mkdir(dir);
    const r = await cliIn(dir, 'report');
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^lowrank: .*empty-here: no report\.json here and no lowrank output folder.*lowrank report <output folder or report\.json>/);
  });
});
