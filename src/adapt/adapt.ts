/**
 * `adapt()`: train a low-rank update ΔW = (alpha/rank)·A·B beside each selected layer of a frozen base
 * model on a new domain's data, and write only the factors (tfjs weight shards) with adapter.json.
 * load + check the base → options, output, data, loss → choose layers → build the adapted model (B = 0:
 * it predicts exactly what the base does) → evaluate the base → train A and B only → evaluate → write.
 * Never prints, never exits; progress goes to `onEvent`.
 */
import path from 'node:path';
import { z } from 'zod';
import { DatasetError, NothingToDoError, UsageError, throwIfAborted } from '../errors.js';
import { buildModel, checkOutputFree, needsClassesError, readModelChecked, writeFolderAtomically } from '../io/index.js';
import { BackendSchema, parseOptions } from '../options.js';
import { layerFilter } from '../factorize/plan.js';
import { createRng } from '../data/random.js';
import { readData, type SplitData } from '../compress/data.js';
import type { CompressEvent } from '../compress/types.js';
import { initBackend, tf } from '../tf.js';
import { evaluateModel, type Metrics } from '../train/evaluate.js';
import { fineTune } from '../train/fine-tune.js';
import { chooseLoss } from '../train/loss.js';
import { outputSize } from '../train/model-data.js';
import { requireInputShapes } from '../train/tensors.js';
import { VERSION } from '../version.js';
import { adapterFiles } from './folder.js';
import { ADAPTER_FORMAT_VERSION, AdapterJsonSchema, baseHash, type AdapterJson } from './format.js';
import { initialFactors, isAdaptable } from './layers.js';
import { buildAdaptedModel, kernelOf, planAdapters, storedFactor, takenNames, type FactorValues } from './model.js';
import { resolveAdaptOptions, type AdaptInput, type AdaptOptions } from './options.js';

/** Progress of an adapt run: the stage and training events compress emits. */
export type AdaptEvent = CompressEvent;

export interface AdaptRunInput extends AdaptInput {
  onEvent?: (event: AdaptEvent) => void;
  /** Cancel: checked between stages and batches; nothing is left behind. */
  signal?: AbortSignal;
  /** Return the trained adapted model too (the caller disposes it). */
  keepModel?: boolean;
}

export interface AdaptResult {
  adapter: AdapterJson;
  /** Absolute paths of the files written. */
  files: string[];
  /** The trained adapted model, with `keepModel`. */
  model?: tf.LayersModel;
}

const FirstSchema = z.object({
  model: z.string({ error: 'the model path must be a string' }).min(1, 'the model path is empty'),
  backend: BackendSchema,
  allowNonfinite: z.boolean().default(false),
  setup: z.string().min(1, '--setup is empty').optional(),
});

