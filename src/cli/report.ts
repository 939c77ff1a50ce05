/**
 * `lowrank report`: print a stored report again.
 */
import { readReport } from '../report/read.js';
import { renderText } from '../report/render-text.js';
import { colorFor } from './output.js';

export async function runReport(target: string, opts: Record<string, unknown>): Promise<number> {
  const report = await readReport(target);
  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderText(report, colorFor(process.stdout, opts['color'] !== false)));
  return 0;
}
