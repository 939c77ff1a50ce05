/**
 * Where the CLI writes: stdout for results, stderr for progress and errors, colour only when wanted,
 * and a report in the format asked for.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import { UsageError } from '../errors.js';
import { renderHtml } from '../report/html/page.js';
import { renderMarkdown } from '../report/render-markdown.js';
import { renderText } from '../report/render-text.js';
import type { CompressionReport } from '../report/schema.js';

/** Colour for a stream: off with NO_COLOR or --no-color, else as chalk detects for that stream. */
export function colorFor(stream: NodeJS.WriteStream, enabled: boolean): ChalkInstance {
  const off = !enabled || (process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '') || !stream.isTTY;
  return new Chalk({ level: off ? 0 : 1 });
}

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
