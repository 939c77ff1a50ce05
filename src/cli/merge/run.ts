/**
 * `lowrank merge`: flags → merge() → the files written on stdout.
 */
import { merge, type MergeInput } from '../../adapt/index.js';

export async function runMerge(model: string, adapter: string, opts: Record<string, unknown>, signal: AbortSignal): Promise<number> {
  const result = await merge({ ...opts, model, adapter, signal } as MergeInput & { signal: AbortSignal });
  const how = result.keepAdapters ? 'with the adapters as their own layers' : 'with the adapters folded into the kernels';
  process.stdout.write(`merged ${adapter} into ${model} (${result.baseHash}), ${how}\nwrote: ${result.files.join(', ')}\n`);
  return 0;
}
