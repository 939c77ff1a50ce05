/**
 * Snapshots of `lowrank report` as text and Markdown on a fixed report (run as a user runs it, with
 * NO_COLOR), colour where it is asked for, formats, and `--compare`.
 * Refresh the snapshots after an intended change with UPDATE_SNAPSHOTS=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Chalk } from 'chalk';
import { readReport } from '../../src/report/read.js';
import { renderText } from '../../src/report/render-text.js';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { evaluateGates } from '../../src/report/gates.js';
import { ROOT, makeTempDir, removeTempDir, runCli } from '../helpers.js';

const here = path.join(ROOT, 'test', 'report', 'fixtures');
const fixture = path.join(here, 'report.json');

/** Compare with the stored snapshot, or write it with UPDATE_SNAPSHOTS=1. */
async function matchSnapshot(actual: string, name: string): Promise<void> {
  const file = path.join(here, name);
  if (process.env['UPDATE_SNAPSHOTS'] === '1') await writeFile(file, actual);
  assert.equal(actual, await readFile(file, 'utf8'), `${name} differs from the snapshot (UPDATE_SNAPSHOTS=1 refreshes it)`);
}

function assertPlainAndNarrow(text: string): void {
  assert.doesNotMatch(text, /\u001b\[/, 'NO_COLOR means no escape codes');
  for (const line of text.split('\n')) assert.ok([...line].length <= 80, `line longer than 80 columns: ${line}`);
}

describe('lowrank report on a fixed report', () => {
  it('prints the text snapshot, within 80 columns and without colour', async () => {
    const r = await runCli('report', fixture);
    assert.equal(r.code, 0, r.stderr);
    assertPlainAndNarrow(r.stdout);
    await matchSnapshot(r.stdout, 'report.txt');
  });

  it('prints the Markdown snapshot', async () => {
    const r = await runCli('report', fixture, '--format', 'markdown');
    assert.equal(r.code, 0, r.stderr);
    await matchSnapshot(r.stdout, 'report.md');
  });

  it('marks a failed gate FAIL in text and Markdown, and exits 1', async () => {
    const gates = ['--max-accuracy-drop', '0.5', '--min-size-reduction', '3'];
    const text = await runCli('report', fixture, ...gates);
    assert.equal(text.code, 1, text.stderr);
    assertPlainAndNarrow(text.stdout);
    assert.match(text.stdout, /^FAIL {2}accuracy drop {3}0\.84 points {2}≤ 0\.5 points$/m);
    assert.match(text.stdout, /^PASS {2}size reduction/m);
    await matchSnapshot(text.stdout, 'report-gate-failed.txt');
    const md = await runCli('report', fixture, ...gates, '--format', 'markdown');
    assert.equal(md.code, 1, md.stderr);
    assert.match(md.stdout, /^> \[!CAUTION\]$/m);
    assert.match(md.stdout, /^\| ❌ \*\*FAIL\*\* \| \*\*accuracy drop\*\* \|/m);
    await matchSnapshot(md.stdout, 'report-gate-failed.md');
  });

  it('colours a failed gate red, and nothing else changes when colour is on', async () => {
    const report = await readReport(fixture);
    const failed = { ...report, gates: evaluateGates(report, { maxAccuracyDrop: 0.5 }) };
    const coloured = renderText(failed, new Chalk({ level: 1 }), ROOT);
    const failLine = coloured.split('\n').find((l) => l.includes('FAIL'));
    assert.ok(failLine?.startsWith('\u001b[31m'), `FAIL line is red: ${JSON.stringify(failLine)}`);
    assert.equal(coloured.replace(/\u001b\[[0-9;]*m/g, ''), renderText(failed, new Chalk({ level: 0 }), ROOT));
  });

  it('prints JSON with --format json and with its alias --json, and refuses both with different formats', async () => {
    const a = await runCli('report', fixture, '--format', 'json');
    const b = await runCli('report', fixture, '--json');
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout);
    assert.deepEqual(ReportSchema.parse(JSON.parse(a.stdout)), await readReport(fixture));
    const both = await runCli('report', fixture, '--json', '--format', 'markdown');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^lowrank: --json is --format json; it cannot go with --format markdown\n$/);
  });
});

