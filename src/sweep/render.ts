/**
 * A sweep as tables: one row for the original (the reference) and one per point, laid out for a
 * terminal (text) or GitHub (Markdown). The cells are computed once here (`sweepTable`) and every
 * rendering, the HTML page included, lays out the same cells.
 */
import path from 'node:path';
import { bytes, compact as compactNumber, int, metric, seconds, shortPath, times } from '../report/format.js';
import { cell, code, mdTable } from '../report/render-markdown.js';
import { table, wrap } from '../report/render-text.js';
import type { MetricsReport } from '../report/schema.js';
import type { SweepPoint, SweepReport, SweepSetting } from './schema.js';

/** The metric a sweep is judged and charted by: accuracy where there are class labels, else agreement with the original, else loss. */
export function sweepMetric(report: SweepReport): 'accuracy' | 'agreement' | 'loss' {
  if (report.original.accuracy !== undefined) return 'accuracy';
  if (report.points.some((p) => p.factorized.agreement !== undefined)) return 'agreement';
  return 'loss';
}

/** What the sweep varies: one rank for every layer, or the share of parameters kept. */
export function sweepSetting(report: SweepReport): SweepSetting {
  return report.options.ratios !== undefined ? 'ratio' : 'rank';
}

/** A point's rank or ratio, and how it is named: "rank 8", "ratio 0.1". */
export function settingValue(point: SweepPoint): number {
  return point.rank ?? (point.ratio as number);
}

export function pointName(point: SweepPoint): string {
  return point.rank !== undefined ? `rank ${point.rank}` : `ratio ${point.ratio}`;
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

/** One column: its heading (full, and short for the terminal), and its cell for the original and for a point. */
interface Column {
  head: string;
  short?: string;
  align: 'l' | 'r';
  /** Only in the full tables (Markdown, HTML): the terminal's must fit 80 columns. */
  wideOnly?: boolean;
  original: string;
  point: (p: SweepPoint) => string;
}

/**
 * The sweep's table: what each point costs and what it scores, the original first. `compact` (the
 * terminal's) leaves out FLOPs, and agreement when there are two score columns, to fit 80 columns.
 */
export function sweepTable(report: SweepReport, compact = false): SweepTable {
  const key = sweepMetric(report);
  const setting = sweepSetting(report);
  const tuned = report.options.epochs > 0;
  const { model, original } = report;
  const flops = (f: number | null): string => (f === null ? '—' : compactNumber(f));
  const reference = metric(key, original[key]);
  const columns: Column[] = [
    { head: 'method', align: 'l', original: 'original', point: (p) => p.method },
    { head: setting, align: 'r', original: '—', point: (p) => String(settingValue(p)) },
    // With a ratio the allocation chose each layer's rank: a list in model order, — for a layer kept whole.
    ...(setting === 'ratio' ? [{ head: 'ranks', align: 'r', wideOnly: true, original: '', point: (p) => p.layers.map((l) => l.rank ?? '—').join('/') } satisfies Column] : []),
    { head: 'params', align: 'r', original: int(model.params), point: (p) => int(p.params) },
    { head: 'smaller', align: 'r', original: times(1), point: (p) => times(model.params / p.params) },
    { head: 'weight bytes', short: 'bytes', align: 'r', original: bytes(model.weightBytes), point: (p) => bytes(p.weightBytes) },
    { head: 'FLOPs', align: 'r', wideOnly: true, original: flops(model.flops), point: (p) => flops(p.flops) },
    ...(tuned
      ? [
          { head: `${key} before`, short: 'before', align: 'r', original: reference, point: (p) => metric(key, p.factorized[key]) } satisfies Column,
          { head: `${key} tuned`, short: 'tuned', align: 'r', original: reference, point: (p) => metric(key, p.fineTuned?.[key]) } satisfies Column,
        ]
      : [{ head: key, align: 'r', original: reference, point: (p) => metric(key, p.factorized[key]) } satisfies Column]),
    { head: 'change', align: 'r', original: '', point: (p) => change(key, finalMetrics(p)[key], original[key]) },
    ...(key === 'accuracy' ? [{ head: 'agreement', short: 'agrees', align: 'r', wideOnly: tuned, original: '', point: (p) => metric('agreement', finalMetrics(p).agreement) } satisfies Column] : []),
    { head: 'time', align: 'r', original: '', point: (p) => seconds(p.timings.totalMs) },
  ];
  const shown = columns.filter((c) => !(compact && c.wideOnly === true));
  return {
    head: shown.map((c) => (compact ? (c.short ?? c.head) : c.head)),
    rows: [shown.map((c) => c.original), ...report.points.map((p) => shown.map((c) => c.point(p)))],
    align: shown.map((c) => c.align).join(''),
  };
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
  const t = sweepTable(report, true);
  const lines = [`lowrank sweep · ${shortPath(report.model.path, cwd)} · backend ${report.backend}`, ...wrap(sweepSummary(report, cwd), 80), '', ...table([t.head, ...t.rows], t.align)];
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
