/**
 * The report as GitHub-flavoured Markdown, ready to append to a CI job summary
 * (`>> "$GITHUB_STEP_SUMMARY"`): a headline, the quality gates (a failed one in a red CAUTION box and
 * marked FAIL), then per-layer, size, accuracy and speed tables.
 */
import type { CompressionReport, GateResult, MetricsReport } from './schema.js';
import { NOT_MEASURED_NO_DATA, accuracyDrop, bytes, capitalize, compact, int, metricCell, ms, num, pct, sizeMetricColumns, sizeRows, times, variantLabel } from './format.js';
import { describeGate, outputMetrics } from './gates.js';
import { shortPath } from './render-text.js';

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
  const lines: string[] = [];
  const { input, output } = report;
  lines.push(`## lowrank: ${code(shortPath(input.path, cwd))} → ${code(shortPath(output.path, cwd))}`, '');

  const gates = report.gates ?? [];
  const failed = gates.filter((g) => !g.passed);
  if (failed.length > 0) {
    lines.push('> [!CAUTION]', `> **${failed.length} of ${gates.length} quality gate(s) failed:** ${failed.map((g) => gateSentence(g)).join('; ')}`, '');
  }
  lines.push(headline(report), '');

  if (gates.length > 0) {
    lines.push('### Quality gates', '');
    const rows = gates.map((g) => {
      const d = describeGate(g);
      return g.passed ? ['✅ PASS', d.label, d.value, cell(d.limit)] : ['❌ **FAIL**', `**${d.label}**`, `**${d.value}**`, `**${cell(d.limit)}**`];
    });
    lines.push(...mdTable(['result', 'gate', 'value', 'limit'], rows, 'llrr'), '');
  }

  lines.push('### Layers', '');
  const layerRows = report.layers.map((l) => {
    const factored = l.rank !== null;
    return [
      code(l.name),
      cell(l.className),
      `${l.shape[0]}×${l.shape[1]}`,
      factored ? String(l.rank) : '—',
      int(l.paramsBefore),
      factored ? `**${int(l.paramsAfter)}**` : int(l.paramsAfter),
      factored ? pct(l.energyKept) : '',
      factored ? num(l.relativeError, 3) : '',
    ];
  });
  lines.push(...mdTable(['layer', 'class', 'shape', 'rank', 'params before', 'params after', 'energy kept', 'rel. error'], layerRows, 'lllrrrrr'), '');
  const kept = report.layers.filter((l) => l.rank === null && l.reason !== undefined);
  for (const l of kept) lines.push(`- ${code(l.name)} kept: ${cell(l.reason ?? '')}`);
  if (kept.length > 0) lines.push('');

  if (report.sizes.length > 0) {
    lines.push('### Size', '');
    const cols = sizeMetricColumns(report);
    const heads: Record<(typeof cols)[number], string> = { accuracy: 'accuracy', agreement: 'agrees with original', relativeOutputError: 'output rel. error' };
    const rows = sizeRows(report).map((s) => {
      const label = variantLabel(s.variant);
      return [
        s.written ? `**${label}** (written)` : label,
        compact(s.params),
        bytes(s.weightBytes),
        bytes(s.totalBytes),
        bytes(s.gzipBytes),
        s.weightBytes === 0 ? '' : times(input.weightBytes / s.weightBytes),
        ...cols.map((k) => metricCell(s.metrics, k)),
      ];
    });
    lines.push(...mdTable(['stored as', 'params', 'weight bytes', 'on disk', 'gzip bytes', 'smaller', ...cols.map((k) => heads[k])], rows, 'lrrrrrrr'), '');
    const how = report.data === null ? 'written and reloaded by tfjs (no --data: nothing evaluated)' : `written, reloaded by tfjs and evaluated on the same ${int(report.data.validationSamples)} held-out samples`;
    lines.push(
      `float32, float16, uint8: the original with its float weights stored that way (uint8: affine per tensor, as tfjs-converter writes it). Each row was ${how}; *smaller* is input weight bytes / row weight bytes; *on disk* adds model.json.`,
      '',
    );
  }

  const ev = report.evaluation;
  if (ev === null) lines.push('### Accuracy', '', `${capitalize(NOT_MEASURED_NO_DATA)}.`, '');
  if (ev !== null && report.data !== null) {
    lines.push('### Accuracy', '');
    const stages: Array<[string, MetricsReport | null]> = [
      ['original', ev.original],
      ['factorized', ev.factorized],
      ['fine-tuned', ev.fineTuned],
    ];
    const shown = stages.filter(([, m]) => m !== null) as Array<[string, MetricsReport]>;
    const rows: string[][] = [];
    const add = (label: string, value: (name: string, m: MetricsReport) => string, when: (m: MetricsReport) => boolean): void => {
      if (shown.some(([, m]) => when(m))) rows.push([label, ...shown.map(([n, m]) => value(n, m))]);
    };
    add('accuracy', (_, m) => pct(m.accuracy, 2), (m) => m.accuracy !== undefined);
    add('loss', (_, m) => num(m.loss), (m) => m.loss !== undefined);
    add('mean squared error', (_, m) => num(m.mse), (m) => m.mse !== undefined);
    add('mean absolute error', (_, m) => num(m.mae), (m) => m.mae !== undefined);
    add('agrees with original', (n, m) => (n === 'original' ? '' : pct(m.agreement, 2)), (m) => m.agreement !== undefined);
    add('output rel. error', (n, m) => (n === 'original' ? '' : num(m.relativeOutputError, 3)), () => true);
    lines.push(...mdTable(['', ...shown.map(([n]) => n)], rows, 'lrrr'), '');
    const where = report.data.validationPath !== undefined ? code(shortPath(report.data.validationPath, cwd)) : `held out from ${code(shortPath(report.data.path, cwd))}`;
    const drop = accuracyDrop(report);
    const dropText = drop === undefined ? '' : ` The output's accuracy is ${drop > 0 ? `${drop.toFixed(2)} points below` : `${(-drop).toFixed(2)} points at or above`} the original's.`;
    lines.push(`On ${int(report.data.validationSamples)} samples of ${where}${report.loss !== null ? `, loss ${report.loss}` : ''}.${dropText}`, '');
  }

  lines.push('### Speed', '');
  const speedRows = [['FLOPs per sample', compact(report.flops.original), compact(report.flops.output), ratioText(report.flops.original, report.flops.output, 'fewer', 'more')]];
  for (const s of report.speed) speedRows.push([`predict, batch ${s.batchSize}`, ms(s.originalMs), ms(s.outputMs), ratioText(s.originalMs, s.outputMs, 'faster', 'slower')]);
  lines.push(...mdTable(['', 'original', 'output', ''], speedRows, 'lrrl'), '');
  const notes = ['FLOPs: 2 per multiply-add of matrix products and convolutions'];
  if (report.flops.uncountedLayers.length > 0) notes.push(`not counted: ${report.flops.uncountedLayers.map((u) => `${code(u.name)} (${cell(u.className)}: ${cell(u.reason)})`).join(', ')}`);
  if (report.speed.length > 0) notes.push(`latency: median of at least ${Math.min(...report.speed.map((s) => s.runs))} warm predict calls on the ${report.backend} backend`);
  lines.push(`${notes.join('; ')}.`, '');

  const t = report.training;
  const trained = t !== null && t.epochs.length > 0 ? ` · fine-tuned ${t.epochs.length} epoch(s) in ${(report.timings.fineTuneMs / 1000).toFixed(1)} s` : '';
  lines.push(`<sub>lowrank ${cell(report.tool.version)} · backend ${cell(report.backend)} · rank ${cell(report.options.rank)}${report.options.quantize ? ` · quantized ${report.options.quantize}` : ''}${trained} · total ${(report.timings.totalMs / 1000).toFixed(1)} s</sub>`);
  return lines.join('\n') + '\n';
}