describe('lowrank report --compare', () => {
  it('shows two reports side by side: sizes, accuracy, latency and ranks per layer', async () => {
    const dir = await makeTempDir();
    try {
      const a = await readReport(fixture);
      // B: as if compressed at rank 8 (numbers set by hand; only the comparison is under test).
      const b: CompressionReport = structuredClone(a);
      b.options.rank = '8';
      b.output = { ...b.output, params: 7_114, weightBytes: 28_456, gzipBytes: 26_000 };
      b.layers = b.layers.map((l) => (l.rank === null ? l : { ...l, rank: 8, paramsAfter: l.name === 'dense_1' ? 2_688 + 256 : 3_136 }));
      b.sizes = b.sizes.map((s) => (s.variant === 'lowrank' && s.metrics ? { ...s, metrics: { ...s.metrics, accuracy: 0.95, agreement: 0.96 } } : s));
      const fileB = path.join(dir, 'b.json');
      await writeFile(fileB, JSON.stringify(b));

      const text = await runCli('report', '--compare', fixture, fileB);
      assert.equal(text.code, 0, text.stderr);
      assertPlainAndNarrow(text.stdout);
      assert.match(text.stdout, /^parameters\s+12,938\s+7,114\s+0\.55×$/m);
      assert.match(text.stdout, /^weight bytes\s+51,752\s+28,456\s+0\.55×$/m);
      assert.match(text.stdout, /^accuracy\s+97\.77%\s+95\.00%\s+−2\.77 points$/m);
      assert.match(text.stdout, /^predict, batch 32\s+0\.14 ms\s+0\.14 ms\s+1\.00×$/m);
      assert.match(text.stdout, /^dense_1\s+Dense\s+64×256\s+16\s+8\s+5,376\s+2,944$/m);
      assert.match(text.stdout, /^dense_3\s+Dense\s+128×10\s+—\s+—\s+1,290\s+1,290$/m);

      const md = await runCli('report', '--compare', fixture, fileB, '--format', 'markdown');
      assert.match(md.stdout, /^\| weight bytes \| 51,752 \| 28,456 \| 0\.55× \|$/m);
      const json = await runCli('report', '--compare', fixture, fileB, '--json');
      const cmp = JSON.parse(json.stdout) as { rows: Array<{ metric: string; a: number; b: number }> };
      assert.deepEqual(cmp.rows.find((r) => r.metric === 'gzip bytes'), { metric: 'gzip bytes', unit: 'bytes', a: 48_174, b: 26_000, higherIsBetter: false });

      const one = await runCli('report', '--compare', fixture);
      assert.equal(one.code, 2);
      assert.match(one.stderr, /--compare takes two reports/);
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe('every renderer shows the written model\'s accuracy', () => {
  it('under --quantize, text, Markdown, HTML and the gates agree on the quantized variant\'s accuracy', async () => {
    const { renderMarkdown } = await import('../../src/report/render-markdown.js');
    const { renderHtml } = await import('../../src/report/html/page.js');
    const report = ReportSchema.parse(JSON.parse(await readFile(fixture, 'utf8')));
    // The written variant (low-rank+uint8) measured 95.00%, the float fine-tuned model 97.77%.
    const quantized: CompressionReport = {
      ...report,
      options: { ...report.options, quantize: 'uint8' },
      sizes: report.sizes.map((s) => (s.variant === 'lowrank+uint8' && s.metrics ? { ...s, metrics: { ...s.metrics, accuracy: 0.95 } } : s)),
    };
    const drop = ((report.evaluation?.original.accuracy ?? 0) - 0.95) * 100;
    const gate = evaluateGates(quantized, { maxAccuracyDrop: 1 })[0];
    assert.ok(gate !== undefined && Math.abs(gate.value - drop) < 1e-9);
    const text = renderText(quantized, new Chalk({ level: 0 }));
    assert.match(text, new RegExp(`accuracy ${drop.toFixed(2)} points below the original`));
    assert.match(renderMarkdown(quantized), new RegExp(`accuracy 98\\.61% → 95\\.00%`));
    const html = renderHtml(quantized);
    assert.match(html, /98\.61% → 95\.00%/);
    assert.match(html, new RegExp(`accuracy <strong>${drop.toFixed(2)} points</strong> below`));
    assert.doesNotMatch(html, /98\.61% → 97\.78%/);
  });
});
