/**
 * The report as GitHub-flavoured Markdown, ready to append to a CI job summary
 * (`>> "$GITHUB_STEP_SUMMARY"`): a headline, the quality gates (a failed one in a red CAUTION box and
 * marked FAIL), then per-layer, size, accuracy and speed tables. Every number and phrase comes from the
 * report's view (view.ts); this file only lays it out.
 */
import { capitalize } from './format.js';
import type { CompressionReport } from './schema.js';
import { reportView, type Measure, type ReportView } from './view.js';

/** Text safe inside a table cell: pipes escaped, newlines flattened. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Inline code, safe inside a table cell. */
export function code(text: string): string {
  return `\`${cell(text.replace(/`/g, "'"))}\``;
}

/** A GitHub table; `align` is 'l' or 'r' per column. */
export function mdTable(head: string[], rows: string[][], align: string): string[] {
  const rule = head.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [head, rule, ...rows].map((r) => `| ${r.join(' | ')} |`);
}

export function renderMarkdown(report: CompressionReport, cwd = process.cwd()): string {
  const v = reportView(report, cwd);
  const lines = [`## lowrank: ${code(v.header.input.shown)} → ${code(v.header.output.shown)}`, ''];
  const gates = v.gates;
  if (gates !== null && !gates.passed) {
    const failed = gates.rows.filter((g) => !g.passed).map((g) => g.sentence);
    lines.push('> [!CAUTION]', `> **${capitalize(gates.verdict)}:** ${failed.join('; ')}`, '');
  }
  lines.push(headline(v), '');
  if (gates !== null) {
    const rows = gates.rows.map((g) => (g.passed ? ['✅ PASS', g.label, g.value, cell(g.limit)] : ['❌ **FAIL**', `**${g.label}**`, `**${g.value}**`, `**${cell(g.limit)}**`]));
    lines.push('### Quality gates', '', ...mdTable(['result', 'gate', 'value', 'limit'], rows, 'llrr'), '');
  }
  lines.push(...layersSection(v), ...sizesSection(v), ...accuracySection(v), ...speedSection(v));
  const t = v.training;
  const trained = t !== null ? ` · fine-tuned ${t.epochsText} in ${t.time}` : '';
  const h = v.header;
  lines.push(`<sub>${h.tool} ${cell(h.version)} · backend ${cell(h.backend)} · rank ${cell(h.rank)}${h.quantize !== null ? ` · quantized ${h.quantize}` : ''}${trained} · total ${v.timings.total}</sub>`);
  return lines.join('\n') + '\n';
}

function layersSection(v: ReportView): string[] {
  // Predicted and measured output errors on the calibration inputs, when any layer was whitened.
  const outputErrors = v.layers.some((l) => l.outputError !== null);
  const extra = (cells: [string, string]): string[] => (outputErrors ? cells : []);
  const rows = v.layers.map((l) => [code(l.name), cell(l.className), l.shape, l.rank, l.paramsBefore, l.factorized ? `**${l.paramsAfter}**` : l.paramsAfter, l.energyKept, l.error, ...extra([l.outputError?.predicted ?? '', l.outputError?.measured ?? ''])]);
  const head = ['layer', 'class', 'shape', 'rank', 'params before', 'params after', 'energy kept', 'rel. error', ...extra(['output error predicted', 'measured'])];
  const lines = ['### Layers', '', ...mdTable(head, rows, outputErrors ? 'lllrrrrrrr' : 'lllrrrrr'), ''];
  if (v.budget !== null) lines.push(`--ratio: ${v.budget.text}.`, '');
  const kept = v.layers.filter((l) => l.keptReason !== null);
  for (const l of kept) lines.push(`- ${code(l.name)} kept: ${cell(l.keptReason ?? '')}`);
  if (kept.length > 0) lines.push('');
  return lines;
}

function sizesSection(v: ReportView): string[] {
  const { columns, rows, evaluatedOn } = v.sizes;
  if (rows.length === 0) return [];
  const body = rows.map((s) => [s.written ? `**${s.label}** (written)` : s.label, s.params, s.weightText, s.totalText, s.gzipText, s.smaller, ...s.cells]);
  const how = v.sizes.bytesOnly ? 'written in memory, bytes only (the model cannot run without its layer classes, so nothing was reloaded)' : evaluatedOn === null ? 'written and reloaded by tfjs (no --data: nothing evaluated)' : `written, reloaded by tfjs and evaluated on the same ${evaluatedOn} held-out samples`;
  return [
    '### Size',
    '',
    ...mdTable(['stored as', 'params', 'weight bytes', 'on disk', 'gzip bytes', 'smaller', ...columns.map((k) => k.label)], body, 'lrrrrrrr'),
    '',
    `float32, float16, uint8: the original with its float weights stored that way (uint8: affine per tensor, as tfjs-converter writes it). Each row was ${how}; *smaller* is input weight bytes / row weight bytes; *on disk* adds model.json.`,
    '',
  ];
}

function accuracySection(v: ReportView): string[] {
  if (v.notMeasured !== null) return ['### Accuracy', '', v.notMeasured.sentence, ''];
  const ev = v.evaluation;
  if (ev === null) return [];
  const table = mdTable(['', ...ev.stages.map((s) => s.name)], ev.rows.map((r) => [r.label, ...r.cells]), 'lrrr');
  const where = ev.heldOut ? ` held out from ${code(ev.source)}` : ` of ${code(ev.source)}`;
  const a = v.accuracy;
  const drop = a === null ? '' : ` The output's accuracy is ${a.amount} ${a.relation} the original's.`;
  return ['### Accuracy', '', ...table, '', `On ${ev.samples} samples${where}${ev.loss !== null ? `, loss ${ev.loss}` : ''}.${drop}`, ''];
}

function speedSection(v: ReportView): string[] {
  const ratio = (m: Measure): string => m.ratio?.text ?? '';
  const rows = [v.flops.perSample, ...v.speed].filter((m): m is Measure => m !== null).map((m) => [m.label, m.original, m.output, ratio(m)]);
  const notes = ['FLOPs: 2 per multiply-add of matrix products and convolutions'];
  if (v.flops.uncounted.length > 0) notes.push(`not counted: ${v.flops.uncounted.map((u) => `${code(u.name)} (${cell(u.why)})`).join(', ')}`);
  if (v.minRuns !== null) notes.push(`latency: median of at least ${v.minRuns} warm predict calls on the ${v.header.backend} backend`);
  if (v.speedNotMeasured !== null) notes.push(v.speedNotMeasured);
  return ['### Speed', '', ...mdTable(['', 'original', 'output', ''], rows, 'lrrl'), '', `${notes.join('; ')}.`, ''];
}

/** "**3.93× smaller** (203,304 → 51,752 weight bytes) · accuracy 98.61% → 97.77% · 4.02× fewer FLOPs". */
function headline(v: ReportView): string {
  const bytes = v.size.weightBytes;
  const parts = [`**${bytes.ratio?.text ?? '—'}** (${bytes.original} → ${bytes.output} weight bytes)`];
  if (v.accuracy !== null) parts.push(`accuracy ${v.accuracy.originalText} → ${v.accuracy.outputText}`);
  if (v.flops.perSample?.ratio) parts.push(`${v.flops.perSample.ratio.text} FLOPs`);
  const largest = v.largestBatch;
  if (largest?.ratio) parts.push(`${largest.ratio.text} at batch ${largest.batchSize}`);
  return parts.join(' · ');
}