/** "**3.93× smaller** (203,304 → 51,752 weight bytes) · accuracy 98.61% → 97.77% · 4.02× fewer FLOPs". */
function headline(report: CompressionReport): string {
  const { input, output } = report;
  const parts = [`**${times(input.weightBytes / output.weightBytes)} smaller** (${bytes(input.weightBytes)} → ${bytes(output.weightBytes)} weight bytes)`];
  const before = report.evaluation?.original.accuracy;
  const after = outputMetrics(report)?.accuracy;
  if (before !== undefined && after !== undefined) parts.push(`accuracy ${pct(before, 2)} → ${pct(after, 2)}`);
  if (report.flops.output > 0) parts.push(`${times(report.flops.original / report.flops.output)} fewer FLOPs`);
  const largest = report.speed[report.speed.length - 1];
  if (largest !== undefined && largest.outputMs > 0) parts.push(`${ratioText(largest.originalMs, largest.outputMs, 'faster', 'slower')} at batch ${largest.batchSize}`);
  return parts.join(' · ');
}

function ratioText(before: number, after: number, better: string, worse: string): string {
  if (before <= 0 || after <= 0) return '';
  return after <= before ? `${(before / after).toFixed(2)}× ${better}` : `${(after / before).toFixed(2)}× ${worse}`;
}

function gateSentence(g: GateResult): string {
  const d = describeGate(g);
  return `${d.label} ${d.value} (limit ${d.limit})`;
}
