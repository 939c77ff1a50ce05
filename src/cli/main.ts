/**
 * The lowrank command line: commander parses, the commands call the library, and this file holds the
 * one catch that maps errors to exit codes (0 ok, 1 quality gate, 2 bad usage or input, 3 internal).
 */
import { Command, CommanderError, Option } from 'commander';
import { LowrankError, formatError } from '../errors.js';
import { VERSION } from '../version.js';
import { runCompress } from './compress.js';
import { runReport } from './report.js';
import { runInspect } from './inspect.js';
import { runEvaluate } from './evaluate.js';
import { runConvert } from './convert.js';

export const EXIT = { ok: 0, gate: 1, usage: 2, internal: 3 } as const;

function program(signal: AbortSignal): Command {
  const cli = new Command('lowrank')
    .description('Make TensorFlow.js Layers models smaller and faster by low-rank factorization.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show stack traces of internal errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (text) => writeCommanderError(text) });

  cli
    .command('compress')
    .description('factorize the weight-heavy layers of a model, fine-tune it and write the result with report.json')
    .argument('<model>', 'path to model.json')
    .option('-r, --rank <rank>', 'rank for every eligible layer (16), or per layer (dense_1=16,dense_2=8)')
    .option('--energy <fraction>', 'per layer, the smallest rank keeping this share of the singular values\' energy (0.95)')
    .option('--layers <patterns>', 'only layers matching these globs, comma-separated; !pattern excludes (dense_*,!dense_3)')
    .option('-d, --data <file>', 'dataset for fine-tuning and evaluation (.csv, .tsv, .jsonl, .json, .npy, or a folder of images with one subfolder per class)')
    .option('--labels <file>', 'labels for .npy features: a .npy of shape [count] or [count, k]')
    .option('--stream', 'read --data as a stream, never whole (default for CSV/TSV files over 256 MB)')
    .option('--no-stream', 'load --data whole however large')
    .option('--validation-data <file>', 'evaluate on this file instead of a split of --data')
    .option('--validation-labels <file>', 'labels for a .npy --validation-data')
    .option('--input-scale <factor>', 'multiply every input value by this as it is read (1/255 for 8-bit images)')
    .option('--image-shape <h,w,c>', 'size to read images at (default: the model\'s input shape when it is [h, w, c])')
    .option('--label <column>', 'CSV label column: header name or index (default: last column; "none" for no labels)')
    .option('--input-shape <dims>', 'sizes for open input dimensions, e.g. 64,64,3 for an image model of any size')
    .option('-o, --out <dir>', 'output folder (default: <model folder>-lowrank)')
    .option('-e, --epochs <n>', 'fine-tuning epochs; 0 factorizes only', '3')
    .option('-b, --batch-size <n>', 'fine-tuning batch size', '32')
    .option('--learning-rate <lr>', 'Adam learning rate', '0.001')
    .option('--validation-split <f>', 'share of --data held out for evaluation, never trained on', '0.2')
    .option('--seed <n>', 'seed for the split and batch order (same seed, same result on the same backend)', '42')
    .option('--distill <alpha>', 'share of the loss from the original model\'s outputs (default 0 with labels, 1 without)')
    .option('--temperature <t>', 'softening of class probabilities when distilling', '2')
    .option('--patience <n>', 'stop after n epochs without a better validation loss')
    .addOption(new Option('--train <which>', 'train all layers, or only the factor layers').choices(['all', 'factors']).default('all'))
    .option('--freeze-original', 'same as --train factors: layers that were not factorized keep their weights')
    .addOption(new Option('--lr-schedule <name>', 'learning rate over the run').choices(['constant', 'cosine', 'linear']).default('constant'))
    .option('--warmup-steps <n>', 'steps over which the learning rate rises from 0', '0')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'node', 'wasm', 'cpu']).default('auto'))
    .option('-f, --force', 'replace a non-empty output folder')
    .option('--dry-run', 'print the plan and exit; nothing is written')
    .option('--allow-nonfinite', 'proceed when weights hold NaN or Infinity (layers whose kernel does are kept as stored)')
    .addOption(new Option('--quantize <dtype>', 'store the output\'s float weights quantized, as tfjs-converter does').choices(['float16', 'uint8']))
    .option('--max-accuracy-drop <points>', 'quality gate: exit 1 when accuracy falls more than this many points (1.5)')
    .option('--max-agreement-loss <f>', 'quality gate: exit 1 when more than this share of predictions change (0.02)')
    .option('--min-size-reduction <x>', 'quality gate: exit 1 when input / output weight bytes is below this (3)')
    .addOption(new Option('--format <format>', 'how to print the report on stdout').choices(['text', 'json', 'markdown', 'html']))
    .option('--json', 'print the report as JSON on stdout (same as --format json)')
    .option('-q, --quiet', 'no progress on stderr')
    .option('--no-color', 'no colour')
    .action(async (model: string, opts: Record<string, unknown>) => {
      process.exitCode = await runCompress(model, opts, signal);
    });

  cli
    .command('inspect')
    .description('list a model\'s layers, and for each factorizable one the ranks for 90/95/99% energy and what they save')
    .argument('<model>', 'path to model.json')
    .option('--layers <patterns>', 'only these layers in the rank table (globs, comma-separated, !pattern excludes)')
    .option('--allow-nonfinite', 'proceed when weights hold NaN or Infinity')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'node', 'wasm', 'cpu']).default('auto'))
    .option('--json', 'print as JSON')
    .option('--no-color', 'no colour')
    .action(async (model: string, opts: Record<string, unknown>) => {
      process.exitCode = await runInspect(model, opts);
    });

  cli
    .command('evaluate')
    .description('measure a model on a dataset (the whole file): loss, accuracy or MSE/MAE, and agreement with --reference')
    .argument('<model>', 'path to model.json')
    .option('-d, --data <file>', 'dataset (.csv, .tsv, .jsonl, .json, .npy, or a folder of images)')
    .option('--reference <model>', 'compare predictions with this model (e.g. the original)')
    .option('--allow-nonfinite', 'proceed when weights hold NaN or Infinity')
    .option('--label <column>', 'CSV label column: header name or index; "none" for no labels')
    .option('--labels <file>', 'labels for .npy features')
    .option('--input-scale <factor>', 'multiply every input value by this as it is read')
    .option('--image-shape <h,w,c>', 'size to read images at')
    .option('--input-shape <dims>', 'sizes for open input dimensions')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'node', 'wasm', 'cpu']).default('auto'))
    .option('--json', 'print as JSON')
    .option('--no-color', 'no colour')
    .action(async (model: string, opts: Record<string, unknown>) => {
      process.exitCode = await runEvaluate(model, opts);
    });

  cli
    .command('convert')
    .description('rewrite a model (e.g. a Keras 3 model.json stock tfjs refuses) into the form tfjs loads; weights copied unchanged')
    .argument('<model>', 'path to model.json')
    .option('-o, --out <dir>', 'output folder (default: <model folder>-tfjs)')
    .option('-f, --force', 'replace a non-empty output folder')
    .option('--allow-nonfinite', 'proceed when weights hold NaN or Infinity')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'node', 'wasm', 'cpu']).default('auto'))
    .option('--json', 'print what changed as JSON')
    .option('--no-color', 'no colour')
    .action(async (model: string, opts: Record<string, unknown>) => {
      process.exitCode = await runConvert(model, opts, signal);
    });

  cli
    .command('report')
    .description('print the report of a lowrank output folder (or a report.json), gate on it, or compare two')
    .argument('[paths...]', 'output folder or report.json (two with --compare)')
    .addOption(new Option('--format <format>', 'output format (html: one self-contained page)').choices(['text', 'json', 'markdown', 'html']))
    .option('--json', 'print the report as JSON (same as --format json)')
    .option('--compare', 'show two reports side by side: lowrank report --compare A B')
    .option('--max-accuracy-drop <points>', 'quality gate: exit 1 when accuracy fell more than this many points (1.5)')
    .option('--max-agreement-loss <f>', 'quality gate: exit 1 when more than this share of predictions changed (0.02)')
    .option('--min-size-reduction <x>', 'quality gate: exit 1 when input / output weight bytes is below this (3)')
    .option('--no-color', 'no colour')
    .action(async (targets: string[], opts: Record<string, unknown>) => {
      process.exitCode = await runReport(targets, opts);
    });

  return cli;
}

/** commander's own errors ("error: unknown option '--x'\n(Did you mean --y?)") as our one line. */
function writeCommanderError(text: string): void {
  const line = text
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/^error: /, '');
  if (line.startsWith('Usage:') || line === '') process.stderr.write(text);
  else process.stderr.write(`lowrank: ${line}\n`);
}

/**
 * SIGINT/SIGTERM abort the run through an AbortSignal: compress() stops at its next batch or stage,
 * removes its temporary output and throws AbortedError, which the catch below turns into exit 130/143.
 * A second signal exits at once.
 */
function abortOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = (): void => {
      if (controller.signal.aborted) process.exit(name === 'SIGTERM' ? 143 : 130);
      controller.abort(name);
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  const signals = abortOnSignals();
  const cli = program(signals.signal);
  const debug = argv.includes('--debug');
  try {
    await cli.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof LowrankError) {
      process.stderr.write(`lowrank: ${formatError(err)}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`lowrank: internal error: ${e?.message ?? String(err)}\n`);
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('lowrank: run again with --debug for the stack trace, and please report it\n');
    return EXIT.internal;
  } finally {
    signals.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
