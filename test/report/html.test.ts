/**
 * The HTML report: structure, escaping of user-supplied names, size, and a screenshot in headless
 * Chromium (Debian's `chromium`; skipped with a message where it is not installed, CI installs it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { compress } from '../../src/compress/index.js';
import { energyKept, relativeError, svd } from '../../src/factorize/svd.js';
import { maxUsefulRank } from '../../src/factorize/plan.js';
import { downsample } from '../../src/report/html/charts.js';
import { renderHtml } from '../../src/report/html/page.js';
import { SafeHtml, html, join } from '../../src/report/html/template.js';
import { ReportSchema, type CompressionReport, type LayerReport } from '../../src/report/schema.js';
import { createRng } from '../../src/data/random.js';

const runFile = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = '/usr/bin/chromium';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-html-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Singular values of a seeded m×n matrix with a decaying spectrum (low-rank signal plus noise), as trained kernels have. */
const spectra = new Map<string, number[]>();
function spectrum(m: number, n: number, seed: number): number[] {
  const key = `${m}×${n}:${seed}`;
  const known = spectra.get(key);
  if (known !== undefined) return known;
  const rng = createRng(seed);
  const k = Math.min(m, n);
  const w = new Float64Array(m * n);
  // Σ_j g_j · u_j v_jᵀ with g_j decaying, then noise: the shape of a trained layer's spectrum.
  for (let j = 0; j < Math.min(k, 24); j++) {
    const g = 3 * Math.exp(-j / 6);
    const u = Array.from({ length: m }, () => rng.normal() / Math.sqrt(m));
    const v = Array.from({ length: n }, () => rng.normal() / Math.sqrt(n));
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) w[r * n + c] = (w[r * n + c] as number) + g * (u[r] as number) * (v[c] as number);
  }
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + 0.05 * rng.normal();
  const s = Array.from(svd(w, m, n).s);
  spectra.set(key, s);
  return s;
}

function layer(name: string, m: number, n: number, rank: number | null, s: number[]): LayerReport {
  const useful = maxUsefulRank(m, n);
  const paramsBefore = m * n + n;
  if (rank === null || rank > useful) {
    return { name, className: 'Dense', shape: [m, n], rank: null, maxUsefulRank: useful, paramsBefore, paramsAfter: paramsBefore, reason: `rank ${rank ?? '—'} saves nothing for ${m}×${n} (largest useful rank: ${useful})`, singularValues: s };
  }
  return { name, className: 'Dense', shape: [m, n], rank, maxUsefulRank: useful, paramsBefore, paramsAfter: paramsBefore - m * n + rank * (m + n), energyKept: energyKept(s, rank), relativeError: relativeError(s, rank), singularValues: s };
}

/**
 * A report as compress() writes it for the digits MLP at rank 16 (numbers from a real run), with
 * sizes, FLOPs and gates. The cast: the size variants are built with plain-string names.
 */
