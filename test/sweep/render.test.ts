/**
 * The sweep's renderings lay out the report and nothing else: the table has a row per point under the
 * original's, the chart puts each point where its numbers say (x by parameters, y by the metric), and
 * text from the report (a user's path) is escaped in SVG and HTML.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sweepChart } from '../../src/sweep/chart.js';
import { renderSweepHtml } from '../../src/sweep/page.js';
import { renderSweepMarkdown, renderSweepText, sweepTable } from '../../src/sweep/render.js';
import { SweepReportSchema, type SweepPoint, type SweepReport } from '../../src/sweep/schema.js';

function point(method: 'svd' | 'whiten', rank: number, accuracy: number, tuned?: number): SweepPoint {
  return {
    method,
    rank,
    layers: [{ name: 'dense', rank }],
    params: rank * 100,
    factorizableParams: rank * 90,
    weightBytes: rank * 400,
    flops: rank * 200,
    factorized: { loss: 1 - accuracy, accuracy, agreement: accuracy },
    fineTuned: tuned === undefined ? null : { loss: 1 - tuned, accuracy: tuned, agreement: tuned },
    bestEpoch: tuned === undefined ? null : 1,
    timings: { factorizeMs: 10, evaluateMs: 5, fineTuneMs: 0, totalMs: 15 },
  };
}

function report(points: SweepPoint[], epochs = 0, modelPath = '/models/mlp/model.json'): SweepReport {
  return SweepReportSchema.parse({
    schemaVersion: 1,
    tool: { name: 'lowrank', version: '0.0.0' },
    createdAt: '2026-11-29T00:00:00.000Z',
    backend: 'cpu',
    model: { path: modelPath, params: 10_000, weightBytes: 40_000, factorizableParams: 9_000, flops: 20_000 },
    data: { path: '/data/train.csv', trainSamples: 800, validationSamples: 200 },
    loss: 'categoricalCrossentropy',
    options: { methods: ['svd', 'whiten'], ranks: [2, 8, 32], epochs, seed: 42, validationSplit: 0.2, calibrationSamples: 512, svd: 'auto', batchSize: 32, learningRate: 0.001 },
    original: { loss: 0.05, accuracy: 0.95 },
    points,
    timings: { loadMs: 1, totalMs: 2 },
  });
}

const plain = report([point('svd', 2, 0.2), point('svd', 8, 0.5), point('svd', 32, 0.9), point('whiten', 2, 0.6), point('whiten', 8, 0.85), point('whiten', 32, 0.94)]);

/** The circles of the chart with their tooltip: method, rank, cx, cy. */
function dots(svg: string): Array<{ method: string; rank: number; x: number; y: number }> {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*><title>(\w+) rank (\d+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), method: m[3] as string, rank: Number(m[4]) }));
}

describe('sweep table', () => {
  it('has the original, then a row per point, with the change in points from the original', () => {
    const t = sweepTable(plain);
    assert.equal(t.rows.length, 7);
    assert.equal(t.rows[0]?.[0], 'original');
    const change = t.head.indexOf('change');
    assert.equal(t.rows[1]?.[change], '−75.00');
    assert.equal(t.rows[6]?.[change], '−1.00');
    assert.equal(t.rows[1]?.[t.head.indexOf('smaller')], '50.00×');
    assert.equal(t.head.length, t.align.length);
  });

  it('with fine-tuning shows the score before and after, and the change of the tuned one', () => {
    const t = sweepTable(report([point('svd', 2, 0.2, 0.7)], 3));
    assert.deepEqual(t.head.slice(6, 9), ['accuracy before', 'accuracy tuned', 'change']);
    assert.deepEqual(t.rows[1]?.slice(6, 9), ['20.00%', '70.00%', '−25.00']);
  });

  it('text and Markdown lay out the same cells; the terminal\'s leave out FLOPs to fit 80 columns', () => {
    for (const r of [plain, report([point('svd', 2, 0.2, 0.7)], 3)]) {
      const text = renderSweepText(r);
      const md = renderSweepMarkdown(r);
      for (const row of sweepTable(r, true).rows) assert.match(text, new RegExp(row.filter(Boolean).map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+')));
      for (const row of sweepTable(r).rows) assert.ok(md.includes(`| ${row.join(' | ')} |`));
      assert.ok(!sweepTable(r, true).head.includes('FLOPs') && sweepTable(r).head.includes('FLOPs'));
      assert.ok(text.split('\n').every((l) => l.length <= 80));
    }
  });
});

describe('sweep chart', () => {
  it('places each point by its parameters and accuracy, one line per method', () => {
    const svg = sweepChart(plain).toString();
    const all = dots(svg);
    assert.equal(all.length, 6);
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    for (const method of ['svd', 'whiten']) {
      const own = all.filter((d) => d.method === method);
      for (let i = 1; i < own.length; i++) {
        assert.ok((own[i]?.x as number) > (own[i - 1]?.x as number), 'more parameters, further right');
        assert.ok((own[i]?.y as number) < (own[i - 1]?.y as number), 'higher accuracy, higher up');
      }
    }
    // Log scale: ranks 2, 8, 32 are equally spaced.
    const svd = all.filter((d) => d.method === 'svd');
    assert.ok(Math.abs((svd[1]?.x as number) - (svd[0]?.x as number) - ((svd[2]?.x as number) - (svd[1]?.x as number))) < 0.2);
    // Same rank, same parameters: same x for both methods.
    for (const d of all.filter((d) => d.method === 'whiten')) assert.equal(d.x, svd.find((s) => s.rank === d.rank)?.x);
    assert.match(svg, /original 95\.0%/);
  });

  it('with fine-tuning draws the before-tuning points as dashed lines too', () => {
    const svg = sweepChart(report([point('svd', 2, 0.2, 0.7), point('svd', 8, 0.5, 0.9)], 2)).toString();
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    assert.equal((svg.match(/<polyline [^>]*stroke-dasharray/g) ?? []).length, 1);
    assert.match(svg, /before and after 2 epochs of fine-tuning/);
  });

  it('escapes text from the report', () => {
    const hostile = report([point('svd', 2, 0.2)], 0, '/models/<img src=x onerror="alert(1)">/model.json');
    for (const out of [sweepChart(hostile).toString(), renderSweepHtml(hostile)]) {
      assert.ok(!out.includes('<img'));
      assert.ok(out.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
    }
  });
});
