/**
 * Two reports side by side (`lowrank report --compare A B`): what each output costs and scores, and
 * the rank each chose per layer. The comparison is plain data (printed as JSON with --format json);
 * the text and Markdown renderers below format it.
 */
import type { ChalkInstance } from 'chalk';
import { bytes, compact, int, ms, pct, shortPath, times } from './format.js';
import { outputMetrics } from './gates.js';
import { cell, code, mdTable } from './render-markdown.js';
import { table } from './render-text.js';
import type { CompressionReport } from './schema.js';
import { accuracyDrop } from './view.js';

type Unit = 'count' | 'bytes' | 'ratio' | 'share' | 'ms' | 'points';

/** One measured quantity in both reports; null where a report does not have it. */
export interface ComparisonRow {
  metric: string;
  unit: Unit;
  a: number | null;
  b: number | null;
  /** True when a larger value is better (accuracy), false when smaller is (bytes). */
  higherIsBetter: boolean;
}

export interface ComparedLayer {
  name: string;
  className: string;
  shape: [number, number];
  a: { rank: number | null; paramsAfter: number } | null;
  b: { rank: number | null; paramsAfter: number } | null;
}

/** Two reports side by side. */
export interface Comparison {
  a: { path: string; report: string; rank: string; backend: string };
  b: { path: string; report: string; rank: string; backend: string };
  rows: ComparisonRow[];
  layers: ComparedLayer[];
}

/** Compare report A (`fileA`) with report B (`fileB`). */
export function compareReports(a: CompressionReport, b: CompressionReport, fileA: string, fileB: string): Comparison {
  const rows: ComparisonRow[] = [];
  const add = (metric: string, unit: Unit, higherIsBetter: boolean, get: (r: CompressionReport) => number | null | undefined): void => {
    const va = get(a) ?? null;
    const vb = get(b) ?? null;
    if (va !== null || vb !== null) rows.push({ metric, unit, a: va, b: vb, higherIsBetter });
  };
  add('input parameters', 'count', false, (r) => r.input.params);
  add('parameters', 'count', false, (r) => r.output.params);
  add('weight bytes', 'bytes', false, (r) => r.output.weightBytes);
  add('gzip bytes', 'bytes', false, (r) => r.output.gzipBytes);
  add('size reduction', 'ratio', true, (r) => (r.output.weightBytes === 0 ? null : r.input.weightBytes / r.output.weightBytes));
  add('accuracy', 'share', true, (r) => outputMetrics(r)?.accuracy);
  add('accuracy drop', 'points', false, accuracyDrop);
  add('agrees with original', 'share', true, (r) => outputMetrics(r)?.agreement);
  add('FLOPs per sample', 'count', false, (r) => r.flops?.output);
  const batches = [...new Set([...a.speed, ...b.speed].map((s) => s.batchSize))].sort((x, y) => x - y);
  for (const batch of batches) add(`predict, batch ${batch}`, 'ms', false, (r) => r.speed.find((s) => s.batchSize === batch)?.outputMs);

  const layers: ComparedLayer[] = [];
  for (const l of [...a.layers, ...b.layers]) {
    if (layers.some((x) => x.name === l.name)) continue;
    const la = a.layers.find((x) => x.name === l.name);
    const lb = b.layers.find((x) => x.name === l.name);
    layers.push({
      name: l.name,
      className: l.className,
      shape: l.shape,
      a: la === undefined ? null : { rank: la.rank, paramsAfter: la.paramsAfter },
      b: lb === undefined ? null : { rank: lb.rank, paramsAfter: lb.paramsAfter },
    });
  }
  const side = (r: CompressionReport, file: string) => ({ path: r.output.path, report: file, rank: r.options.rank + (r.options.quantize ? ` + ${r.options.quantize}` : ''), backend: r.backend });
  return { a: side(a, fileA), b: side(b, fileB), rows, layers };
}

