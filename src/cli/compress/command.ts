/**
 * `lowrank compress`: its flags. The handler (and with it TensorFlow.js) loads only when it runs.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_EPOCHS } from '../../compress/defaults.js';
import { backendFlag, calibrationFlag, colorFlag, datasetFlags, formatFlags, gateFlags, layersFlag, nonfiniteFlag, setupFlag, svdFlag, trainingFlags } from '../flags.js';

export function compressCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('compress')
    .description('factorize the weight-heavy layers of a model, fine-tune it on --data (without --data: factorize only) and write the result with report.json')
    .argument('<model>', 'path to model.json')
    .option('-r, --rank <rank>', 'rank for every eligible layer (16), or per layer (dense_1=16,dense_2=8)')
    .option('--energy <fraction>', 'per layer, the smallest rank keeping this share of the singular values\' energy (with --method whiten: of the whitened ones) (0.95)')
    .option('--ratio <fraction>', 'keep at most this share of the factorizable layers\' parameters, ranks allocated across layers where they keep the most energy per parameter (0.1)')
    .addOption(new Option('--method <method>', 'svd: keep the kernel\'s top singular values; whiten: minimize the error on the layer\'s inputs, calibrated on training rows of --data (default: whiten with --data, svd without)').choices(['svd', 'whiten']))
  layersFlag(calibrationFlag(cmd));
  datasetFlags(cmd, 'fine-tuning and evaluation')
    .option('-o, --out <dir>', 'output folder (default: <model folder>-lowrank)')
    .option('-e, --epochs <n>', `fine-tuning epochs; 0 factorizes only (default: ${DEFAULT_EPOCHS} with --data, 0 without)`);
  trainingFlags(cmd);
  backendFlag(cmd)
    .option('-f, --force', 'replace an output folder that lowrank wrote (nothing else is ever replaced)')
    .option('--dry-run', 'print the plan and exit; nothing is written and --data is not read');
  svdFlag(setupFlag(nonfiniteFlag(cmd))).addOption(new Option('--quantize <dtype>', 'store the output\'s float weights quantized, as tfjs-converter does').choices(['float16', 'uint8']));
  gateFlags(cmd);
  formatFlags(cmd).option('-q, --quiet', 'no progress on stderr (a note about what was not measured still prints)');
  colorFlag(cmd).action(async (model: string, opts: Record<string, unknown>) => {
    const { runCompress } = await import('./run.js');
    process.exitCode = await runCompress(model, opts, signal);
  });
}
