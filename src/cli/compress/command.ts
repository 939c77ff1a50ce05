/**
 * `lowrank compress`: its flags. The handler (and with it TensorFlow.js) loads only when it runs.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_DISTILL, DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_LR_SCHEDULE, DEFAULT_PATIENCE } from '../../compress/defaults.js';
import { backendFlag, colorFlag, dataReadFlags, formatFlags, gateFlags, nonfiniteFlag, setupFlag, svdFlag } from '../flags.js';

export function compressCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('compress')
    .description('factorize the weight-heavy layers of a model, fine-tune it on --data (without --data: factorize only) and write the result with report.json')
    .argument('<model>', 'path to model.json')
    .option('-r, --rank <rank>', 'rank for every eligible layer (16), or per layer (dense_1=16,dense_2=8)')
    .option('--energy <fraction>', 'per layer, the smallest rank keeping this share of the singular values\' energy (0.95)')
    .addOption(new Option('--method <method>', 'svd: keep the kernel\'s top singular values; whiten: minimize the error on the layer\'s inputs, calibrated on training rows of --data (default: whiten with --data, svd without)').choices(['svd', 'whiten']))
    .option('--calibration-samples <n>', 'training rows --method whiten calibrates each layer on', '512')
    .option('--layers <patterns>', 'only layers matching these globs, comma-separated; !pattern excludes (dense_*,!dense_3)')
    .option('-d, --data <file>', 'dataset for fine-tuning and evaluation (.csv, .tsv, .jsonl, .json, .npy, or a folder of images with one subfolder per class)')
    .option('--stream', 'read --data as a stream, never whole (default for CSV/TSV files over 256 MB)')
    .option('--no-stream', 'load --data whole however large')
    .option('--validation-data <file>', 'evaluate on this file instead of a split of --data')
    .option('--validation-labels <file>', 'labels for a .npy --validation-data');
  dataReadFlags(cmd)
    .option('-o, --out <dir>', 'output folder (default: <model folder>-lowrank)')
    .option('-e, --epochs <n>', `fine-tuning epochs; 0 factorizes only (default: ${DEFAULT_EPOCHS} with --data, 0 without)`)
    .option('-b, --batch-size <n>', 'fine-tuning batch size', '32')
    .option('--learning-rate <lr>', 'Adam learning rate', String(DEFAULT_LEARNING_RATE))
    .option('--validation-split <f>', 'share of --data held out for evaluation, never trained on (at least 1 row, leaving 1 to train on; 0 only with --validation-data)', '0.2')
    .option('--seed <n>', 'seed for the split and batch order (same seed, same result on the same backend)', '42')
    .option('--distill <alpha>', `share of the loss from the original model's outputs (default ${DEFAULT_DISTILL} with labels, 1 without)`)
    .option('--temperature <t>', 'softening of class probabilities when distilling', '2')
    .option('--patience <n>', 'stop after n epochs without a better validation loss; 0 runs every epoch', String(DEFAULT_PATIENCE))
    .addOption(new Option('--train <which>', 'train all layers, or only the factor layers (the others keep all their weights, BatchNormalization statistics included)').choices(['all', 'factors']).default('all'))
    .option('--freeze-original', 'same as --train factors: layers that were not factorized keep their weights')
    .addOption(new Option('--lr-schedule <name>', 'learning rate over the run').choices(['constant', 'cosine', 'linear']).default(DEFAULT_LR_SCHEDULE))
    .option('--warmup-steps <n>', 'steps over which the learning rate rises from 0', '0');
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