export async function adapt(input: AdaptRunInput): Promise<AdaptResult> {
  const started = performance.now();
  const first = parseOptions(FirstSchema, input);
  await initBackend(first.backend);
  // The model's own defects come first, whatever the flags.
  const read = await readModelChecked(first.model, { allowNonfinite: first.allowNonfinite, ...(first.setup !== undefined ? { setup: first.setup } : {}) });
  if (read.unknownClasses.length > 0) throw needsClassesError(first.model, read.unknownClasses, 'adapting');
  const hash = baseHash(read.stored.json.modelTopology, read.stored.weights);
  const { stored, model: base } = await buildModel(first.model, read.stored);
  const disposables: Array<{ dispose(): void }> = [base];
  let keep: tf.LayersModel | undefined;
  try {
    const options = resolveAdaptOptions(input);
    checkOutputApart(options);
    await checkOutputFree(options.out, options.force);
    const names = selectLayers(options, base);
    const shapes = requireInputShapes(base, options.data, options.inputShape);
    const data = (await readData(options, shapes)) as SplitData;
    if (base.outputs.length !== 1) throw new DatasetError(data.file, `the model has ${base.outputs.length} outputs; adapt trains from a dataset for a model with one output`);
    if (data.labelSize === 0) throw new DatasetError(data.file, 'has no labels: adapt learns the new domain\'s labels (give the label column with --label, or --labels for .npy)');
    const outputs = outputSize(base);
    const loss = chooseLoss(stored.json.trainingConfig?.['loss'], base, data.labelSize, outputs);
    data.checkLabels(loss.kind, outputs);
    const listener = input.onEvent ?? (() => {});
    const emit = (event: AdaptEvent): void => {
      throwIfAborted(input.signal);
      listener(event);
    };
    const loadMs = performance.now() - started;

    const taken = takenNames(first.model, stored);
    const adapters = planAdapters(first.model, stored, base, names, options.rank, options.alpha, taken);
    const rng = createRng(options.seed);
    const initial = new Map<string, FactorValues>(adapters.map((a) => [a.layer.name, initialFactors(a.layer, rng)]));
    const model = await buildAdaptedModel(first.model, stored, adapters, initial, { scaleLayer: true });
    disposables.push(model);

    emit({ status: 'stage', stage: 'evaluate', message: `evaluating the base on ${data.validation.count} held-out samples` });
    let t = performance.now();
    const baseEval = evaluateModel(base, loss, data.validation, shapes);
    disposables.push(baseEval.predictions);
    let evaluateMs = performance.now() - t;

    const trainLayers = new Set(adapters.flatMap((a) => [a.aJson.config.name, a.bJson.config.name]));
    emit({ status: 'stage', stage: 'fine-tune', message: `training rank-${options.rank} adapters on ${adapters.length} layer(s) (${adapters.map((a) => a.layer.name).join(', ')}), ${options.epochs} epoch(s) on ${data.train.count} samples` });
    t = performance.now();
    const training = await fineTune(model, data.train, data.validation, {
      objective: { ...loss, distill: 0, temperature: 1 },
      epochs: options.epochs,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed,
      shapes,
      trainLayers,
      ...(options.patience !== undefined ? { patience: options.patience } : {}),
      schedule: options.lrSchedule,
      warmupSteps: options.warmupSteps,
      onEvent: emit,
    });
    const trainMs = performance.now() - t;
    t = performance.now();
    const adaptedEval = evaluateModel(model, loss, data.validation, shapes, baseEval.predictions);
    adaptedEval.predictions.dispose();
    evaluateMs += performance.now() - t;

    const factors = adapters.flatMap(({ layer, aJson, bJson }) => [
      storedFactor(layer.a.weight, layer.a.shape, weightValues(model, aJson.config.name)),
      storedFactor(layer.b.weight, layer.b.shape, weightValues(model, bJson.config.name)),
    ]);
    const { manifest, shards } = adapterFiles(factors);
    const adapterBytes = factors.reduce((s, w) => s + w.bytes.byteLength, 0);
    const baseBytes = read.stored.weights.reduce((s, w) => s + w.bytes.byteLength, 0);
    const adapter: AdapterJson = {
      format: 'lowrank-adapter',
      formatVersion: ADAPTER_FORMAT_VERSION,
      tool: { name: 'lowrank', version: VERSION },
      createdAt: new Date().toISOString(),
      base: { file: first.model, hash },
      rank: options.rank,
      alpha: options.alpha,
      layers: adapters.map((a) => a.layer),
      weightsManifest: manifest,
      report: {
        data: {
          file: data.file,
          samples: data.samples,
          trainSamples: data.train.count,
          validationSamples: data.validation.count,
          ...(options.validationData !== undefined ? { validationFile: options.validationData } : {}),
        },
        loss: loss.kind,
        evaluation: { base: baseEval.metrics, adapted: adaptedEval.metrics as Metrics },
        training: {
          epochs: options.epochs,
          batchSize: options.batchSize,
          learningRate: options.learningRate,
          seed: options.seed,
          bestEpoch: training.bestEpoch,
          stoppedEarly: training.stoppedEarly,
          ...(training.initialValidationLoss !== undefined ? { initialValidationLoss: training.initialValidationLoss } : {}),
          history: training.history,
        },
        bytes: { adapter: adapterBytes, base: baseBytes, adapterParams: factors.reduce((s, w) => s + w.bytes.byteLength / 4, 0), baseParams: base.countParams() },
        timings: { loadMs, trainMs, evaluateMs, totalMs: 0 },
      },
    };
    emit({ status: 'stage', stage: 'write', message: `writing ${options.out}` });
    const files = new Map<string, Uint8Array | string>(shards);
    await writeFolderAtomically(options.out, files, options.force, input.signal, () => {
      if (adapter.report !== null) adapter.report.timings.totalMs = performance.now() - started;
      return new Map([['adapter.json', `${JSON.stringify(AdapterJsonSchema.parse(adapter), null, 2)}\n`]]);
    });
    if (input.keepModel === true) {
      keep = model;
      disposables.splice(disposables.indexOf(model), 1);
    }
    const written = [...shards.keys(), 'adapter.json'].map((name) => path.resolve(options.out, name));
    return { adapter, files: written, ...(keep !== undefined ? { model: keep } : {}) };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

/** The top-level Dense, Conv2D and Embedding layers --layers selects; none is bad input. */
function selectLayers(options: AdaptOptions, base: tf.LayersModel): string[] {
  const selected = layerFilter(options.layers);
  const names = base.layers.filter((l) => isAdaptable(l.getClassName()) && kernelOf(l) !== undefined && selected(l.name)).map((l) => l.name);
  if (names.length === 0) {
    const what = options.layers === undefined ? '' : ` matching --layers ${options.layers}`;
    throw new NothingToDoError(options.model, `has no top-level Dense, Conv2D or Embedding layer${what} to adapt`);
  }
  return names;
}

/** The single weight of a factor layer, copied out. */
function weightValues(model: tf.LayersModel, layerName: string): Float32Array {
  const w = model.getLayer(layerName).getWeights()[0];
  if (w === undefined) throw new Error(`factor layer ${layerName} has no weight`);
  return Float32Array.from(w.dataSync() as Float32Array);
}

/** The output never holds an input: the model's folder and the data stay untouched. */
function checkOutputApart(options: AdaptOptions): void {
  const out = path.resolve(options.out);
  for (const input of [options.model, options.data, options.validationData, options.labels, options.validationLabels]) {
    if (input === undefined) continue;
    if (path.resolve(input).startsWith(out + path.sep)) throw new UsageError(`--out ${options.out} holds the input ${input}; write the adapter somewhere else`);
  }
}
