/**
 * `lowrank convert`: a model in the form stock tfjs loads (Keras 3's model.json rewritten, weight names
 * matched, weight bytes unchanged), with what changed on stdout.
 */
import { convert, type ConvertInput } from '../../convert.js';
import { renderConvert } from '../../report/render-convert.js';
import { colorFor } from '../output.js';

export async function runConvert(model: string, opts: Record<string, unknown>, signal?: AbortSignal): Promise<number> {
  // The library's schema checks the flags; CLI-only ones are ignored.
  const { report } = await convert({ ...opts, model, ...(signal !== undefined ? { signal } : {}) } as ConvertInput);

  if (opts['json'] === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderConvert(report, colorFor(process.stdout, opts['color'] !== false)));
  return 0;
}