function digitsReport(layers: LayerReport[] = [layer('dense_1', 64, 256, 16, spectrum(64, 256, 1)), layer('dense_2', 256, 128, 16, spectrum(256, 128, 2)), layer('dense_3', 128, 10, 16, spectrum(128, 10, 3))]): CompressionReport {
  const metrics = { original: { loss: 0.0423, accuracy: 0.9861 }, factorized: { loss: 1.261, accuracy: 0.5432, agreement: 0.5404, relativeOutputError: 0.787 }, fineTuned: { loss: 0.0829, accuracy: 0.9777, agreement: 0.9805, relativeOutputError: 0.154 } };
  const base: Omit<CompressionReport, 'sizes' | 'flops' | 'gates' | 'timings'> = {
    schemaVersion: 1,
    tool: { name: 'lowrank', version: '0.1.0' },
    createdAt: '2026-11-28T20:02:12.337Z',
    backend: 'wasm',
    input: { path: '/work/fixtures/digits-mlp/model.json', params: 50826, weightBytes: 203304, gzipBytes: 187070, factorizableParams: 50826 },
    output: { path: '/work/digits-mlp-lowrank', params: 12938, weightBytes: 51752, gzipBytes: 48174, factorizableParams: 12938 },
    options: { rank: '16', epochs: 10, batchSize: 32, learningRate: 0.001, seed: 42, validationSplit: 0.2 },
    layers,
    data: { path: '/work/fixtures/digits/train.csv', samples: 1438, trainSamples: 1438, validationSamples: 359, validationPath: '/work/fixtures/digits/test.csv' },
    loss: 'sparse-categorical-crossentropy',
    evaluation: metrics,
    training: { distill: 0, temperature: 2, train: 'all', schedule: 'constant', warmupSteps: 0, bestEpoch: 1, stoppedEarly: false, epochs: [{ epoch: 1, loss: 0.33, validationLoss: 0.2, samplesPerSecond: 3075, learningRate: 0.001 }] },
    speed: [
      { batchSize: 1, runs: 15, originalMs: 0.155, outputMs: 0.106 },
      { batchSize: 32, runs: 15, originalMs: 0.195, outputMs: 0.155 },
    ],
  };
  const variant = (v: string, params: number, weightBytes: number, gzipBytes: number, accuracy: number, agreement?: number) => ({ variant: v, params, weightBytes, totalBytes: weightBytes + 2400, gzipBytes, metrics: { accuracy, ...(agreement === undefined ? {} : { agreement }) } });
  return {
    ...base,
    sizes: [
      variant('float32', 50826, 203304, 187070, 0.9861),
      variant('float16', 50826, 101652, 93210, 0.9861, 1),
      variant('uint8', 50826, 50874, 45020, 0.9833, 0.9944),
      variant('lowrank', 12938, 51752, 48174, 0.9777, 0.9805),
      variant('lowrank+float16', 12938, 25876, 23990, 0.9777, 0.9805),
    ],
    flops: { original: 101376, output: 25600, uncountedLayers: [] },
    gates: [
      { gate: 'max-accuracy-drop', limit: 1, value: 0.84, passed: true },
      { gate: 'min-size-reduction', limit: 3, value: 3.93, passed: true },
    ],
    timings: { loadMs: 109, factorizeMs: 443, evaluateMs: 79, fineTuneMs: 1739, measureMs: 300, writeMs: 0.1, totalMs: 2402 },
  } as unknown as CompressionReport;
}

/** Elements the renderer writes; any other tag in the output came from unescaped input. */
const TAGS = new Set('html head meta title style body main header section div span p h1 h2 strong small code i sub br table thead tbody tr th td dl dt dd figure figcaption svg g path line rect text tspan polyline'.split(' '));

function assertOnlyOwnTags(html: string): void {
  for (const m of html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)/g)) {
    assert.ok(TAGS.has((m[1] as string).toLowerCase()), `unexpected tag <${m[1]}> near: ${html.slice(Math.max(0, (m.index ?? 0) - 60), (m.index ?? 0) + 60)}`);
  }
  // Attribute values are quoted and cannot hold a raw quote, so dropping them leaves the attribute names.
  for (const m of html.matchAll(/<[a-zA-Z][^>]*>/g)) assert.doesNotMatch(m[0].replace(/"[^"]*"/g, '""'), /\son[a-z]+\s*=/i, `event handler attribute in ${m[0]}`);
}