function value(unit: Unit, x: number | null): string {
  if (x === null) return '—';
  switch (unit) {
    case 'count':
      return compact(x);
    case 'bytes':
      return bytes(x);
    case 'ratio':
      return times(x);
    case 'share':
      return pct(x, 2);
    case 'ms':
      return ms(x);
    case 'points':
      return x.toFixed(2);
  }
}

/** B against A: a ratio for sizes and times, a difference for shares and points. */
function change(row: ComparisonRow): string {
  const { a, b, unit } = row;
  if (a === null || b === null) return '';
  if (unit === 'share') return `${((b - a) * 100 >= 0 ? '+' : '−') + Math.abs((b - a) * 100).toFixed(2)} points`;
  if (unit === 'points') return `${b - a >= 0 ? '+' : '−'}${Math.abs(b - a).toFixed(2)}`;
  if (a === 0) return '';
  return `${(b / a).toFixed(2)}×`;
}

function rank(side: ComparedLayer['a']): string {
  if (side === null) return 'absent';
  return side.rank === null ? '—' : String(side.rank);
}

export function renderCompareText(cmp: Comparison, c: ChalkInstance, cwd = process.cwd()): string {
  const lines = [
    `${c.bold('A')}  ${shortPath(cmp.a.report, cwd)} ${c.dim(`· rank ${cmp.a.rank} · ${cmp.a.backend}`)}`,
    `${c.bold('B')}  ${shortPath(cmp.b.report, cwd)} ${c.dim(`· rank ${cmp.b.rank} · ${cmp.b.backend}`)}`,
    '',
  ];
  const rows = [['', c.bold('A'), c.bold('B'), c.bold('B vs A')]];
  for (const row of cmp.rows) {
    const better = row.a !== null && row.b !== null && row.a !== row.b ? (row.b > row.a) === row.higherIsBetter : null;
    const delta = change(row);
    rows.push([row.metric, value(row.unit, row.a), value(row.unit, row.b), better === null ? delta : better ? c.green(delta) : c.yellow(delta)]);
  }
  lines.push(...table(rows, 'lrrl'), '');
  const layerRows = [[c.bold('layer'), c.bold('class'), c.bold('shape'), c.bold('rank A'), c.bold('rank B'), c.bold('params A'), c.bold('params B')]];
  for (const l of cmp.layers) {
    layerRows.push([l.name, l.className, `${l.shape[0]}×${l.shape[1]}`, rank(l.a), rank(l.b), l.a === null ? '' : int(l.a.paramsAfter), l.b === null ? '' : int(l.b.paramsAfter)]);
  }
  lines.push(...table(layerRows, 'lllrrrr'));
  return lines.join('\n') + '\n';
}

export function renderCompareMarkdown(cmp: Comparison, cwd = process.cwd()): string {
  const lines = [
    '## lowrank: A vs B',
    '',
    `- **A**: ${code(shortPath(cmp.a.report, cwd))} (rank ${cell(cmp.a.rank)}, ${cell(cmp.a.backend)})`,
    `- **B**: ${code(shortPath(cmp.b.report, cwd))} (rank ${cell(cmp.b.rank)}, ${cell(cmp.b.backend)})`,
    '',
    ...mdTable(['', 'A', 'B', 'B vs A'], cmp.rows.map((row) => [row.metric, value(row.unit, row.a), value(row.unit, row.b), change(row)]), 'lrrr'),
    '',
    '### Ranks per layer',
    '',
    ...mdTable(
      ['layer', 'class', 'shape', 'rank A', 'rank B', 'params A', 'params B'],
      cmp.layers.map((l) => [code(l.name), cell(l.className), `${l.shape[0]}×${l.shape[1]}`, rank(l.a), rank(l.b), l.a === null ? '' : int(l.a.paramsAfter), l.b === null ? '' : int(l.b.paramsAfter)]),
      'lllrrrr',
    ),
  ];
  return lines.join('\n') + '\n';
}
