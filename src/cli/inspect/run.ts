/**
 * `lowrank inspect`: what a model holds and what each rank would save.
 */
import { inspect, type InspectInput } from '../../inspect.js';
import { renderInspect } from '../../report/render-inspect.js';
import { colorFor } from '../output.js';

export async function runInspect(model: string, opts: Record<string, unknown>): Promise<number> {
  const report = await inspect(model, opts as InspectInput);
  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderInspect(report, colorFor(process.stdout, opts['color'] !== false)));
  return 0;
}