function assertNoNetwork(html: string): void {
  const rest = html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '');
  assert.doesNotMatch(rest, /https?:\/\//, 'no http(s) reference other than the SVG namespace');
  assert.doesNotMatch(rest, /<script|<link|<img|<iframe|@import|url\(/i, 'no scripts, stylesheets, images or CSS urls');
}

const countOf = (html: string, needle: string): number => html.split(needle).length - 1;

describe('renderHtml', () => {
  it('shows the summary, per-layer table and one spectrum per layer, rank marked, nothing fetched', () => {
    const report = digitsReport();
    const html = renderHtml(report);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
    for (const l of report.layers) assert.ok(html.includes(`>${l.name}<`), `names layer ${l.name}`);
    assert.equal(countOf(html, '<svg class="spectrum"'), 3, 'one spectrum per layer with singular values');
    assert.equal(countOf(html, 'class="rank-marker"'), 2, 'the chosen rank marked on each factorized layer');
    assert.match(html, /42\.7%|energy kept/);
    assert.equal(countOf(html, 'class="params-chart"'), 1);
    assert.equal(countOf(html, 'class="size-chart"'), 1);
    assert.equal(countOf(html, 'class="metric-chart"'), 1);
    assert.match(html, /3\.93×<small> fewer<\/small>/, 'parameters ratio in the summary');
    assert.match(html, /98\.61% → 97\.77%/, 'accuracy before → after');
    assert.match(html, /Low rank and quantization/, 'the sizes table when the report has one');
    assert.match(html, /low-rank\+float16/, 'variants named as text and Markdown name them');
    assert.match(html, /Quality gates <span class="badge good">all passed<\/span>/);
    assert.match(html, /FLOPs per sample/);
    assertOnlyOwnTags(html);
    assertNoNetwork(html);
  });

  it('renders a report without data, gates, size variants or latency', () => {
    const { gates: _g, ...rest } = digitsReport();
    const report = ReportSchema.parse({ ...rest, evaluation: null, data: null, training: null, loss: null, sizes: [], speed: [] });
    const html = renderHtml(report);
    assert.doesNotMatch(html, /Quality gates|Low rank and quantization|Predict, batch|class="metric-chart"/);
    assert.match(html, /Accuracy not measured: no --data was given/);
    assert.equal(countOf(html, '<svg class="spectrum"'), 3);
    assertOnlyOwnTags(html);
  });

  it('highlights a failed gate', () => {
    const report = digitsReport() as unknown as Record<string, unknown>;
    report['gates'] = [{ gate: 'max-accuracy-drop', limit: 0.5, value: 0.84, passed: false }];
    const html = renderHtml(report as unknown as CompressionReport);
    assert.match(html, /<tr class="fail"><td><code>--max-accuracy-drop<\/code>/);
    assert.match(html, /<span class="badge bad">1 failed<\/span>/);
    assert.match(html, /1 of 1 quality gate\(s\) failed/, 'said in the verdict at the top, as Markdown says it');
    assert.match(html, /<td class="num">≤ 0\.5 points<\/td><td class="num"><strong>0\.84 points<\/strong>/, 'the gate worded as text and Markdown word it');
  });

  it('escapes every string from the report', () => {
    const evil = '<script>alert(1)</script>';
    const attr = '"><img src=x onerror=alert(1)>';
    const report = digitsReport([layer(evil, 64, 256, 16, spectrum(64, 256, 1)), layer(attr, 256, 128, 16, spectrum(256, 128, 2)), { ...layer("a&b'c", 128, 10, 16, spectrum(128, 10, 3)), className: '<b>Dense</b>', reason: '<i onclick=x>no</i>' }]);
    report.input.path = '/tmp/<svg onload=alert(1)>/model.json';
    report.output.path = '/tmp/"out"';
    report.options.rank = '<u>16</u>';
    report.backend = '<style>body{display:none}</style>';
    const html = renderHtml(report);
    assert.ok(!html.includes('<script'), 'no <script> tag');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the name is shown, escaped');
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'), 'attribute breakouts are escaped');
    assert.ok(html.includes('a&amp;b&#39;c'));
    assert.equal(countOf(html, '<style>'), 1, 'only the page style');
    assertOnlyOwnTags(html);
    assertNoNetwork(html);
  });

  it('stays under 200 kB for 20 layers of 1000 singular values', () => {
    const s = Array.from({ length: 1000 }, (_, i) => 10 * Math.exp(-i / 80) + 0.01 * (1 + Math.sin(i)));
    const layers = Array.from({ length: 20 }, (_, i) => layer(`block_${i}/dense`, 1000, 1200, 50 + i * 10, s));
    const html = renderHtml(digitsReport(layers));
    assert.equal(countOf(html, '<svg class="spectrum"'), 20);
    assert.equal(countOf(html, 'class="rank-marker"'), 20);
    assert.ok(html.length < 200_000, `${html.length} bytes`);
    assert.match(html, /drawn from the smallest and largest value of each of 80 equal index ranges/);
  });
});

describe('the html template', () => {
  it('escapes interpolated strings, in content and attributes, and passes safe fragments through', () => {
    const name = `<img src=x onerror="alert('1')">&`;
    const cell = html`<td title="${name}">${name}</td>`;
    assert.ok(cell instanceof SafeHtml);
    assert.equal(cell.toString(), '<td title="&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;</td>');
    assert.equal(html`<tr>${cell}</tr>`.toString(), `<tr>${cell.toString()}</tr>`, 'a fragment is not escaped twice');
  });

  it('renders arrays in order, numbers as they are, and nothing for null, undefined and false', () => {
    assert.equal(html`${[1, '<', html`<b>2</b>`]}|${null}${undefined}${false}|${0}`.toString(), '1&lt;<b>2</b>||0');
    assert.equal(join(['a&b', html`<i>c</i>`], html`<br>`).toString(), 'a&amp;b<br><i>c</i>');
  });
});

describe('downsample', () => {
  it('keeps short spectra whole', () => {
    assert.deepEqual(downsample([3, 2, 1], 160), [0, 1, 2]);
  });

  it('keeps the ends, the kept indices and every bucket extreme of long ones', () => {
    const rng = createRng(5);
    const values = Array.from({ length: 1000 }, () => rng.normal());
    const idx = downsample(values, 160, [99, 100]);
    assert.ok(idx.length <= 160 + 4, `${idx.length} points`);
    for (const i of [0, 999, 99, 100]) assert.ok(idx.includes(i), `keeps index ${i}`);
    assert.ok(idx.includes(values.indexOf(Math.max(...values))) && idx.includes(values.indexOf(Math.min(...values))), 'keeps the extremes');
    assert.deepEqual(idx, [...idx].sort((a, b) => a - b), 'in index order');
  });
});

describe('HTML report of a real run', () => {
  it("renders compress()'s report for the digits MLP", async () => {
    const out = path.join(tmp, 'digits');
    const { report } = await compress({ model: path.join(root, 'fixtures/digits-mlp/model.json'), rank: '16', data: path.join(root, 'fixtures/digits/train.csv'), epochs: 1, out });
    assert.ok(report !== null);
    const html = renderHtml(report);
    await writeFile(path.join(out, 'report.html'), html);
    const withSpectrum = report.layers.filter((l) => l.singularValues.length > 0);
    assert.ok(withSpectrum.some((l) => l.rank !== null));
    for (const l of report.layers) assert.ok(html.includes(l.name), `names layer ${l.name}`);
    assert.equal(countOf(html, '<svg class="spectrum"'), withSpectrum.length);
    assert.equal(countOf(html, 'class="rank-marker"'), withSpectrum.filter((l) => l.rank !== null).length);
    assertOnlyOwnTags(html);
    assertNoNetwork(html);
  });
});

describe('HTML report in headless Chromium', () => {
  it('renders to a non-blank 1200×1600 screenshot', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip('chromium not installed: apt-get install chromium');
      return;
    }
    const html = path.join(tmp, 'report.html');
    const png = path.join(tmp, 'report.png');
    await writeFile(html, renderHtml(digitsReport()));
    const profile = await mkdtemp(path.join(os.tmpdir(), 'lowrank-chromium-'));
    try {
      // Without the background-networking flags Chromium dials out at start, which a closed network refuses.
      await runFile(
        CHROMIUM,
        ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `--screenshot=${png}`, '--window-size=1200,1600', `file://${html}`],
        { timeout: 60_000 },
      );
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
    const bytes = await readFile(png);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(bytes.toString('ascii', 12, 16), 'IHDR');
    assert.equal(bytes.readUInt32BE(16), 1200, 'width');
    assert.equal(bytes.readUInt32BE(20), 1600, 'height');

    const stats = await sharp(bytes).stats();
    const stdev = Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev));
    assert.ok(stdev > 20, `pixel standard deviation ${stdev.toFixed(1)}`);
    const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += info.channels * 7) colours.add(((data[i] as number) << 16) | ((data[i + 1] as number) << 8) | (data[i + 2] as number));
    assert.ok(colours.size >= 16, `${colours.size} distinct colours`);
    t.diagnostic(`screenshot ${(await stat(png)).size} bytes, stdev ${stdev.toFixed(1)}, ${colours.size} colours`);
    // LOWRANK_SCREENSHOT=shot.png keeps a copy to look at, and the page beside it as shot.html.
    const keep = process.env['LOWRANK_SCREENSHOT'];
    if (keep !== undefined && keep !== '') {
      await copyFile(png, keep);
      await copyFile(html, keep.replace(/\.png$/i, '') + '.html');
    }
  });
});
