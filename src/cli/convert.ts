/**
 * `lowrank convert`: a model in the form stock tfjs loads (Keras 3's model.json rewritten, weight names
 * matched, weight bytes unchanged), with what changed on stdout.
 */
import { convert } from '../convert.js';
import { renderConvert } from '../report/render-convert.js';
import { colorFor } from './output.js';

export async function runConvert(model: string, opts: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  const { report } = await convert({
    model,
    ...(opts['out'] !== undefined ? { out: String(opts['out']) } : {}),
    force: opts['force'] === true,
    allowNonfinite: opts['allowNonfinite'] === true,
    backend: (opts['backend'] as 'auto' | undefined) ?? 'auto',
    ...(signal !== undefined ? { signal } : {}),
  });
  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderConvert(report, colorFor(process.stdout, opts['color'] !== false)));
  return 0;
}
