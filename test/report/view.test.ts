/**
 * The report's view: every derived number and phrase the renderers share, computed once. Checked on
 * the fixed report and on variants of it (no data, --quantize, a failed gate, an output that got
 * larger), and against the renderers, which must show the view's strings and no others of their own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Chalk } from 'chalk';
import { NOT_MEASURED_NO_DATA } from '../../src/report/format.js';
import { describeGate, evaluateGates, outputMetrics } from '../../src/report/gates.js';
import { renderHtml } from '../../src/report/html/page.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { renderText } from '../../src/report/render-text.js';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { reportView } from '../../src/report/view.js';
import { ROOT } from '../helpers.js';

const fixture = ReportSchema.parse(JSON.parse(readFileSync(path.join(ROOT, 'test', 'report', 'fixtures', 'report.json'), 'utf8')));
// The fixture's paths lie below /home/ci/project; shown relative to it, as a user there sees them.
const CWD = '/home/ci/project';
const copy = (): CompressionReport => structuredClone(fixture);

function noData(): CompressionReport {
  const r = copy();
  return { ...r, data: null, loss: null, evaluation: null, training: null, gates: undefined, sizes: r.sizes.map((s) => ({ ...s, metrics: null })) };
}

/** The fixture as written with --quantize uint8, its written variant scoring 95.00%. */
function quantized(): CompressionReport {
  const r = copy();
  r.options.quantize = 'uint8';
  r.sizes = r.sizes.map((s) => (s.variant === 'lowrank+uint8' && s.metrics ? { ...s, metrics: { ...s.metrics, accuracy: 0.95 } } : s));
  return r;
}

const html = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

