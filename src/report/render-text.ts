/**
 * The report as a person reads it in a terminal or a CI log: a per-layer table, then size, speed and
 * accuracy before and after. Fits 80 columns; colour only where the caller's chalk has it.
 */
import type { ChalkInstance } from 'chalk';
import path from 'node:path';
import type { CompressionReport, GateResult, MetricsReport } from './schema.js';
import { NOT_MEASURED_NO_DATA, accuracyDrop, accuracyDropText, bytes, compact, int, metricCell, ms, num, pct, sizeMetricColumns, sizeRows, times, variantLabel } from './format.js';
import { describeGate } from './gates.js';

/** Pad cells into aligned columns; `align` is 'l' or 'r' per column. */
export function table(rows: string[][], align: string): string[] {
  const visible = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat((widths[i] ?? 0) - visible(cell));
        return align[i] === 'r' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** Greedy word wrap to `width` columns. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function ratio(before: number, after: number, better: string): string {
  if (after === 0 || before === 0) return '';
  const r = before / after;
  return `${r.toFixed(2)}× ${better}`;
}

/** `p` relative to `cwd` when it lies below it, else as given. */
export function shortPath(p: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

export function renderText(report: CompressionReport, c: ChalkInstance, cwd = process.cwd()): string {
  const lines: string[] = [];
  lines.push(c.bold(`lowrank ${report.tool.version}`) + c.dim(` · backend ${report.backend} · rank ${report.options.rank}`));
  lines.push(...wrap(`${shortPath(report.input.path, cwd)} → ${shortPath(report.output.path, cwd)}`, 80).map((l) => l.replace(' → ', ` ${c.dim('→')} `)));
  lines.push('');

  const layerRows = [[c.bold('layer'), c.bold('class'), c.bold('shape'), c.bold('rank'), c.bold('params'), '', c.bold('energy'), c.bold('error')]];
  const notes: string[] = [];
  for (const l of report.layers) {
    const factored = l.rank !== null;
    layerRows.push([
      l.name,
      l.className,
      `${l.shape[0]}×${l.shape[1]}`,
      factored ? String(l.rank) : c.dim('—'),
      `${int(l.paramsBefore)} →`,
      factored ? c.green(int(l.paramsAfter)) : int(l.paramsAfter),
      factored ? pct(l.energyKept) : '',
      factored ? num(l.relativeError, 3) : '',
    ]);
    if (!factored && l.reason !== undefined) notes.push(...wrap(`${l.name} kept: ${l.reason}`, 78).map((line) => c.dim(`  ${line}`)));
  }
  lines.push(...table(layerRows, 'lllrrrrr'));
  lines.push(...notes);
  lines.push('');

  const { input, output } = report;
  const sizeRows = [
    ['', c.bold('original'), c.bold('output'), ''],
    ['parameters', int(input.params), int(output.params), c.green(ratio(input.params, output.params, 'fewer'))],
    ['factorizable params', int(input.factorizableParams), int(output.factorizableParams), c.green(ratio(input.factorizableParams, output.factorizableParams, 'fewer'))],
    ['weight bytes', int(input.weightBytes), int(output.weightBytes), c.green(ratio(input.weightBytes, output.weightBytes, 'smaller'))],
    ['gzip bytes', int(input.gzipBytes), int(output.gzipBytes), c.green(ratio(input.gzipBytes, output.gzipBytes, 'smaller'))],
    ['FLOPs per sample', compact(report.flops.original), compact(report.flops.output), c.green(ratio(report.flops.original, report.flops.output, 'fewer'))],
  ];
  for (const s of report.speed) {
    sizeRows.push([`predict, batch ${s.batchSize}`, ms(s.originalMs), ms(s.outputMs), speedRatio(s.originalMs, s.outputMs, c)]);
  }
  lines.push(...table(sizeRows, 'lrrl'));
  const uncounted = report.flops.uncountedLayers;
  if (uncounted.length > 0) {
    const list = uncounted.map((u) => `${u.name} (${u.className}: ${u.reason})`).join(', ');
    lines.push(...wrap(`FLOPs leave out ${list}`, 78).map((line) => c.dim(`  ${line}`)));
  }
  lines.push(...renderSizes(report, c));

  const ev = report.evaluation;
  if (ev === null) lines.push('', ...wrap(NOT_MEASURED_NO_DATA, 80).map((l) => c.yellow(l)));
  if (ev !== null && report.data !== null) {
    lines.push('');
    const where = report.data.validationPath !== undefined ? shortPath(report.data.validationPath, cwd) : `held out from ${shortPath(report.data.path, cwd)}`;
    lines.push(...wrap(`on ${int(report.data.validationSamples)} samples ${where}${report.loss ? `, loss ${report.loss}` : ''}`, 80).map((l) => c.dim(l)));
    const stages: Array<[string, MetricsReport | null]> = [
      ['original', ev.original],
      ['factorized', ev.factorized],
      ['fine-tuned', ev.fineTuned],
    ];
    const shown = stages.filter(([, m]) => m !== null) as Array<[string, MetricsReport]>;
    const rows = [['', ...shown.map(([n]) => c.bold(n))]];
    const hasAccuracy = shown.some(([, m]) => m.accuracy !== undefined);
    if (hasAccuracy) rows.push(['accuracy', ...shown.map(([, m]) => pct(m.accuracy, 2))]);
    if (shown.some(([, m]) => m.loss !== undefined)) rows.push(['loss', ...shown.map(([, m]) => num(m.loss))]);
    if (shown.some(([, m]) => m.mse !== undefined)) rows.push(['mean squared error', ...shown.map(([, m]) => num(m.mse))]);
    if (shown.some(([, m]) => m.mae !== undefined)) rows.push(['mean absolute error', ...shown.map(([, m]) => num(m.mae))]);
    if (shown.some(([, m]) => m.agreement !== undefined)) rows.push(['agrees with original', ...shown.map(([n, m]) => (n === 'original' ? '' : pct(m.agreement, 2)))]);
    rows.push(['output rel. error', ...shown.map(([n, m]) => (n === 'original' ? '' : num(m.relativeOutputError, 3)))]);
    lines.push(...table(rows, 'lrrr'));
    const drop = accuracyDrop(report);
    if (hasAccuracy && drop !== undefined) {
      const text = accuracyDropText(drop) + (report.options.quantize !== undefined ? ` (written ${report.options.quantize})` : '');
      lines.push(drop > 2 ? c.yellow(text) : c.green(text));
    }
  }
  const t = report.training;
  if (t !== null && t.epochs.length > 0) {
    const last = t.epochs[t.epochs.length - 1];
    const speed = last === undefined ? '' : `, ${int(Math.round(last.samplesPerSecond))} samples/s`;
    const how = t.distill === 1 ? ' by distillation' : t.distill > 0 ? ` (${t.distill} distillation)` : '';
    const kept = t.bestEpoch === t.epochs.length ? '' : t.bestEpoch === 0 ? ', kept the factorized weights (no epoch improved)' : `, kept epoch ${t.bestEpoch}`;
    const early = t.stoppedEarly ? ', stopped early' : '';
    lines.push(...wrap(`fine-tuned ${t.epochs.length} epoch(s)${how}${speed}, ${(report.timings.fineTuneMs / 1000).toFixed(1)} s${early}${kept}`, 80).map((l) => c.dim(l)));
  }
  lines.push(c.dim(`total ${(report.timings.totalMs / 1000).toFixed(1)} s`));
  if (report.gates !== undefined && report.gates.length > 0) lines.push('', ...renderGates(report.gates, c));
  return lines.join('\n') + '\n';
}

/** The size table: each way of storing the model, measured. */
function renderSizes(report: CompressionReport, c: ChalkInstance): string[] {
  if (report.sizes.length === 0) return [];
  const cols = sizeMetricColumns(report);
  const heads: Record<(typeof cols)[number], string> = { accuracy: 'accuracy', agreement: 'agrees', relativeOutputError: 'rel. error' };
  const rows = [[c.bold('stored as'), c.bold('params'), c.bold('weights'), c.bold('gzip'), c.bold('smaller'), ...cols.map((k) => c.bold(heads[k]))]];
  for (const s of sizeRows(report)) {
    const label = variantLabel(s.variant) + (s.written ? ' *' : '');
    rows.push([
      s.written ? c.bold(label) : label,
      compact(s.params),
      bytes(s.weightBytes),
      bytes(s.gzipBytes),
      s.weightBytes === 0 ? '' : times(report.input.weightBytes / s.weightBytes),
      ...cols.map((k) => metricCell(s.metrics, k)),
    ]);
  }
  const how = report.data === null ? 'written and reloaded (no --data: nothing evaluated)' : `written, reloaded and evaluated on the same ${int(report.data.validationSamples)} samples`;
  return [
    '',
    ...table(rows, 'lrrrrrrr'),
    ...wrap(`* the output folder. Bytes of the weight shards; smaller: input bytes / row bytes. Each row ${how}.`, 78).map((l) => c.dim(`  ${l}`)),
  ];
}

/** Gate results; a failed gate is red and marked FAIL so it shows without colour too. */
export function renderGates(gates: readonly GateResult[], c: ChalkInstance): string[] {
  const rows = gates.map((g) => {
    const d = describeGate(g);
    return [g.passed ? c.green('PASS') : c.red.bold('FAIL'), d.label, d.value, d.limit];
  });
  const lines = table(rows, 'llrl').map((line, i) => (gates[i]?.passed ? line : c.red(line)));
  const failed = gates.filter((g) => !g.passed).length;
  return [c.bold('quality gates'), ...lines, failed === 0 ? c.green('all gates passed') : c.red.bold(`${failed} of ${gates.length} gate(s) failed`)];
}

function speedRatio(before: number, after: number, c: ChalkInstance): string {
  if (after <= 0 || before <= 0) return '';
  return after <= before ? c.green(`${(before / after).toFixed(2)}× faster`) : c.yellow(`${(after / before).toFixed(2)}× slower`);
}
