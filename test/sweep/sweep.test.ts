/**
 * sweep() on a real fixture: every point's numbers are those of a separate compress() run at the same
 * settings; accuracy rises with rank for both methods; whitening beats plain SVD at small ranks; the
 * four files are written whole and sweep.json is the report returned.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { sweep, SweepReportSchema, type SweepMethod, type SweepPoint, type SweepReport } from '../../src/sweep/index.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, useTempDirAndLeakCheck } from '../helpers.js';

const tmp = useTempDirAndLeakCheck();
const RANKS = [2, 4, 8, 16];
const common = { model: DIGITS_MLP, data: DIGITS_TRAIN, validationData: DIGITS_TEST, backend: 'wasm' as const };

/** The same point as a compress run of its own. */
async function compressAt(point: SweepPoint, epochs: number, out: string) {
  const setting = point.rank !== undefined ? { rank: point.rank } : { ratio: point.ratio };
  const { report } = await compress({ ...common, ...setting, method: point.method, epochs, out });
  assert.ok(report !== null && report.evaluation !== null && report.flops !== null);
  return report;
}

function assertClose(actual: number | undefined, expected: number | undefined, tolerance: number, what: string): void {
  assert.ok(actual !== undefined && expected !== undefined, `${what}: missing`);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);
}

/** Every number of a factorize-only point against a compress run at its settings. */
async function assertSameAsCompress(report: SweepReport, p: SweepPoint, name: string): Promise<void> {
  const c = await compressAt(p, 0, path.join(tmp(), name));
  const what = `${p.method} ${p.rank !== undefined ? `rank ${p.rank}` : `ratio ${p.ratio}`}`;
  assert.equal(p.params, c.output.params, `${what}: params`);
  assert.equal(p.factorizableParams, c.output.factorizableParams, `${what}: factorizable params`);
  assert.equal(p.weightBytes, c.output.weightBytes, `${what}: weight bytes`);
  assert.equal(p.flops, c.flops?.output, `${what}: FLOPs`);
  assert.deepEqual(p.layers, c.layers.map((l) => ({ name: l.name, rank: l.rank })), `${what}: ranks per layer`);
  const f = c.evaluation?.factorized;
  assertClose(p.factorized.accuracy, f?.accuracy, 1e-9, `${what}: accuracy`);
  assertClose(p.factorized.agreement, f?.agreement, 1e-9, `${what}: agreement`);
  assertClose(p.factorized.loss, f?.loss, 1e-5, `${what}: loss`);
  assertClose(report.original.accuracy, c.evaluation?.original.accuracy, 1e-9, 'original accuracy');
  assert.equal(report.model.params, c.input.params);
  assert.equal(report.model.weightBytes, c.input.weightBytes);
  assert.equal(report.model.factorizableParams, c.input.factorizableParams);
  assert.equal(report.model.flops, c.flops?.original);
}

function pointsOf(report: SweepReport, method: SweepMethod): SweepPoint[] {
  return report.points.filter((p) => p.method === method);
}