describe('reportView on the fixed report', () => {
  const v = reportView(fixture, CWD);

  it('shortens paths below the working folder and keeps the full ones', () => {
    assert.deepEqual(v.header.input, { full: fixture.input.path, shown: 'digits-mlp/model.json' });
    assert.deepEqual(v.header.output, { full: fixture.output.path, shown: 'digits-mlp-lowrank' });
    assert.equal(reportView(fixture, '/elsewhere').header.input.shown, fixture.input.path, 'outside the folder: as given');
    assert.equal(v.header.quantize, null);
  });

  it('gives each size measure its ratio and word from the report numbers', () => {
    const { params, weightBytes, gzipBytes } = v.size;
    assert.equal(params.ratio?.factor, fixture.input.params / fixture.output.params);
    assert.equal(params.ratio?.text, `${(fixture.input.params / fixture.output.params).toFixed(2)}× fewer`);
    assert.equal(weightBytes.ratio?.word, 'smaller');
    assert.equal(gzipBytes.ratio?.better, true);
    assert.equal(weightBytes.original, fixture.input.weightBytes.toLocaleString('en-US'), 'exact bytes, as text has always shown them');
    assert.equal(params.change, `−${Math.round((1 - fixture.output.params / fixture.input.params) * 100)}%`);
    assert.ok(fixture.flops !== null);
    assert.equal(v.flops.perSample?.ratio?.factor, fixture.flops.original / fixture.flops.output);
    assert.deepEqual(
      v.speed.map((s) => [s.batchSize, s.ratio?.word]),
      fixture.speed.map((s) => [s.batchSize, s.originalMs !== null && s.outputMs <= s.originalMs ? 'faster' : 'slower']),
    );
    assert.equal(v.largestBatch?.batchSize, Math.max(...fixture.speed.map((s) => s.batchSize)));
    assert.equal(v.minRuns, Math.min(...fixture.speed.map((s) => s.runs)));
  });

  it('lays out each layer, with the reason a kept layer was kept', () => {
    assert.equal(v.layers.length, fixture.layers.length);
    assert.equal(v.factorizedLayers, fixture.layers.filter((l) => l.rank !== null).length);
    for (const [i, row] of v.layers.entries()) {
      const l = fixture.layers[i]!;
      assert.equal(row.shape, `${l.shape[0]}×${l.shape[1]}`);
      assert.equal(row.factorized, l.rank !== null);
      assert.equal(row.rank, l.rank === null ? '—' : String(l.rank));
      assert.equal(row.keptReason, l.rank === null ? (l.reason ?? null) : null);
      assert.equal(row.energyKept === '', l.rank === null, 'energy only for a factorized layer');
    }
    assert.ok(v.layers.some((l) => l.keptReason !== null), 'the fixture keeps a layer');
  });

  it('marks the written size variant (lowrank without --quantize), and only it', () => {
    assert.deepEqual(v.sizes.rows.filter((r) => r.written).map((r) => r.variant), ['lowrank']);
    assert.deepEqual(v.sizes.columns.map((c) => c.key), ['accuracy', 'agreement']);
    assert.equal(v.sizes.evaluatedOn, String(fixture.data?.validationSamples));
    for (const r of v.sizes.rows) {
      const s = fixture.sizes.find((x) => x.variant === r.variant)!;
      assert.equal(r.smaller, `${(fixture.input.weightBytes / s.weightBytes).toFixed(2)}×`);
      assert.equal(r.kind, r.variant.startsWith('lowrank') ? 'lowrank' : r.variant === 'float32' ? 'original' : 'quantized');
    }
  });

  it('computes the accuracy drop from the written variant and says it once', () => {
    const written = fixture.sizes.find((s) => s.variant === 'lowrank')!.metrics!.accuracy!;
    const drop = (fixture.evaluation!.original.accuracy! - written) * 100;
    assert.deepEqual(v.output, outputMetrics(fixture));
    assert.ok(v.accuracy !== null);
    assert.ok(Math.abs(v.accuracy.drop - drop) < 1e-12);
    assert.equal(v.accuracy.sentence, `accuracy ${drop.toFixed(2)} points below the original`);
    assert.equal(v.accuracy.signed, `−${drop.toFixed(2)}`);
    assert.equal(v.notMeasured, null);
  });

  it('lists every evaluated stage, leaving agreement with itself out for the original', () => {
    const ev = v.evaluation;
    assert.ok(ev !== null);
    assert.deepEqual(ev.stages.map((s) => s.name), ['original', 'factorized', 'fine-tuned']);
    assert.deepEqual(ev.rows.map((r) => r.label), ['accuracy', 'loss', 'agrees with original', 'output rel. error']);
    const agreement = ev.rows.find((r) => r.key === 'agreement')!;
    assert.equal(agreement.cells[0], '');
    assert.equal(agreement.values[0], undefined);
    assert.equal(agreement.values[2], fixture.evaluation!.fineTuned!.agreement);
    assert.equal(ev.heldOut, false);
    assert.equal(ev.source, 'digits/test.csv');
  });

  it('words the training summary and every gate once', () => {
    const t = fixture.training!;
    assert.equal(v.training?.epochs, t.epochs.length);
    assert.match(v.training?.sentence ?? '', new RegExp(`^fine-tuned ${t.epochs.length} epoch\\(s\\), [\\d,]+ samples/s, ${(fixture.timings.fineTuneMs / 1000).toFixed(1)} s$`));
    assert.ok(v.gates !== null);
    assert.equal(v.gates.total, fixture.gates!.length);
    assert.equal(v.gates.passed, true);
    assert.equal(v.gates.verdict, `all ${fixture.gates!.length} quality gates passed`);
    for (const [i, g] of v.gates.rows.entries()) {
      const d = describeGate(fixture.gates![i]!);
      assert.deepEqual([g.label, g.value, g.limit, g.flag], [d.label, d.value, d.limit, `--${fixture.gates![i]!.gate}`]);
    }
    assert.equal(v.timings.total, `${(fixture.timings.totalMs / 1000).toFixed(1)} s`);
    assert.deepEqual(v.timings.stages.map((s) => s.label), ['load', 'factorize', 'evaluate', 'fine-tune', 'measure', 'write']);
  });
});

/** The fixture with an output that got larger and slower than the original. */
function larger(): CompressionReport {
  const r = copy();
  r.output = { ...r.output, params: 60_000, weightBytes: 240_000 };
  r.flops = { ...r.flops!, output: r.flops!.original * 2 };
  r.speed = [{ batchSize: 1, runs: 15, originalMs: 0.1, outputMs: 0.2 }];
  return r;
}

