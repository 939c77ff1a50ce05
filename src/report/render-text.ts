/**
 * The report as a person reads it in a terminal or a CI log: a per-layer table, then size, speed and
 * accuracy before and after. Fits 80 columns; colour only where the caller's chalk has it.
 */
import type { ChalkInstance } from 'chalk';
import path from 'node:path';
import type { CompressionReport, MetricsReport } from './schema.js';

const int = (n: number): string => n.toLocaleString('en-US');
const pct = (x: number | undefined, digits = 1): string => (x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`);
const num = (x: number | undefined, digits = 4): string => (x === undefined ? '—' : x.toPrecision(digits));
const ms = (x: number): string => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);

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
  lines.push(`${shortPath(report.input.path, cwd)} ${c.dim('→')} ${shortPath(report.output.path, cwd)}`);
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
  ];
  for (const s of report.speed) {
    sizeRows.push([`predict, batch ${s.batchSize}`, ms(s.originalMs), ms(s.outputMs), speedRatio(s.originalMs, s.outputMs, c)]);
  }
  lines.push(...table(sizeRows, 'lrrl'));

  const ev = report.evaluation;
  if (ev !== null && report.data !== null) {
    lines.push('');
    const where = report.data.validationPath !== undefined ? shortPath(report.data.validationPath, cwd) : `held out from ${shortPath(report.data.path, cwd)}`;
    lines.push(c.dim(`on ${int(report.data.validationSamples)} samples ${where}${report.loss ? `, loss ${report.loss}` : ''}`));
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
    const final = ev.fineTuned ?? ev.factorized;
    if (hasAccuracy && ev.original.accuracy !== undefined && final.accuracy !== undefined) {
      const drop = (ev.original.accuracy - final.accuracy) * 100;
      const text = drop > 0 ? `accuracy ${drop.toFixed(2)} points below the original` : `accuracy ${(-drop).toFixed(2)} points at or above the original`;
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
    lines.push(c.dim(`fine-tuned ${t.epochs.length} epoch(s)${how}${speed}, ${(report.timings.fineTuneMs / 1000).toFixed(1)} s${early}${kept}`));
  }
  lines.push(c.dim(`total ${(report.timings.totalMs / 1000).toFixed(1)} s`));
  return lines.join('\n') + '\n';
}

function speedRatio(before: number, after: number, c: ChalkInstance): string {
  if (after <= 0 || before <= 0) return '';
  return after <= before ? c.green(`${(before / after).toFixed(2)}× faster`) : c.yellow(`${(after / before).toFixed(2)}× slower`);
}
