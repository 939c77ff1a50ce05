/**
 * `lowrank merge`: its flags. The handler (and with it TensorFlow.js) loads only when it runs.
 */
import type { Command } from 'commander';
import { backendFlag, nonfiniteFlag, setupFlag } from '../flags.js';

export function mergeCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('merge')
    .description('apply an adapter from lowrank adapt to its base model and write a standard TF.js Layers model: W + scale·A·B folded into each kernel, or with --keep-adapters the adapters as layers of their own')
    .argument('<model>', 'path to the base model.json the adapter was trained on (checked by content hash)')
    .argument('<adapter>', 'adapter folder (or its adapter.json)')
    .option('-o, --out <dir>', 'output folder (required)')
    .option('--keep-adapters', 'write a functional model where each adapted layer is Add(layer-linear(x), B(A(x))) then its activation, base weights in shard group 1 and the adapter in group 2')
    .option('-f, --force', 'replace an output folder that lowrank wrote (nothing else is ever replaced)');
  setupFlag(nonfiniteFlag(backendFlag(cmd))).action(async (model: string, adapter: string, opts: Record<string, unknown>) => {
    const { runMerge } = await import('./run.js');
    process.exitCode = await runMerge(model, adapter, opts, signal);
  });
}
