/**
 * `lowrank evaluate`: a model's metrics on a dataset, optionally against a reference model.
 */
import type { ChalkInstance } from 'chalk';
import { evaluate, type EvaluateInput, type EvaluationReport } from '../../evaluate.js';
import { shortPath, table } from '../../report/render-text.js';
import { colorFor } from '../output.js';

export async function runEvaluate(model: string, opts: Record<string, unknown>): Promise<number> {
  // The library's schema checks and coerces the flags; CLI-only ones are ignored.
  const report = await evaluate({ ...opts, model } as EvaluateInput);
  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderEvaluation(report, colorFor(process.stdout, opts['color'] !== false)));
  return 0;
}

function renderEvaluation(r: EvaluationReport, c: ChalkInstance): string {
  const m = r.metrics;
  const rows: string[][] = [];
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  if (m.accuracy !== undefined) rows.push(['accuracy', pct(m.accuracy)]);
  if (m.loss !== undefined) rows.push([`loss (${r.loss}${r.lossFromLogits === true ? ', from logits' : ''})`, m.loss.toPrecision(4)]);
  if (m.mse !== undefined) rows.push(['mean squared error', m.mse.toPrecision(4)]);
  if (m.mae !== undefined) rows.push(['mean absolute error', m.mae.toPrecision(4)]);
  if (m.agreement !== undefined) rows.push(['agrees with reference', pct(m.agreement)]);
  if (m.relativeOutputError !== undefined) rows.push(['output rel. error vs reference', m.relativeOutputError.toPrecision(3)]);
  const lines = [c.bold(shortPath(r.model)), c.dim(`on ${r.samples.toLocaleString('en-US')} samples of ${shortPath(r.data)} · backend ${r.backend}`), '', ...table(rows, 'lr')];
  if (rows.length === 0) lines.push(c.dim('no labels and no --reference: nothing to measure'));
  return lines.join('\n') + '\n';
}
