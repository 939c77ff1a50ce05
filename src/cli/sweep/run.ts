/**
 * `lowrank sweep`: flags → sweep() → the table on stdout (text, JSON or Markdown), progress on stderr:
 * compress's messages, and one line per point as it is measured.
 */
import { seconds } from '../../report/format.js';
import { sweep, type SweepEvent, type SweepRunInput } from '../../sweep/index.js';
import { finalMetrics, pointName, renderSweepMarkdown, renderSweepText } from '../../sweep/render.js';
import { outputFormat } from '../output.js';
import { progressPrinter } from '../progress.js';

export async function runSweep(model: string, opts: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  const format = outputFormat(opts);
  const quiet = opts['quiet'] === true;
  const compressProgress = progressPrinter(process.stderr, quiet);
  const onEvent = (event: SweepEvent): void => {
    if (event.status !== 'point') return compressProgress(event);
    if (quiet) return;
    const { point, index, total } = event;
    const score = Object.entries(finalMetrics(point))
      .filter(([key]) => key === 'accuracy' || key === 'loss')
      .map(([key, value]) => `${key} ${key === 'accuracy' ? `${(value * 100).toFixed(2)}%` : value.toPrecision(4)}`)
      .join(', ');
    process.stderr.write(`[${index}/${total}] ${point.method} ${pointName(point)}: ${point.params.toLocaleString('en-US')} params, ${score} (${seconds(point.timings.totalMs)})\n`);
  };
  // The library's schemas check and coerce every flag (strings included); CLI-only flags are ignored.
  const input = { ...opts, model, onEvent, signal } as SweepRunInput;
  const { report } = await sweep(input);
  if (format === 'json') process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (format === 'markdown') process.stdout.write(renderSweepMarkdown(report));
  else process.stdout.write(renderSweepText(report));
  return 0;
}