describe('reportView on variants', () => {
  it('without data: no evaluation, accuracy or training, and the not-measured sentence', () => {
    const v = reportView(noData(), CWD);
    assert.equal(v.evaluation, null);
    assert.equal(v.accuracy, null);
    assert.equal(v.output, null);
    assert.equal(v.training, null);
    assert.equal(v.gates, null);
    assert.equal(v.data, null);
    assert.deepEqual(v.notMeasured, { phrase: NOT_MEASURED_NO_DATA, sentence: `${NOT_MEASURED_NO_DATA.charAt(0).toUpperCase()}${NOT_MEASURED_NO_DATA.slice(1)}.` });
    assert.equal(v.sizes.evaluatedOn, null);
    assert.deepEqual(v.sizes.columns, []);
    assert.ok(v.sizes.rows.every((r) => r.cells.length === 0 && r.accuracy === null));
  });

  it('under --quantize: the quantized variant is the written one, and the drop is measured on it', () => {
    const r = quantized();
    const v = reportView(r, CWD);
    assert.equal(v.header.quantize, 'uint8');
    assert.deepEqual(v.sizes.rows.filter((s) => s.written).map((s) => s.variant), ['lowrank+uint8']);
    assert.equal(v.output?.accuracy, 0.95);
    const drop = (r.evaluation!.original.accuracy! - 0.95) * 100;
    assert.ok(v.accuracy !== null && Math.abs(v.accuracy.drop - drop) < 1e-12);
    assert.equal(v.accuracy.outputText, '95.00%');
    assert.equal(v.accuracy.tone, drop > 2 ? 'bad' : 'warn');
    const gate = evaluateGates(r, { maxAccuracyDrop: 1 })[0]!;
    assert.ok(Math.abs(gate.value - v.accuracy.drop) < 1e-12, 'the gate and the view agree on the drop');
  });

  it('with a failed gate: counted, worded and sentenced', () => {
    const r = copy();
    r.gates = evaluateGates(r, { maxAccuracyDrop: 0.5, minSizeReduction: 3 });
    const v = reportView(r, CWD);
    assert.ok(v.gates !== null);
    assert.deepEqual([v.gates.passed, v.gates.failed, v.gates.total], [false, 1, 2]);
    assert.equal(v.gates.verdict, '1 of 2 quality gate(s) failed');
    const failed = v.gates.rows.find((g) => !g.passed)!;
    assert.equal(failed.flag, '--max-accuracy-drop');
    assert.equal(failed.sentence, `accuracy drop ${r.gates[0]!.value.toFixed(2)} points (limit ≤ 0.5 points)`);
    r.gates = r.gates.slice(1);
    assert.equal(reportView(r, CWD).gates?.verdict, 'the quality gate passed');
  });

  it('says "more", "larger" and "slower" when the output lost, never "0.85× fewer"', () => {
    const r = larger();
    const v = reportView(r, CWD);
    assert.deepEqual([v.size.params.ratio?.text, v.size.params.ratio?.better], [`${(60_000 / r.input.params).toFixed(2)}× more`, false]);
    assert.equal(v.size.weightBytes.ratio?.text, `${(240_000 / r.input.weightBytes).toFixed(2)}× larger`);
    assert.equal(v.flops.perSample?.ratio?.text, '2.00× more');
    assert.equal(v.speed[0]?.ratio?.text, '2.00× slower');
    assert.equal(v.size.params.change.startsWith('+'), true);
  });

  it('names held-out samples by the training data, and gives no ratio for a zero', () => {
    const r = copy();
    delete r.data!.validationPath;
    r.flops = { ...r.flops!, original: 0 };
    const v = reportView(r, CWD);
    assert.deepEqual([v.evaluation?.heldOut, v.evaluation?.source], [true, 'digits/train.csv']);
    assert.equal(v.flops.perSample?.ratio, null);
    assert.equal(v.flops.perSample?.change, '');
  });
});

