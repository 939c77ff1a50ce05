/**
 * `lowrank report`: print a stored report again (text, JSON, Markdown), gate on it, or compare two.
 */
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { compareReports, renderCompareMarkdown, renderCompareText } from '../../report/compare.js';
import { evaluateGates, gatesPassed, hasGates, parseGateLimits } from '../../report/gates.js';
import { findDefaultReport, locateReport, readReport } from '../../report/read.js';

import { colorFor, outputFormat, renderReport } from '../output.js';

export async function runReport(targets: string[], opts: Record<string, unknown>): Promise<number> {
  const format = outputFormat(opts);
  const limits = parseGateLimits(opts);
  if (opts['compare'] === true) {
    if (targets.length !== 2) throw new UsageError(`--compare takes two reports (lowrank report --compare A B), got ${targets.length}`);
    if (hasGates(limits)) throw new UsageError('quality gates check one report; run lowrank report with the gates on each');
    if (format === 'html') throw new UsageError('--compare prints text, json or markdown, not html');
    const [a, b] = targets as [string, string];
    const comparison = compareReports(await readReport(a), await readReport(b), await locateReport(a), await locateReport(b));
    if (format === 'json') process.stdout.write(`${JSON.stringify(comparison, null, 2)}\n`);
    else if (format === 'markdown') process.stdout.write(renderCompareMarkdown(comparison));
    else process.stdout.write(renderCompareText(comparison, colorFor(process.stdout, opts['color'] !== false)));
    return 0;
  }
  if (targets.length > 1) throw new UsageError(`one report at a time (got ${targets.length}); --compare A B shows two side by side`);
  const target = targets[0] ?? (await defaultTarget());
  const report = await readReport(target);
  // Gates given here replace any the report was written with; the report file itself is not changed.
  const gates = hasGates(limits) ? evaluateGates(report, limits, await locateReport(target)) : undefined;
  process.stdout.write(renderReport(gates === undefined ? report : { ...report, gates }, format, opts));
  return gates !== undefined && !gatesPassed(gates) ? 1 : 0;
}

/** With no path: ./report.json, else the newest lowrank output folder here, named on stderr. */
async function defaultTarget(): Promise<string> {
  const found = await findDefaultReport(process.cwd());
  const shown = path.relative(process.cwd(), found.file) || found.file;
  if (found.candidates.length > 1) {
    const others = found.candidates.slice(1).map((c) => path.relative(process.cwd(), c)).join(', ');
    process.stderr.write(`lowrank: showing ${shown}, the newest of ${found.candidates.length} lowrank outputs here (others: ${others}); pass a folder to show another\n`);
  } else if (found.candidates.length === 1) {
    process.stderr.write(`lowrank: showing ${shown}\n`);
  }
  return found.file;
}
