/**
 * `lowrank compress`: flags → compress() → the report on stdout, progress on stderr.
 */
import { compress, type CompressRunInput } from '../../compress/index.js';
import { gatesPassed } from '../../report/gates.js';
import { renderPlan } from '../../report/render-plan.js';
import { colorFor, outputFormat, renderReport } from '../output.js';
import { progressPrinter } from '../progress.js';

export async function runCompress(model: string, opts: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  const format = outputFormat(opts);
  // The library's schema checks and coerces every flag (strings included); CLI-only flags are ignored.
  const input = { ...opts, model, onEvent: progressPrinter(process.stderr, opts['quiet'] === true), signal } as CompressRunInput;
  const result = await compress(input);
  if (result.report === null) {
    if (format === 'json') process.stdout.write(`${JSON.stringify(result.plan.entries, null, 2)}\n`);
    else process.stdout.write(renderPlan(result.plan.entries, colorFor(process.stdout, opts['color'] !== false)));
    return 0;
  }
  process.stdout.write(renderReport(result.report, format, opts));
  // A failed gate exits 1; the output folder and report.json are written all the same.
  return gatesPassed(result.report.gates) ? 0 : 1;
}
