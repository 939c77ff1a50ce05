/**
 * `lowrank convert`: its flags; the handler loads only when it runs.
 */
import type { Command } from 'commander';
import { backendFlag, colorFlag, nonfiniteFlag, setupFlag } from '../flags.js';

export function convertCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('convert')
    .description('rewrite a model (e.g. a Keras 3 model.json stock tfjs refuses) into the form tfjs loads; weights copied unchanged')
    .argument('<model>', 'path to model.json')
    .option('-o, --out <dir>', 'output folder (default: <model folder>-tfjs)')
    .option('-f, --force', 'replace an output folder that lowrank wrote (nothing else is ever replaced)');
  setupFlag(nonfiniteFlag(cmd));
  backendFlag(cmd).option('--json', 'print what changed as JSON');
  colorFlag(cmd).action(async (model: string, opts: Record<string, unknown>) => {
    const { runConvert } = await import('./run.js');
    process.exitCode = await runConvert(model, opts, signal);
  });
}
