/**
 * The report as one self-contained HTML page for a reviewer: a summary (smaller, faster, accuracy),
 * charts (charts.ts) and the per-layer table. Nothing is fetched: no scripts, fonts, stylesheets or
 * images, and a Content-Security-Policy that forbids them should one slip in. Every number and phrase
 * comes from the report's view (view.ts), formatted as text and Markdown format it; every string is
 * escaped by the `html` template.
 */
import { capitalize, metric } from '../format.js';
import type { CompressionReport } from '../schema.js';
import { reportView, type GatesView, type Measure, type MetricRow, type ReportView } from '../view.js';
import { PARAM_BAR_LAYERS, SPECTRUM_POINTS, metricChart, paramsChart, relativeChart, sizesChart, spectrumChart } from './charts.js';
import { CSS } from './style.js';
import { SafeHtml, html, join, type Fragment } from './template.js';

/** Render a compression report as one self-contained HTML document; paths are shown relative to `cwd`. */
export function renderHtml(report: CompressionReport, cwd: string = process.cwd()): string {
  const v = reportView(report, cwd);
  const title = `lowrank: ${v.header.input.shown} → ${v.header.output.shown}`;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${title}</title>
<style>${SafeHtml.trusted(CSS)}</style>
</head>
<body>
<main>
${header(v)}
<section class="cards">${cards(v)}</section>
${v.gates !== null && gatesSection(v.gates)}
${chartsSection(v)}
${sizesSection(v)}
${spectraSection(v)}
${layersSection(v)}
${evaluationSection(v)}
${runSection(v)}
</main>
</body>
</html>
`;
  return page.toString();
}

/** Title, options in brief, and the verdict in one sentence. */
function header(v: ReportView): SafeHtml {
  const h = v.header;
  const verdict: Fragment[] = [];
  const params = v.size.params.ratio;
  if (params !== null) verdict.push(html`<strong>${params.text}</strong> parameters`);
  const gzip = v.size.gzipBytes.ratio;
  if (gzip !== null) verdict.push(html`<strong>${gzip.text}</strong> download`);
  const speed = v.largestBatch;
  if (speed?.ratio) verdict.push(html`<strong>${speed.ratio.text}</strong> at batch ${speed.batchSize}`);
  const a = v.accuracy;
  if (a !== null) verdict.push(html`accuracy <strong>${a.amount}</strong> ${a.relation} the original`);
  const g = v.gates;
  if (g !== null) verdict.push(g.passed ? html`<span class="good">${g.verdict}</span>` : html`<span class="bad"><strong>${g.verdict}</strong></span>`);
  return html`<header><div class="eyebrow">lowrank report · rank ${h.rank}${h.quantize !== null && ` + ${h.quantize}`} · ${h.backend}</div><h1>${h.input.shown} <span class="arrow">→</span> ${h.output.shown}</h1><p class="verdict">${verdict.length > 0 && html`${join(verdict, ', ')}.`} <span class="muted">${v.factorizedLayers} of ${v.layers.length} layers factorized.</span></p></header>`;
}

interface Card {
  label: string;
  value: Fragment;
  detail: Fragment;
  tone: 'good' | 'bad' | 'warn' | '';
  /** After as a share of before, drawn as a thin meter; null for none. */
  share: number | null;
}

function card(c: Card): SafeHtml {
  const width = c.share === null ? 0 : Math.round(Math.min(100, Math.max(0, c.share * 100)) * 10) / 10;
  const meter = c.share !== null && html`<div class="meter" title="after as a share of before"><div style="width:${width}%"></div></div>`;
  return html`<div class="card"><div class="card-label">${c.label}</div><div class="card-value ${c.tone}">${c.value}</div><div class="card-detail">${c.detail}</div>${meter}</div>`;
}

function measureCard(m: Measure, worse: 'bad' | 'warn', detail: Fragment = `${m.original} → ${m.output}`): Card {
  const r = m.ratio;
  return { label: capitalize(m.label), value: r === null ? '—' : html`${r.times}<small> ${r.word}</small>`, detail, tone: r === null ? '' : r.better ? 'good' : worse, share: m.before > 0 ? m.share : null };
}

/** Summary cards: each size measure, each latency, then accuracy (or the regression error) of the output. */
function cards(v: ReportView): SafeHtml[] {
  const list: Card[] = [v.size.params, v.size.weightBytes, v.size.gzipBytes, v.flops.perSample].filter((m): m is Measure => m !== null).map((m) => measureCard(m, 'bad'));
  for (const s of v.speed) {
    const detail = s.notMeasured === null ? html`${s.original} → ${s.output} <span class="muted">(median of ${s.runs})</span>` : html`${s.output} <span class="muted">(median of ${s.runs}); ${s.notMeasured}</span>`;
    list.push(measureCard(s, 'warn', detail));
  }
  const out = v.output;
  const original = v.evaluation?.stages[0]?.metrics;
  if (out !== null && original !== undefined) {
    const agrees = out.agreement !== undefined ? `agrees with original on ${metric('agreement', out.agreement)}` : null;
    if (v.accuracy !== null) {
      const a = v.accuracy;
      list.push({ label: 'Accuracy', value: html`${a.signed}<small> points</small>`, detail: html`${a.originalText} → ${a.outputText}${agrees !== null && html`<br>${agrees}`}`, tone: a.tone, share: null });
    } else if (original.mse !== undefined && out.mse !== undefined) {
      list.push({ label: 'Mean squared error', value: metric('mse', out.mse), detail: `original ${metric('mse', original.mse)}`, tone: '', share: null });
    }
    if (v.accuracy === null && out.agreement !== undefined) {
      list.push({ label: 'Agrees with original', value: metric('agreement', out.agreement), detail: 'same predicted class, per sample', tone: out.agreement >= 0.98 ? 'good' : out.agreement >= 0.9 ? 'warn' : 'bad', share: null });
    } else if (out.agreement === undefined && out.relativeOutputError !== undefined) {
      list.push({ label: 'Output error', value: metric('relativeOutputError', out.relativeOutputError), detail: 'relative to the original outputs', tone: '', share: null });
    }
  }
  return list.map(card);
}

function gatesSection(g: GatesView): SafeHtml {
  const rows = g.rows.map(
    (r) => html`<tr${!r.passed && html` class="fail"`}><td><code>${r.flag}</code></td><td>${r.label}</td><td class="num">${r.limit}</td><td class="num"><strong>${r.value}</strong></td><td>${r.passed ? html`<span class="good">✓ pass</span>` : html`<span class="bad">✗ fail</span>`}</td></tr>`,
  );
  const badge = g.passed ? html`<span class="badge good">all passed</span>` : html`<span class="badge bad">${g.failed} failed</span>`;
  return html`<section class="gates"><h2>Quality gates ${badge}</h2><table><thead><tr><th>gate</th><th>measures</th><th class="num">limit</th><th class="num">value</th><th>result</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/** The metric the stage chart draws: accuracy, else mean squared error, else loss. */
function mainMetric(v: ReportView): MetricRow | undefined {
  const rows = v.evaluation?.rows ?? [];
  return ['accuracy', 'mse', 'loss'].map((key) => rows.find((r) => r.key === key)).find((r) => r !== undefined);
}

function chartsSection(v: ReportView): SafeHtml {
  // A latency without the original's has no share to draw.
  const measures = [v.size.params, v.size.weightBytes, v.size.gzipBytes, v.flops.perSample, ...v.speed.filter((s) => s.notMeasured === null)].filter((m): m is Measure => m !== null);
  const uncounted = v.flops.uncounted;
  const note = [
    uncounted.length > 0 && html`<p class="muted small">FLOPs leave out ${uncounted.length} layer${uncounted.length === 1 ? '' : 's'}: ${join(uncounted.map((u) => `${u.name} (${u.why})`), '; ')}.</p>`,
    v.speedNotMeasured !== null && html`<p class="muted small">${capitalize(v.speedNotMeasured)}.</p>`,
  ];
  const main = mainMetric(v);
  const ev = v.evaluation;
  const metricSvg = main === undefined || ev === null ? null : metricChart(ev.stages.map((s) => s.name), main);
  const metricPanel = metricSvg !== null && html`<div class="panel"><h2>${capitalize(main?.label ?? '')}</h2><p class="muted small">on ${ev?.samples} held-out samples</p>${metricSvg}</div>`;
  let layers = v.layers;
  let shownNote: Fragment = null;
  if (layers.length > PARAM_BAR_LAYERS) {
    const largest = new Set([...layers].sort((a, b) => b.layer.paramsBefore - a.layer.paramsBefore).slice(0, PARAM_BAR_LAYERS));
    layers = layers.filter((l) => largest.has(l));
    shownNote = html`<p class="muted small">The ${PARAM_BAR_LAYERS} largest of ${v.layers.length} layers.</p>`;
  }
  const legend = html`<div class="legend small"><span class="key key-before"></span>original <span class="key key-after"></span>low rank</div>`;
  return html`<section class="charts"><div class="panel"><h2>Size and speed</h2>${legend}${relativeChart(measures)}${note}</div>${metricPanel}<div class="panel wide"><h2>Parameters per layer</h2><div class="legend small"><span class="key key-before"></span>before <span class="key key-after"></span>after factorization <span class="key key-kept"></span>kept as is</div>${paramsChart(layers)}${shownNote}</div></section>`;
}

/** Bars of weight bytes per variant, then the measured table: low rank beside quantization. */
function sizesSection(v: ReportView): SafeHtml | null {
  const { columns, rows, evaluatedOn } = v.sizes;
  if (rows.length === 0) return null;
  const head = html`<tr><th>stored as</th><th class="num">params</th><th class="num">weight bytes</th><th class="num">on disk</th><th class="num">gzip bytes</th><th class="num">smaller</th>${columns.map((c) => html`<th class="num">${c.label}</th>`)}</tr>`;
  const body = rows.map(
    (r) =>
      html`<tr${r.written && html` class="written"`}><td>${r.label}${r.written && ' (written)'}</td><td class="num">${r.params}</td><td class="num">${r.weightText}</td><td class="num">${r.totalText}</td><td class="num">${r.gzipText}</td><td class="num">${r.smaller}</td>${r.cells.map((c) => html`<td class="num">${c}</td>`)}</tr>`,
  );
  const how = v.sizes.bytesOnly ? 'written in memory, bytes only (the model cannot run without its layer classes, so nothing was reloaded)' : evaluatedOn === null ? 'written and reloaded (no --data: nothing evaluated)' : `written, reloaded and evaluated on the same ${evaluatedOn} held-out samples`;
  return html`<section><h2>Low rank and quantization, measured</h2><div class="legend small"><span class="key key-before"></span>original <span class="key key-quant"></span>quantized <span class="key key-after"></span>low rank</div>${sizesChart(rows)}<div class="scroll"><table class="sizes"><thead>${head}</thead><tbody>${body}</tbody></table></div><p class="muted small">Bytes of the weight shards; <i>smaller</i> is input weight bytes / row weight bytes; <i>on disk</i> adds model.json. Each row ${how}.</p></section>`;
}

function spectraSection(v: ReportView): SafeHtml | null {
  const withSpectrum = v.layers.filter((l) => l.layer.singularValues.length > 0);
  if (withSpectrum.length === 0) return null;
  const maxPoints = withSpectrum.length > 40 ? SPECTRUM_POINTS / 2 : SPECTRUM_POINTS;
  const longest = Math.max(...withSpectrum.map((l) => l.layer.singularValues.length));
  const figures = withSpectrum.map((l) => {
    const meta = l.factorized
      ? html`rank <strong>${l.rank}</strong> of ${Math.min(...l.layer.shape)} · ${l.energyKept} energy kept · error ${l.error}`
      : html`<span class="tag">kept</span> ${l.keptReason ?? 'not factorized'}`;
    const partial = l.layer.singularValuesComplete === false && html`<br><span class="muted small">top ${l.layer.singularValues.length} of ${Math.min(...l.layer.shape)} singular values (randomized SVD)</span>`;
    return html`<figure class="${l.factorized ? 'spectrum-fig' : 'spectrum-fig unfactorized'}"><figcaption><span class="lname" title="${l.name}">${l.name}</span> <span class="muted">${l.className} ${l.shape}</span><br><span class="muted small">${meta}</span>${partial}</figcaption>${spectrumChart(l, maxPoints)}</figure>`;
  });
  const sampled = longest > maxPoints && ` Spectra longer than ${maxPoints} values are drawn from the smallest and largest value of each of ${maxPoints / 2} equal index ranges, plus the values at the chosen rank.`;
  return html`<section><h2>Singular value spectra</h2><p class="muted small">Each factorized kernel's singular values σ on a log scale. <span class="key key-after"></span> kept (first <i>r</i>), <span class="key key-dropped"></span> dropped; the <span class="key key-rank"></span> line marks the chosen rank <i>r</i>, the shaded area the kept energy Σσ²; <span class="key key-breakeven"></span> break-even rank (a larger rank saves nothing).${sampled}</p><div class="spectra">${figures}</div></section>`;
}

function layersSection(v: ReportView): SafeHtml {
  // Predicted and measured output errors on the calibration inputs, when any layer was whitened.
  const outputErrors = v.layers.some((l) => l.outputError !== null);
  const rows = v.layers.map(
    (l) =>
      html`<tr${!l.factorized && html` class="unfactorized"`}><td class="lname" title="${l.name}">${l.name}</td><td>${l.className}</td><td class="num">${l.shape}</td><td class="num">${l.factorized ? html`<strong>${l.rank}</strong>` : l.rank}</td><td class="num muted">${l.maxUsefulRank}</td><td class="num">${l.paramsBefore}</td><td class="num">${l.paramsAfter}</td><td class="num good">${l.change}</td><td class="num">${l.energyKept}</td><td class="num">${l.error}</td>${outputErrors && html`<td class="num">${l.outputError?.predicted ?? ''}</td><td class="num">${l.outputError?.measured ?? ''}</td>`}<td class="muted small">${!l.factorized && (l.keptReason ?? 'kept')}</td></tr>`,
  );
  const p = v.size.params;
  const total = html`<tr class="total"><td>total</td><td></td><td></td><td></td><td></td><td class="num">${p.original}</td><td class="num">${p.output}</td><td class="num good">${p.change}</td><td colspan="${outputErrors ? 5 : 3}" class="muted small">all parameters, factorizable or not</td></tr>`;
  const n = v.layers.length;
  return html`<section><h2>Layers</h2><p class="muted small">${v.factorizedLayers} of ${n} layer${n === 1 ? '' : 's'} factorized. Break-even: the largest rank that still saves parameters. Error: ‖W − W<sub>r</sub>‖<sub>F</sub> / ‖W‖<sub>F</sub>.${outputErrors && html` Output error: ‖X(W − W<sub>r</sub>)‖<sub>F</sub> / ‖XW‖<sub>F</sub> on the calibration inputs X, as the whitened spectrum predicted it and as measured after factorization.`}${v.budget !== null && html` <strong>--ratio: ${v.budget.text}.</strong>`}</p><div class="scroll"><table class="layers"><thead><tr><th>layer</th><th>class</th><th class="num">kernel</th><th class="num">rank</th><th class="num">break-even</th><th class="num">params before</th><th class="num">after</th><th class="num">change</th><th class="num">energy kept</th><th class="num">error</th>${outputErrors && html`<th class="num">output error predicted</th><th class="num">measured</th>`}<th>note</th></tr></thead><tbody>${rows}${total}</tbody></table></div></section>`;
}

function evaluationSection(v: ReportView): SafeHtml | null {
  if (v.notMeasured !== null) return html`<section><h2>Evaluation</h2><p class="muted">${v.notMeasured.sentence}</p></section>`;
  const ev = v.evaluation;
  if (ev === null) return null;
  const where = ev.heldOut ? html`held out from <code>${ev.source}</code>` : html`of <code>${ev.source}</code>`;
  const head = html`<tr><th></th>${ev.stages.map((s) => html`<th class="num">${s.name}</th>`)}</tr>`;
  const rows = ev.rows.map((r) => html`<tr><th>${r.label}</th>${r.cells.map((c) => html`<td class="num">${c}</td>`)}</tr>`);
  const t = v.training;
  const trained = t !== null && html`<p class="muted small">${capitalize(t.sentence)} (${t.weights}, ${t.schedule}).</p>`;
  return html`<section><h2>Evaluation</h2><p class="muted small">All models on the same ${ev.samples} samples ${where}${ev.loss !== null && `, loss ${ev.loss}`}.</p><table class="eval"><thead>${head}</thead><tbody>${rows}</tbody></table>${trained}</section>`;
}

function runSection(v: ReportView): SafeHtml {
  const { header: h, options: o, data: d } = v;
  const data = d !== null && html`<dt>data</dt><dd><code>${d.path.full}</code> · ${d.samples} samples, ${d.trainSamples} for training</dd>`;
  const options = html`rank <code>${h.rank}</code>${o.layers !== null && html` · layers <code>${o.layers}</code>`} · ${o.epochs} · batch ${o.batchSize} · learning rate ${o.learningRate} · seed ${o.seed}${h.quantize !== null && html` · quantize <code>${h.quantize}</code>`}`;
  const timings = join([...v.timings.stages.map((s) => `${s.label} ${s.text}`), `total ${v.timings.total}`], ' · ');
  return html`<section class="run"><h2>Run</h2><dl><dt>input</dt><dd><code>${h.input.full}</code></dd><dt>output</dt><dd><code>${h.output.full}</code></dd>${data}<dt>options</dt><dd>${options}</dd><dt>timings</dt><dd>${timings}</dd><dt>tool</dt><dd>${h.tool} ${h.version} · backend ${h.backend} · report schema v${h.schemaVersion} · ${h.createdAt}</dd></dl></section>`;
}
