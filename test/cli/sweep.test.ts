/**
 * `lowrank sweep` as a user runs it (the built CLI): the table on stdout, progress on stderr, the four
 * files written whole into --out (default <model folder>-sweep) under compress's --force rules, and
 * every bad list, method or missing input refused with exit 2, one line, nothing written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SweepReportSchema } from '../../src/sweep/schema.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, FIXTURES, hashFolder, runCli, runCliIn } from '../helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-sweep-cli-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const data = ['--data', DIGITS_TRAIN, '--validation-data', DIGITS_TEST];

describe('lowrank sweep', () => {
  let out: string;
  let first: Awaited<ReturnType<typeof runCli>>;
  before(async () => {
    out = path.join(tmp, 'out');
    first = await runCli('sweep', DIGITS_MLP, ...data, '--ranks', '8,2', '--out', out);
  });

  it('prints the table on stdout and one progress line per point on stderr', () => {
    assert.equal(first.code, 0, first.stderr);
    const rows = first.stdout.split('\n').filter((l) => /^(original|svd|whiten) /.test(l));
    assert.deepEqual(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['original —', 'svd 2', 'svd 8', 'whiten 2', 'whiten 8']);
    assert.match(first.stdout, /^method\s+rank\s+params\s+smaller\s+bytes\s+accuracy\s+change\s+agrees\s+time$/m);
    assert.ok(first.stdout.split('\n').every((l) => l.length <= 80), 'fits 80 columns');
    for (let i = 1; i <= 4; i++) assert.match(first.stderr, new RegExp(`^\\[${i}/4\\] (svd|whiten) rank \\d+: [\\d,]+ params, loss [\\d.]+, accuracy [\\d.]+% \\(`, 'm'));
  });

  it('writes sweep.json, .md, .html and .svg whole, and --json prints the same report', async () => {
    assert.deepEqual((await readdir(out)).sort(), ['sweep.html', 'sweep.json', 'sweep.md', 'sweep.svg']);
    const report = SweepReportSchema.parse(JSON.parse(await readFile(path.join(out, 'sweep.json'), 'utf8')));
    assert.deepEqual(report.options.ranks, [2, 8]);
    assert.equal(report.points.length, 4);
    assert.ok(!(await readdir(tmp)).some((n) => n.includes('.tmp-')), 'no temporary folder left');
    const again = await runCli('sweep', DIGITS_MLP, ...data, '--ranks', '2,8', '--methods', 'whiten', '--out', out, '--force', '--json', '-q');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
    const printed = SweepReportSchema.parse(JSON.parse(again.stdout));
    assert.deepEqual(printed, SweepReportSchema.parse(JSON.parse(await readFile(path.join(out, 'sweep.json'), 'utf8'))));
    // The same settings measure the same numbers.
    assert.deepEqual(printed.points.map((p) => p.factorized), report.points.filter((p) => p.method === 'whiten').map((p) => p.factorized));
  });

  it('refuses to replace its output without --force, and never replaces a folder it did not write', async () => {
    const before = await hashFolder(out);
    const refused = await runCli('sweep', DIGITS_MLP, ...data, '--ranks', '2', '--out', out);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^lowrank: .*: output folder exists and is not empty \(use --force to replace it\)\n$/);
    assert.deepEqual(await hashFolder(out), before);
    const withExtra = path.join(tmp, 'with-extra');
    await cp(out, withExtra, { recursive: true });
    await writeFile(path.join(withExtra, 'notes.txt'), 'mine\n');
    const mine = await hashFolder(withExtra);
    const forced = await runCli('sweep', DIGITS_MLP, ...data, '--ranks', '2', '--out', withExtra, '--force');
    assert.equal(forced.code, 2);
    assert.match(forced.stderr, /is not a lowrank output folder/);
    assert.deepEqual(await hashFolder(withExtra), mine);
  });

  it('sweeps --ratios as compress --ratio, naming each layer\'s rank', async () => {
    const dir = path.join(tmp, 'ratios');
    const r = await runCli('sweep', DIGITS_MLP, ...data, '--ratios', '0.1,0.05', '--methods', 'whiten', '--out', dir, '--format', 'markdown');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[1\/2\] whiten ratio 0\.05: /m);
    assert.match(r.stdout, /^\| method \| ratio \| ranks \| params \|/m);
    assert.match(r.stdout, /^\| whiten \| 0\.1 \| \d+\/\d+\/(\d+|—) \| /m);
    const report = SweepReportSchema.parse(JSON.parse(await readFile(path.join(dir, 'sweep.json'), 'utf8')));
    assert.deepEqual(report.options.ratios, [0.05, 0.1]);
    assert.match(await readFile(path.join(dir, 'sweep.svg'), 'utf8'), />ratio<\/text>/);
  });

  it('writes beside the model folder by default', async () => {
    const models = path.join(tmp, 'models');
    await mkdir(models);
    await cp(path.dirname(DIGITS_MLP), path.join(models, 'mlp'), { recursive: true });
    const r = await runCliIn(models, 'sweep', 'mlp/model.json', ...data, '--ranks', '4', '--methods', 'svd', '-q');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await readdir(path.join(models, 'mlp-sweep'))).sort(), ['sweep.html', 'sweep.json', 'sweep.md', 'sweep.svg']);
  });
});

describe('lowrank sweep refuses bad input: exit 2, one line, nothing written', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an empty --ranks', ['--ranks', ''], /--ranks is empty/],
    ['an empty item', ['--ranks', '2,,4'], /--ranks: item 2 of "2,,4" is empty/],
    ['a repeated rank', ['--ranks', '4,2,4'], /--ranks: 4 is given twice/],
    ['rank 0', ['--ranks', '0,2'], /--ranks: "0" is not a positive integer/],
    ['a negative rank', ['--ranks=-2'], /--ranks: "-2" is not a positive integer/],
    ['a fraction', ['--ranks', '2.5'], /--ranks: "2.5" is not a positive integer/],
    ['a rank past every break-even', ['--ranks', '4,200'], /--ranks: no layer would get smaller at rank 200; the largest rank that would help is 85/],
    ['neither --ratios nor --ranks', [], /say which points to sweep: --ratios 0\.05,0\.1,0\.2 \(shares of the parameters\) or --ranks 2,4,8/],
    ['both --ratios and --ranks', ['--ratios', '0.1', '--ranks', '2'], /give either --ratios or --ranks, not both/],
    ['an empty --ratios', ['--ratios', ''], /--ratios is empty/],
    ['a repeated ratio', ['--ratios', '0.1,0.2,0.10'], /--ratios: 0\.1 is given twice/],
    ['ratio 0', ['--ratios', '0,0.1'], /--ratios: "0" is not a share between 0 and 1 \(exclusive\)/],
    ['ratio 1', ['--ratios', '0.5,1'], /--ratios: "1" is not a share between 0 and 1/],
    ['a ratio that is not a number', ['--ratios', '0.1,10%'], /--ratios: "10%" is not a share/],
    ['a ratio below rank 1 everywhere', ['--ratios', '0.01,0.1', '--methods', 'svd'], /--ratio 0\.01 is below what rank 1 in every considered layer keeps; the smallest reachable ratio is 0\.02/],
    ['--layers that select no layer', ['--ranks', '2', '--layers', 'nope*'], /--layers "nope\*" selects none of the factorizable layers/],
    ['an unknown method', ['--ranks', '2', '--methods', 'svd,asvd'], /--methods: "asvd" is not a method \(svd, whiten\)/],
    ['a repeated method', ['--ranks', '2', '--methods', 'whiten,whiten'], /--methods: whiten is given twice/],
    ['an empty --methods', ['--ranks', '2', '--methods', ''], /--methods is empty/],
  ];
  for (const [name, args, message] of cases) {
    it(name, async () => {
      const out = path.join(tmp, `bad-${name.replace(/\W+/g, '-')}`);
      const r = await runCli('sweep', DIGITS_MLP, ...data, ...args, '--out', out);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^lowrank: [^\n]*\n$/);
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(out));
    });
  }

  it('no --data', async () => {
    const out = path.join(tmp, 'no-data');
    const r = await runCli('sweep', DIGITS_MLP, '--ranks', '2', '--out', out);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'lowrank: lowrank sweep measures every point on held-out data: give --data FILE\n');
    assert.ok(!existsSync(out));
  });

  it('a --data file that does not exist', async () => {
    const out = path.join(tmp, 'missing-data');
    const missing = path.join(tmp, 'nope.csv');
    const r = await runCli('sweep', DIGITS_MLP, '--data', missing, '--ranks', '2', '--out', out);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^lowrank: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [^\n]+\n$`));
    assert.ok(!existsSync(out));
  });

  it('a broken model is reported before a bad list', async () => {
    const r = await runCli('sweep', path.join(FIXTURES, 'no-such-model', 'model.json'), ...data, '--ranks', '0');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no-such-model/);
    assert.doesNotMatch(r.stderr, /--ranks/);
  });
});
