/**
 * A sweep as tables: one row for the original (the reference) and one per point, laid out for a
 * terminal (text) or GitHub (Markdown). The cells are computed once here (`sweepTable`) and every
 * rendering, the HTML page included, lays out the same cells.
 */
import path from 'node:path';
import { bytes, compact, int, metric, seconds, shortPath, times } from '../report/format.js';
import { cell, code, mdTable } from '../report/render-markdown.js';
import { table } from '../report/render-text.js';
import type { MetricsReport } from '../report/schema.js';
import type { SweepPoint, SweepReport } from './schema.js';

/** The metric a sweep is judged and charted by: accuracy where there are class labels, else agreement with the original, else loss. */
export function sweepMetric(report: SweepReport): 'accuracy' | 'agreement' | 'loss' {
  if (report.original.accuracy !== undefined) return 'accuracy';
  if (report.points.some((p) => p.factorized.agreement !== undefined)) return 'agreement';
  return 'loss';
}

/** The metric of a point's final model: fine-tuned when there was fine-tuning, else as factorized. */
export function finalMetrics(point: SweepPoint): MetricsReport {
  return point.fineTuned ?? point.factorized;
}

export interface SweepTable {
  head: string[];
  rows: string[][];
  /** 'l' or 'r' per column. */
  align: string;
}

/** The sweep's table: what each point costs and what it scores, the original first. */
export function sweepTable(report: SweepReport): SweepTable {
  const key = sweepMetric(report);
  const tuned = report.options.epochs > 0;
  const head = ['method', 'rank', 'params', 'smaller', 'weight bytes', 'FLOPs', ...(tuned ? [`${key} before`, `${key} tuned`] : [key]), 'change', ...(key === 'accuracy' ? ['agreement'] : []), 'time'];
  const { model, original } = report;
  const flops = (f: number | null): string => (f === null ? '—' : compact(f));
  const originalRow = ['original', '—', int(model.params), times(1), bytes(model.weightBytes), flops(model.flops), ...(tuned ? [metric(key, original[key]), metric(key, original[key])] : [metric(key, original[key])]), '', ...(key === 'accuracy' ? [''] : []), ''];
  const rows = report.points.map((p) => {
    const score = finalMetrics(p);
    return [
      p.method,
      String(p.rank),
      int(p.params),
      times(model.params / p.params),
      bytes(p.weightBytes),
      flops(p.flops),
      ...(tuned ? [metric(key, p.factorized[key]), metric(key, p.fineTuned?.[key])] : [metric(key, p.factorized[key])]),
      change(key, score[key], original[key]),
      ...(key === 'accuracy' ? [metric('agreement', score.agreement)] : []),
      seconds(p.timings.totalMs),
    ];
  });
  return { head, rows: [originalRow, ...rows], align: `l${'r'.repeat(head.length - 1)}` };
}

/** The change from the original: points of accuracy or agreement ("−0.28"), or relative loss ("+12%"). */
function change(key: 'accuracy' | 'agreement' | 'loss', value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined) return '—';
  const [amount, digits, unit] = key === 'loss' ? [reference === 0 ? NaN : ((value - reference) / reference) * 100, 0, '%'] : [(value - reference) * 100, 2, ''];
  if (!Number.isFinite(amount)) return '—';
  const text = Math.abs(amount).toFixed(digits);
  return Number(text) === 0 ? `${text}${unit}` : `${amount < 0 ? '−' : '+'}${text}${unit}`;
}

/** One line saying what was measured and how. */
export function sweepSummary(report: SweepReport, cwd = process.cwd()): string {
  const how = report.options.epochs > 0 ? `each point fine-tuned ${report.options.epochs} epoch${report.options.epochs === 1 ? '' : 's'}` : 'factorized only (no fine-tuning)';
  const on = report.data.validationPath !== undefined ? shortPath(report.data.validationPath, cwd) : `a ${report.options.validationSplit} split of ${shortPath(report.data.path, cwd)}`;
  return `${report.data.validationSamples} held-out samples from ${on}; ${how}; change in points from the original`;
}

export function renderSweepText(report: SweepReport, cwd = process.cwd()): string {
  const t = sweepTable(report);
  const lines = [`lowrank sweep · ${shortPath(report.model.path, cwd)} · backend ${report.backend}`, sweepSummary(report, cwd), '', ...table([t.head, ...t.rows], t.align)];
  lines.push('', `total ${seconds(report.timings.totalMs)}`);
  return `${lines.join('\n')}\n`;
}

export function renderSweepMarkdown(report: SweepReport, cwd = process.cwd()): string {
  const t = sweepTable(report);
  const lines = [
    `## lowrank sweep: ${code(shortPath(report.model.path, cwd))}`,
    '',
    cell(sweepSummary(report, cwd)),
    '',
    `![${sweepMetric(report)} against parameters](sweep.svg)`,
    '',
    ...mdTable(t.head, t.rows, t.align),
    '',
    `${path.basename(path.dirname(report.model.path))}: ${int(report.model.params)} params · lowrank ${report.tool.version} · total ${seconds(report.timings.totalMs)}`,
  ];
  return `${lines.join('\n')}\n`;
}
