/**
 * The report as a person reads it in a terminal or a CI log: a per-layer table, then size, speed and
 * accuracy before and after. Fits 80 columns; colour only where the caller's chalk has it. Every number
 * and phrase comes from the report's view (view.ts); this file only lays it out.
 */
import type { ChalkInstance } from 'chalk';
import type { CompressionReport } from './schema.js';
import { reportView, type GatesView, type Measure, type ReportView } from './view.js';

// shortPath now lives in format.ts; src/cli/evaluate.ts still imports it from here.
export { shortPath } from './format.js';

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

export function renderText(report: CompressionReport, c: ChalkInstance, cwd = process.cwd()): string {
  const v = reportView(report, cwd);
  const { header } = v;
  const lines = [
    c.bold(`${header.tool} ${header.version}`) + c.dim(` · backend ${header.backend} · rank ${header.rank}`),
    ...wrap(`${header.input.shown} → ${header.output.shown}`, 80).map((l) => l.replace(' → ', ` ${c.dim('→')} `)),
    '',
    ...renderLayers(v, c),
    '',
    ...renderMeasures(v, c),
    ...renderSizes(v, c),
    ...renderEvaluation(v, c),
  ];
  if (v.training !== null) lines.push(...wrap(v.training.sentence, 80).map((l) => c.dim(l)));
  lines.push(c.dim(`total ${v.timings.total}`));
  if (v.gates !== null) lines.push('', ...renderGates(v.gates, c));
  return lines.join('\n') + '\n';
}

/** Per-layer table, then why each kept layer was kept. */
function renderLayers(v: ReportView, c: ChalkInstance): string[] {
  // Predicted and measured output errors on the calibration inputs, when any layer was whitened.
  const outputErrors = v.layers.some((l) => l.outputError !== null);
  const extra = (cell: string): string[] => (outputErrors ? [cell] : []);
  const rows = [[c.bold('layer'), c.bold('class'), c.bold('shape'), c.bold('rank'), c.bold('params'), '', c.bold('energy'), c.bold('error'), ...extra(c.bold('pred/meas'))]];
  const notes: string[] = [];
  for (const l of v.layers) {
    rows.push([l.name, l.className, l.shape, l.factorized ? l.rank : c.dim(l.rank), `${l.paramsBefore} →`, l.factorized ? c.green(l.paramsAfter) : l.paramsAfter, l.energyKept, l.error, ...extra(l.outputError === null ? '' : `${l.outputError.predicted}/${l.outputError.measured}`)]);
    if (l.keptReason !== null) notes.push(...wrap(`${l.name} kept: ${l.keptReason}`, 78).map((line) => c.dim(`  ${line}`)));
  }
  // Whitened layers' energy and error are of Λ^½QᵀW, i.e. of the output on the calibration inputs.
  if (v.layers.some((l) => l.layer.method === 'whiten')) {
    notes.push(...wrap('whitened (--method whiten): energy and error are of the output on the calibration inputs, ‖X(W − A·B)‖/‖XW‖', 78).map((line) => c.dim(`  ${line}`)));
  }
  if (outputErrors) notes.push(...wrap('pred/meas: that output error as the whitened spectrum predicted it / as measured after factorization', 78).map((line) => c.dim(`  ${line}`)));
  if (v.budget !== null) notes.push(`  --ratio: ${v.budget.within ? c.green(v.budget.text) : c.red(v.budget.text)}`);
  return [...table(rows, outputErrors ? 'lllrrrrrr' : 'lllrrrrr'), ...notes];
}

/** Original against output: parameters, bytes, FLOPs and latency, each with its ratio. */
function renderMeasures(v: ReportView, c: ChalkInstance): string[] {
  const ratio = (m: Measure): string => (m.ratio === null ? '' : m.ratio.better ? c.green(m.ratio.text) : c.yellow(m.ratio.text));
  const measures = [v.size.params, v.size.factorizableParams, v.size.weightBytes, v.size.gzipBytes, v.flops.perSample, ...v.speed].filter((m): m is Measure => m !== null);
  const rows = [['', c.bold('original'), c.bold('output'), ''], ...measures.map((m) => [m.label, m.original, m.output, ratio(m)])];
  const lines = table(rows, 'lrrl');
  if (v.flops.uncounted.length > 0) {
    const list = v.flops.uncounted.map((u) => `${u.name} (${u.why})`).join(', ');
    lines.push(...wrap(`FLOPs leave out ${list}`, 78).map((line) => c.dim(`  ${line}`)));
  }
  if (v.speedNotMeasured !== null) lines.push(...wrap(v.speedNotMeasured, 78).map((line) => c.dim(`  ${line}`)));
  return lines;
}

/** The size table: each way of storing the model, measured. */
function renderSizes(v: ReportView, c: ChalkInstance): string[] {
  const { columns, rows, evaluatedOn } = v.sizes;
  if (rows.length === 0) return [];
  const head = [c.bold('stored as'), c.bold('params'), c.bold('weights'), c.bold('gzip'), c.bold('smaller'), ...columns.map((k) => c.bold(k.short))];
  const body = rows.map((s) => {
    const label = s.label + (s.written ? ' *' : '');
    return [s.written ? c.bold(label) : label, s.params, s.weightText, s.gzipText, s.smaller, ...s.cells];
  });
  const how = v.sizes.bytesOnly ? 'written in memory, bytes only (the model cannot run without its layer classes, so nothing was reloaded)' : evaluatedOn === null ? 'written and reloaded (no --data: nothing evaluated)' : `written, reloaded and evaluated on the same ${evaluatedOn} samples`;
  return [
    '',
    ...table([head, ...body], 'lrrrrrrr'),
    ...wrap(`* the output folder. Bytes of the weight shards; smaller: input bytes / row bytes. Each row ${how}.`, 78).map((l) => c.dim(`  ${l}`)),
  ];
}

/** Each model's metrics on the held-out samples and the accuracy drop, or why there are none. */
function renderEvaluation(v: ReportView, c: ChalkInstance): string[] {
  if (v.notMeasured !== null) return ['', ...wrap(v.notMeasured.phrase, 80).map((l) => c.yellow(l))];
  const ev = v.evaluation;
  if (ev === null) return [];
  const where = ev.heldOut ? `held out from ${ev.source}` : ev.source;
  const lines = ['', ...wrap(`on ${ev.samples} samples ${where}${ev.loss ? `, loss ${ev.loss}` : ''}`, 80).map((l) => c.dim(l))];
  const rows = [['', ...ev.stages.map((s) => c.bold(s.name))], ...ev.rows.map((r) => [r.label, ...r.cells])];
  lines.push(...table(rows, 'lrrr'));
  const a = v.accuracy;
  if (a !== null) {
    const text = a.sentence + (v.header.quantize !== null ? ` (written ${v.header.quantize})` : '');
    lines.push(a.tone === 'bad' ? c.yellow(text) : c.green(text));
  }
  return lines;
}

/** Gate results; a failed gate is red and marked FAIL so it shows without colour too. */
function renderGates(gates: GatesView, c: ChalkInstance): string[] {
  const rows = gates.rows.map((g) => [g.passed ? c.green('PASS') : c.red.bold('FAIL'), g.label, g.value, g.limit]);
  const lines = table(rows, 'llrl').map((line, i) => (gates.rows[i]?.passed ? line : c.red(line)));
  return [c.bold('quality gates'), ...lines, gates.passed ? c.green('all gates passed') : c.red.bold(`${gates.failed} of ${gates.total} gate(s) failed`)];
}
