/**
 * Flags that several commands share, declared once. A command file calls the builders it needs; the
 * values reach the library as strings and its zod schemas coerce and check them, so no command parses
 * a number itself. Nothing here imports TensorFlow.js: `--help` stays fast.
 */
import { Option, type Command } from 'commander';

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