describe('the renderers lay out the view', () => {
  const failed = copy();
  failed.gates = evaluateGates(failed, { maxAccuracyDrop: 0.5, maxAgreementLoss: 0.03, minSizeReduction: 3 });
  // Above ten million bytes, where HTML once said "12.3 MB" and text "12,345,678".
  failed.input = { ...failed.input, weightBytes: 12_345_678 };
  const v = reportView(failed, CWD);
  const outputs = {
    text: renderText(failed, new Chalk({ level: 0 }), CWD),
    markdown: renderMarkdown(failed, CWD),
    html: renderHtml(failed, CWD),
  };

  for (const [format, out] of Object.entries(outputs)) {
    const shown = (s: string): boolean => out.includes(format === 'html' ? html(s) : s);
    it(`${format} shows the view's numbers and gate wording`, () => {
      for (const m of [v.size.weightBytes, v.flops.perSample!, ...v.speed]) {
        assert.ok(shown(m.original) && shown(m.output), `${m.label}: ${m.original} → ${m.output}`);
        // HTML's summary cards set the factor large and the word small, so they are looked for apart.
        if (m.ratio !== null) assert.ok(format === 'html' ? shown(m.ratio.times) && shown(m.ratio.word) : shown(m.ratio.text), `${m.label}: ${m.ratio.text}`);
      }
      for (const g of v.gates!.rows) assert.ok(shown(g.label) && shown(g.value) && shown(g.limit), `gate ${g.gate}: ${g.label} ${g.value} ${g.limit}`);
      assert.ok(shown(v.accuracy!.amount));
      for (const row of v.sizes.rows) assert.ok(shown(row.label) && shown(row.weightText), `size row ${row.label}`);
      assert.doesNotMatch(out, /\bpts\b|\d MB/, 'no wording or units of its own');
    });
  }

  it('every format says "more" and "larger" for an output that grew, as the view does', () => {
    const r = larger();
    const v = reportView(r, CWD);
    const words = [v.size.params.ratio!.text, v.size.weightBytes.ratio!.text, v.flops.perSample!.ratio!.text];
    assert.deepEqual(words.map((w) => w.split(' ')[1]), ['more', 'larger', 'more']);
    const text = renderText(r, new Chalk({ level: 0 }), CWD);
    for (const w of words) assert.ok(text.includes(w), `text says ${w}`);
    assert.doesNotMatch(text, /0\.\d\d× (fewer|smaller)/, 'no ratio below 1 called an improvement');
    const md = renderMarkdown(r, CWD);
    assert.ok(md.includes(`**${v.size.weightBytes.ratio!.text}**`) && md.includes(`${v.flops.perSample!.ratio!.text} FLOPs`), 'the Markdown headline');
    assert.doesNotMatch(md, /0\.\d\d× (fewer|smaller)/);
  });
});

describe('a report whose original was not timed (a model too large to time twice over)', () => {
  const why = 'the original has 382 MiB of weights, and timing it would keep a packed copy of each kernel beside them (models above 256 MiB are not timed)';
  const untimed = (): CompressionReport => {
    const r = copy();
    r.speed = r.speed.map((s) => ({ ...s, originalMs: null, originalNotMeasured: why }));
    return r;
  };

  it('parses, and so does a report written before originalMs could be null', () => {
    assert.ok(ReportSchema.safeParse(untimed()).success);
    assert.ok(fixture.speed.every((s) => typeof s.originalMs === 'number'));
  });

  it('has no ratio and says why in the view, the text, the Markdown and the HTML', () => {
    const report = untimed();
    const v = reportView(report, CWD);
    assert.ok(v.speed.length > 0);
    for (const s of v.speed) {
      assert.equal(s.ratio, null);
      assert.equal(s.original, 'not measured');
      assert.equal(s.notMeasured, `original's latency not measured: ${why}`);
    }
    assert.equal(v.speedNotMeasured, `original's latency not measured: ${why}`);
    assert.equal(v.largestBatch?.ratio, null, 'no headline speed-up');
    const flat = (s: string): string => s.replace(/\s+/g, ' ');
    const text = flat(renderText(report, new Chalk({ level: 0 }), CWD));
    const markdown = flat(renderMarkdown(report, CWD));
    const page = flat(renderHtml(report, CWD));
    for (const [name, out] of [['text', text], ['markdown', markdown], ['html', page]] as const) {
      assert.ok(out.includes('not measured'), `${name} shows "not measured"`);
      assert.ok(out.includes(flat(name === 'html' ? html(why) : why)), `${name} says why`);
      assert.ok(!/NaN|Infinity/.test(out), `${name} shows no NaN or Infinity`);
    }
  });
});
