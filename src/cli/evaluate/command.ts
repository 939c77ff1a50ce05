/**
 * `lowrank evaluate`: its flags; the handler loads only when it runs.
 */
import type { Command } from 'commander';
import { backendFlag, colorFlag, dataReadFlags, nonfiniteFlag, setupFlag } from '../flags.js';

export function evaluateCommand(cli: Command): void {
  const cmd = cli
    .command('evaluate')
    .description('measure a model on a dataset (the whole file): loss, accuracy or MSE/MAE, and agreement with --reference')
    .argument('<model>', 'path to model.json')
    .option('-d, --data <file>', 'dataset (.csv, .tsv, .jsonl, .json, .npy, or a folder of images)')
    .option('--reference <model>', 'compare predictions with this model (e.g. the original)');
  setupFlag(nonfiniteFlag(cmd));
  dataReadFlags(cmd);
  backendFlag(cmd).option('--json', 'print as JSON');
  colorFlag(cmd).action(async (model: string, opts: Record<string, unknown>) => {
    const { runEvaluate } = await import('./run.js');
    process.exitCode = await runEvaluate(model, opts);
  });
}
