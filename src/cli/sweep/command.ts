/**
 * `lowrank sweep`: its flags. The handler (and with it TensorFlow.js) loads only when it runs.
 */
import type { Command } from 'commander';
import { backendFlag, calibrationFlag, datasetFlags, formatFlags, layersFlag, nonfiniteFlag, setupFlag, svdFlag, trainingFlags } from '../flags.js';

export function sweepCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('sweep')
    .description('compress a model at several sizes with each method, measure every point on held-out data, and write a table and a chart of accuracy against size (sweep.json, .md, .html, .svg)')
    .argument('<model>', 'path to model.json')
    .option('--ratios <list>', 'shares of the factorizable layers\' parameters to keep, each as compress --ratio: ranks allocated across layers (0.05,0.1,0.2,0.3)')
    .option('--ranks <list>', 'instead of --ratios: ranks to try, each for every eligible layer (2,4,8,16)')
    .option('--methods <list>', 'truncations to compare, as compress --method: svd (the kernel\'s top singular values), whiten (minimize the error on the layer\'s inputs)', 'svd,whiten');
  layersFlag(calibrationFlag(cmd));
  datasetFlags(cmd, 'calibration, fine-tuning and evaluation; required')
    .option('-o, --out <dir>', 'output folder (default: <model folder>-sweep)')
    .option('-e, --epochs <n>', 'fine-tuning epochs at each point; 0 factorizes only', '0');
  trainingFlags(cmd);
  backendFlag(cmd).option('-f, --force', 'replace an output folder that lowrank wrote (nothing else is ever replaced)');
  svdFlag(setupFlag(nonfiniteFlag(cmd)));
  formatFlags(cmd, ['text', 'json', 'markdown']).option('-q, --quiet', 'no progress on stderr');
  cmd.action(async (model: string, opts: Record<string, unknown>) => {
    const { runSweep } = await import('./run.js');
    process.exitCode = await runSweep(model, opts, signal);
  });
}
