/**
 * `lowrank adapt`: its flags. The handler (and with it TensorFlow.js) loads only when it runs.
 */
import { Option, type Command } from 'commander';
import { backendFlag, colorFlag, dataReadFlags, nonfiniteFlag, setupFlag } from '../flags.js';

export function adaptCommand(cli: Command, signal: AbortSignal): void {
  const cmd = cli
    .command('adapt')
    .description('train a low-rank adapter (LoRA: ΔW = alpha/rank · A·B beside each frozen Dense, Conv2D and Embedding kernel) on a new domain\'s --data, and write only the adapter: its weight shards and adapter.json')
    .argument('<model>', 'path to the base model.json (never modified)')
    .option('-d, --data <file>', 'the new domain\'s labelled data (.csv, .tsv, .jsonl, .json, .npy, or a folder of images with one subfolder per class)')
    .option('-r, --rank <n>', 'rank of every adapter', '8')
    .option('--alpha <a>', 'LoRA alpha: ΔW = (alpha / rank)·A·B (default: the rank, so the scale is 1, as PEFT\'s defaults r 8, lora_alpha 8)')
    .option('--layers <patterns>', 'only top-level layers matching these globs, comma-separated; !pattern excludes (default: every Dense, Conv2D and Embedding)')
    .option('--stream', 'read --data as a stream, never whole (default for CSV/TSV files over 256 MB)')
    .option('--no-stream', 'load --data whole however large')
    .option('--validation-data <file>', 'evaluate on this file instead of a split of --data')
    .option('--validation-labels <file>', 'labels for a .npy --validation-data');
  dataReadFlags(cmd)
    .option('-o, --out <dir>', 'adapter folder (default: <model folder>-adapter)')
    .option('-e, --epochs <n>', 'training epochs (0: an adapter at zero, which changes nothing)', '10')
    .option('-b, --batch-size <n>', 'training batch size', '32')
    .option('--learning-rate <lr>', 'Adam learning rate', '0.001')
    .option('--validation-split <f>', 'share of --data held out for evaluation, never trained on', '0.2')
    .option('--seed <n>', 'seed for the split, the batch order and A\'s starting values', '42')
    .option('--patience <n>', 'stop after n epochs without a better validation loss')
    .addOption(new Option('--lr-schedule <name>', 'learning rate over the run (plateau: halved after each epoch without a better validation loss)').choices(['constant', 'cosine', 'linear', 'plateau']).default('constant'))
    .option('--warmup-steps <n>', 'steps over which the learning rate rises from 0', '0');
  backendFlag(cmd).option('-f, --force', 'replace an adapter folder that lowrank wrote (nothing else is ever replaced)');
  setupFlag(nonfiniteFlag(cmd))
    .option('--json', 'print adapter.json on stdout instead of the summary')
    .option('-q, --quiet', 'no progress on stderr');
  colorFlag(cmd).action(async (model: string, opts: Record<string, unknown>) => {
    const { runAdapt } = await import('./run.js');
    process.exitCode = await runAdapt(model, opts, signal);
  });
}