describe('sweep over --ranks on digits-mlp, factorize only', () => {
  let report: SweepReport;
  let files: string[];
  let out: string;
  const events: string[] = [];
  before(async () => {
    out = path.join(tmp(), 'sweep');
    ({ report, files } = await sweep({ ...common, ranks: RANKS.join(','), out, onEvent: (e) => events.push(e.status) }));
  });

  it('measures every method at every rank, in method order then by rank', () => {
    assert.deepEqual(report.points.map((p) => `${p.method} ${p.rank}`), ['svd', 'whiten'].flatMap((m) => RANKS.map((r) => `${m} ${r}`)));
    assert.equal(events.filter((s) => s === 'point').length, 8);
    assert.equal(report.options.epochs, 0);
    for (const p of report.points) assert.equal(p.fineTuned, null);
  });

  it('each point equals a separate compress run at the same settings', async () => {
    for (const p of report.points) await assertSameAsCompress(report, p, `compress-${p.method}-${p.rank}`);
  });


  it('accuracy rises with rank for both methods', () => {
    for (const method of ['svd', 'whiten'] as const) {
      const accuracy = pointsOf(report, method).map((p) => p.factorized.accuracy as number);
      for (let i = 1; i < accuracy.length; i++) assert.ok((accuracy[i] as number) > (accuracy[i - 1] as number), `${method}: ${accuracy.join(', ')}`);
    }
  });

  it('whitening beats plain SVD at small ranks, and both stay below the original', () => {
    for (const rank of [2, 4]) {
      const [svd, whiten] = (['svd', 'whiten'] as const).map((m) => report.points.find((p) => p.method === m && p.rank === rank)?.factorized.accuracy as number);
      assert.ok((whiten as number) >= (svd as number) + 0.1, `rank ${rank}: whiten ${whiten} vs svd ${svd}`);
    }
    for (const p of report.points) assert.ok((p.factorized.accuracy as number) <= (report.original.accuracy as number));
  });

  it('parameters, bytes and FLOPs grow with rank, and stay below the original', () => {
    const svd = pointsOf(report, 'svd');
    for (let i = 1; i < svd.length; i++) {
      for (const key of ['params', 'weightBytes', 'flops'] as const) assert.ok((svd[i]?.[key] as number) > (svd[i - 1]?.[key] as number), key);
    }
    for (const p of report.points) assert.ok(p.params < report.model.params && p.weightBytes < report.model.weightBytes);
    // Both methods cost the same at a rank: they differ only in which rank-k factors they keep.
    for (const p of pointsOf(report, 'whiten')) assert.equal(p.params, svd.find((s) => s.rank === p.rank)?.params);
  });

  it('writes exactly the four files, and sweep.json is the report, valid by its schema', async () => {
    assert.deepEqual((await readdir(out)).sort(), ['sweep.html', 'sweep.json', 'sweep.md', 'sweep.svg']);
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ['sweep.html', 'sweep.json', 'sweep.md', 'sweep.svg']);
    const stored = SweepReportSchema.parse(JSON.parse(await readFile(path.join(out, 'sweep.json'), 'utf8')));
    assert.deepEqual(stored, report);
    const svg = await readFile(path.join(out, 'sweep.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2, 'one line per method');
    const html = await readFile(path.join(out, 'sweep.html'), 'utf8');
    assert.ok(html.includes(svg.trim()), 'the page inlines the same chart');
    const md = await readFile(path.join(out, 'sweep.md'), 'utf8');
    assert.equal(md.split('\n').filter((l) => /^\| (svd|whiten|original) \|/.test(l)).length, 9);
  });
});

describe('sweep over --ratios on digits-mlp, factorize only', () => {
  const RATIOS = [0.05, 0.1, 0.2, 0.3];
  let report: SweepReport;
  before(async () => {
    ({ report } = await sweep({ ...common, ratios: '0.3,0.05,0.2,0.1', out: path.join(tmp(), 'ratios') }));
  });

  it('measures every method at every ratio, ascending, and records the ratios', () => {
    assert.deepEqual(report.points.map((p) => `${p.method} ${p.ratio}`), ['svd', 'whiten'].flatMap((m) => RATIOS.map((r) => `${m} ${r}`)));
    assert.deepEqual(report.options.ratios, RATIOS);
    assert.equal(report.options.ranks, undefined);
    for (const p of report.points) assert.equal(p.rank, undefined);
  });

  it('each point equals a separate compress --ratio run (the whitened spectra are computed once, to the same ranks)', async () => {
    for (const p of report.points) await assertSameAsCompress(report, p, `ratio-${p.method}-${p.ratio}`);
  });

  it('keeps every point within its budget', () => {
    for (const p of report.points) assert.ok(p.factorizableParams <= Math.floor((p.ratio as number) * report.model.factorizableParams), `${p.method} ${p.ratio}: ${p.factorizableParams}`);
  });

  it('whitened accuracy rises with the ratio, and beats plain SVD at small ratios', () => {
    // Plain SVD's allocation reads the kernels' spectra, not the outputs: on digits-mlp its accuracy
    // is not monotone in the ratio (55.15% at 0.2, 52.65% at 0.3), so only whitening's is asserted.
    const whiten = pointsOf(report, 'whiten').map((p) => p.factorized.accuracy as number);
    for (let i = 1; i < whiten.length; i++) assert.ok((whiten[i] as number) > (whiten[i - 1] as number), whiten.join(', '));
    for (const ratio of [0.05, 0.1]) {
      const [svd, w] = (['svd', 'whiten'] as const).map((m) => report.points.find((p) => p.method === m && p.ratio === ratio)?.factorized.accuracy as number);
      assert.ok((w as number) >= (svd as number) + 0.1, `ratio ${ratio}: whiten ${w} vs svd ${svd}`);
    }
  });
});

describe('sweep with --epochs', () => {
  it('fine-tunes every point as compress does', async () => {
    const { report } = await sweep({ ...common, ranks: [4], epochs: 1, out: path.join(tmp(), 'tuned') });
    assert.equal(report.points.length, 2);
    for (const p of report.points) {
      const c = await compressAt(p, 1, path.join(tmp(), `tuned-${p.method}`));
      assert.ok(p.fineTuned !== null && c.evaluation?.fineTuned);
      assertClose(p.factorized.accuracy, c.evaluation.factorized.accuracy, 1e-9, `${p.method}: accuracy before`);
      assertClose(p.fineTuned.accuracy, c.evaluation.fineTuned.accuracy, 1e-9, `${p.method}: accuracy after`);
      assertClose(p.fineTuned.loss, c.evaluation.fineTuned.loss, 1e-4, `${p.method}: loss after`);
      assert.equal(p.bestEpoch, c.training?.bestEpoch);
      assert.ok(p.timings.fineTuneMs > 0);
    }
  });
});
