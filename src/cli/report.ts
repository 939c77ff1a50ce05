/**
 * `lowrank report`: print a stored report again (text, JSON, Markdown), gate on it, or compare two.
 */
import { UsageError } from '../errors.js';
import { compareReports, renderCompareMarkdown, renderCompareText } from '../report/compare.js';
import { evaluateGates, gatesPassed, hasGates, parseGateLimits } from '../report/gates.js';
import { locateReport, readReport } from '../report/read.js';
import { renderHtml } from '../report/render-html.js';
import { renderMarkdown } from '../report/render-markdown.js';
import { renderText } from '../report/render-text.js';
import type { CompressionReport } from '../report/schema.js';
import { colorFor } from './output.js';

export const FORMATS = ['text', 'json', 'markdown', 'html'] as const;
export type Format = (typeof FORMATS)[number];

/** --format, with --json as its alias; giving both with different formats is a usage error. */
export function outputFormat(opts: Record<string, unknown>): Format {
  const given = opts['format'] as Format | undefined;
  if (opts['json'] === true) {
    if (given !== undefined && given !== 'json') throw new UsageError(`--json is --format json; it cannot go with --format ${given}`);
    return 'json';
  }
  return given ?? 'text';
}

/** A report in the chosen format, coloured for stdout where the format is text. */
export function renderReport(report: CompressionReport, format: Format, opts: Record<string, unknown>): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'markdown':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    case 'text':
      return renderText(report, colorFor(process.stdout, opts['color'] !== false));
  }
}

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
  if (targets.length !== 1) {
    throw new UsageError(targets.length === 0 ? 'give an output folder or a report.json (or --compare A B)' : `one report at a time (got ${targets.length}); --compare A B shows two side by side`);
  }
  const target = targets[0] as string;
  const report = await readReport(target);
  // Gates given here replace any the report was written with; the report file itself is not changed.
  const gates = hasGates(limits) ? evaluateGates(report, limits, await locateReport(target)) : undefined;
  process.stdout.write(renderReport(gates === undefined ? report : { ...report, gates }, format, opts));
  return gates !== undefined && !gatesPassed(gates) ? 1 : 0;
}
