/**
 * Flags that several commands share, declared once. A command file calls the builders it needs; the
 * values reach the library as strings and its zod schemas coerce and check them, so no command parses
 * a number itself. Nothing here imports TensorFlow.js: `--help` stays fast.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_DISTILL, DEFAULT_LEARNING_RATE, DEFAULT_LR_SCHEDULE, DEFAULT_PATIENCE } from '../compress/defaults.js';

/** `--backend`: which TensorFlow.js backend runs the model. */
export function backendFlag(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <name>', 'TensorFlow.js backend: tfjs-node if installed, else wasm, else cpu').choices(['auto', 'node', 'wasm', 'cpu']).default('auto'));
}

/** `--allow-nonfinite`: go on when weights hold NaN or Infinity. */
export function nonfiniteFlag(cmd: Command): Command {
  return cmd.option('--allow-nonfinite', 'proceed when weights hold NaN or Infinity (layers whose kernel does are kept as stored)');
}

/** How a dataset file is read: its labels, scale, and the sizes of images and open inputs. */
export function dataReadFlags(cmd: Command): Command {
  return cmd
    .option('--label <column>', 'CSV label column: header name or index (default: last column; "none" for no labels)')
    .option('--labels <file>', 'labels for .npy features: a .npy of shape [count] or [count, k]')
    .option('--input-scale <factor>', 'multiply every input value by this as it is read (1/255 for 8-bit images)')
    .option('--image-shape <h,w,c>', 'size to read images at (default: the model\'s input shape when it is [h, w, c])')
    .option('--input-shape <dims>', 'sizes for open input dimensions, e.g. 64,64,3 for an image model of any size');
}

/** `--data` and where the held-out part comes from, then how the files are read (dataReadFlags). */
export function datasetFlags(cmd: Command, purpose: string): Command {
  cmd
    .option('-d, --data <file>', `dataset for ${purpose} (.csv, .tsv, .jsonl, .json, .npy, or a folder of images with one subfolder per class)`)
    .option('--stream', 'read --data as a stream, never whole (default for CSV/TSV files over 256 MB)')
    .option('--no-stream', 'load --data whole however large')
    .option('--validation-data <file>', 'evaluate on this file instead of a split of --data')
    .option('--validation-labels <file>', 'labels for a .npy --validation-data');
  return dataReadFlags(cmd);
}

/** How a model is fine-tuned and its data split and shuffled (compress, and sweep with --epochs). */
export function trainingFlags(cmd: Command): Command {
  return cmd
    .option('-b, --batch-size <n>', 'fine-tuning batch size', '32')
    .option('--learning-rate <lr>', 'Adam learning rate', String(DEFAULT_LEARNING_RATE))
    .option('--validation-split <f>', 'share of --data held out for evaluation, never trained on (at least 1 row, leaving 1 to train on; 0 only with --validation-data)', '0.2')
    .option('--seed <n>', 'seed for the split and batch order (same seed, same result on the same backend)', '42')
    .option('--distill <alpha>', `share of the loss from the original model's outputs (default ${DEFAULT_DISTILL} with labels, 1 without)`)
    .option('--temperature <t>', 'softening of class probabilities when distilling', '2')
    .option('--patience <n>', 'stop after n epochs without a better validation loss; 0 runs every epoch', String(DEFAULT_PATIENCE))
    .addOption(new Option('--train <which>', 'train all layers, or only the factor layers (the others keep all their weights, BatchNormalization statistics included)').choices(['all', 'factors']).default('all'))
    .option('--freeze-original', 'same as --train factors: layers that were not factorized keep their weights')
    .addOption(new Option('--lr-schedule <name>', 'learning rate over the run (plateau: halved after each epoch without a better validation loss)').choices(['constant', 'cosine', 'linear', 'plateau']).default(DEFAULT_LR_SCHEDULE))
    .option('--warmup-steps <n>', 'steps over which the learning rate rises from 0', '0');
}

/** `--calibration-samples`: the training rows whitening calibrates on. */
export function calibrationFlag(cmd: Command): Command {
  return cmd.option('--calibration-samples <n>', 'training rows whitening (--method whiten) calibrates each layer on', '512');
}

/** `--layers`: which layers to factorize, by name. */
export function layersFlag(cmd: Command): Command {
  return cmd.option('--layers <patterns>', 'only layers matching these globs, comma-separated; !pattern excludes (dense_*,!dense_3)');
}

/** `--format` and its alias `--json`: how a report is printed on stdout. */
export function formatFlags(cmd: Command, formats: readonly string[] = ['text', 'json', 'markdown', 'html']): Command {
  return cmd
    .addOption(new Option('--format <format>', 'how to print the report on stdout').choices([...formats]))
    .option('--json', 'print the report as JSON on stdout (same as --format json)');
}

/** The quality gates, checked on a report (fresh from compress, or stored). */
export function gateFlags(cmd: Command): Command {
  return cmd
    .option('--max-accuracy-drop <points>', 'quality gate: exit 1 when accuracy falls more than this many points (1.5)')
    .option('--max-agreement-loss <f>', 'quality gate: exit 1 when more than this share of predictions change (0.02)')
    .option('--min-size-reduction <x>', 'quality gate: exit 1 when input / output weight bytes is below this (3)');
}

/** `--no-color`. */
export function colorFlag(cmd: Command): Command {
  return cmd.option('--no-color', 'no colour (so does NO_COLOR=1)');
}

/** `--svd`: the decomposition, shared by compress and inspect. */
export function svdFlag(cmd: Command): Command {
  return cmd.addOption(
    new Option('--svd <method>', 'exact: full SVD of every layer; randomized: only the top singular values (fast on large layers); auto: by shape').choices(['exact', 'randomized', 'auto']).default('auto'),
  );
}

/** `--setup`: the user's module that registers custom layer classes; it runs their code. */
export function setupFlag(cmd: Command): Command {
  return cmd.option('--setup <module>', 'JS module (ESM or CommonJS) exporting setup(tf), run before loading to register custom layer classes; it runs your code');
}
