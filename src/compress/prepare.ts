/**
 * The first stage: everything that can refuse the run, before any work. The model is loaded and
 * validated first, so its own defects are reported whatever the flags; then the options, the output
 * folder, the data, the loss and the gates.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetError, UsageError, throwIfAborted } from '../errors.js';
import { buildModel, needsClassesError, readModelChecked, type LoadedModel } from '../io/index.js';
import { checkOutputFree } from '../io/save.js';
import { BackendSchema, parseOptions } from '../options.js';
import { checkGatesEvaluable, hasGates } from '../report/gates.js';
import { initBackend, type BackendName, type tf } from '../tf.js';
import { chooseLoss, isClassification, type Loss, type Objective } from '../train/loss.js';
import { outputSize } from '../train/model-data.js';
import { inputShapes, requireInputShapes, type InputShapes } from '../train/tensors.js';
import { distillWeight, readData, type SplitData } from './data.js';
import { resolveCompressOptions, type CompressOptions } from './options.js';
import type { CompressEvent, CompressRunInput } from './types.js';

/** What every later stage works from. `original` is disposed by compress() when the run ends. */
export interface Prepared {
  options: CompressOptions;
  backend: BackendName;
  stored: LoadedModel;
  original: tf.LayersModel;
  /** The model's input shapes, or null when they have open sizes and no --input-shape fills them. */
  shapes: InputShapes | null;
  /** Undefined without --data, and on a dry run (which reads none of it). */
  data: SplitData | undefined;
  /** The loss the data is measured with; null without data. */
  loss: Loss | null;
  /** What fine-tuning minimises; null when there is no fine-tuning. */
  objective: Objective | null;
  /** Report progress; every call is also a cancellation point. */
  emit: (event: CompressEvent) => void;
  signal: AbortSignal | undefined;
  started: number;
  loadMs: number;
}

const FirstSchema = z.object({
  model: z.string({ error: 'the model path must be a string' }).min(1, 'the model path is empty'),
  backend: BackendSchema,
  allowNonfinite: z.boolean().default(false),
  setup: z.string().min(1, '--setup is empty').optional(),
});

/**
 * A model whose layer classes tfjs does not all know (and no --setup registered): planned, factorized
 * and written from its JSON and stored weights; nothing that needs a running model is measured.
 */
export interface PreparedStored {
  options: CompressOptions;
  backend: BackendName;
  stored: LoadedModel;
  /** The classes that kept the model from running, in first-use order. */
  unknownClasses: string[];
  emit: (event: CompressEvent) => void;
  signal: AbortSignal | undefined;
  started: number;
  loadMs: number;
}

export async function prepare(input: CompressRunInput): Promise<Prepared | PreparedStored> {
  const started = performance.now();
  const first = parseOptions(FirstSchema, input);
  const backend = await initBackend(first.backend);
  const read = await readModelChecked(first.model, { allowNonfinite: first.allowNonfinite, ...(first.setup !== undefined ? { setup: first.setup } : {}) });
  if (read.unknownClasses.length > 0) return prepareStored(input, backend, read.stored, read.unknownClasses, started);
  const { stored, model: original } = await buildModel(first.model, read.stored);
  try {
    const options = resolveCompressOptions(input);
    if (options.dryRun && hasGates(options.gates)) throw new UsageError('quality gates need a real run; --dry-run measures nothing');
    if (!options.dryRun) {
      checkOutputApart(options);
      await checkOutputFree(options.out, options.force);
    }
    const shapes = options.data === undefined ? inputShapes(original, options.inputShape) : requireInputShapes(original, options.data, options.inputShape);
    // A dry run plans from the model alone: the data is only checked to exist, never read.
    if (options.dryRun && options.data !== undefined) await checkReadable(options.data);
    const data = shapes === null || options.dryRun ? undefined : await readData(options, shapes);
    const { loss, objective } = lossFor(options, stored, original, data);
    // A gate that cannot be answered is bad input: refuse now, before anything is written.
    checkGatesEvaluable(options.gates, {
      ...(data !== undefined ? { data: data.validation.file } : {}),
      hasLabels: data?.validation.y !== undefined,
      classifier: loss !== null && isClassification(loss.kind),
      loss: loss?.kind ?? null,
    });
    const listener = input.onEvent ?? (() => {});
    const emit = (event: CompressEvent): void => {
      throwIfAborted(input.signal);
      listener(event);
    };
    return { options, backend, stored, original, shapes, data, loss, objective, emit, signal: input.signal, started, loadMs: performance.now() - started };
  } catch (err) {
    original.dispose();
    throw err;
  }
}

/** The checks of prepare() for a model that will not run: whatever needs it running is refused. */
async function prepareStored(input: CompressRunInput, backend: BackendName, stored: LoadedModel, unknownClasses: string[], started: number): Promise<PreparedStored> {
  const options = resolveCompressOptions(input);
  if (stored.conversion.changes.length > 0) throw needsClassesError(options.model, unknownClasses, 'matching the weights of a Keras 3 model');
  if (options.data !== undefined) throw needsClassesError(options.model, unknownClasses, options.epochs > 0 ? 'fine-tuning on --data' : 'evaluating on --data');
  if (options.dryRun && hasGates(options.gates)) throw new UsageError('quality gates need a real run; --dry-run measures nothing');
  if (!options.dryRun) {
    checkOutputApart(options);
    await checkOutputFree(options.out, options.force);
  }
  checkGatesEvaluable(options.gates, { hasLabels: false, classifier: false, loss: null });
  const listener = input.onEvent ?? (() => {});
  const emit = (event: CompressEvent): void => {
    throwIfAborted(input.signal);
    listener(event);
  };
  return { options, backend, stored, unknownClasses, emit, signal: input.signal, started, loadMs: performance.now() - started };
}

/** The loss the data implies for this model, and the fine-tuning objective when there are epochs. */
function lossFor(options: CompressOptions, stored: LoadedModel, original: tf.LayersModel, data: SplitData | undefined): { loss: Loss | null; objective: Objective | null } {
  if (data === undefined) return { loss: null, objective: null };
  if (original.outputs.length !== 1) {
    throw new DatasetError(data.file, `the model has ${original.outputs.length} outputs; fine-tuning from a dataset needs a model with one output (use --epochs 0 to factorize only)`);
  }
  const outputs = outputSize(original);
  const loss = chooseLoss(stored.json.trainingConfig?.['loss'], original, data.labelSize, outputs);
  data.checkLabels(loss.kind, outputs);
  const objective = options.epochs > 0 ? { ...loss, distill: distillWeight(options, data), temperature: options.temperature } : null;
  return { loss, objective };
}

/** The output never replaces or holds an input: the model's folder and the data files stay untouched. */
function checkOutputApart(options: CompressOptions): void {
  const out = path.resolve(options.out);
  const inputs = [options.model, options.data, options.validationData, options.labels, options.validationLabels];
  for (const input of inputs) {
    if (input === undefined) continue;
    const resolved = path.resolve(input);
    if (resolved.startsWith(out + path.sep)) throw new UsageError(`--out ${options.out} holds the input ${input}; write the output somewhere else`);
  }
}

/** A dataset path a dry run names must at least exist; it is not read. */
async function checkReadable(file: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch {
    throw new DatasetError(file, 'no such file or folder, or it cannot be read');
  }
}
