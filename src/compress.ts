/**
 * `compress()`: load → plan → factorize → evaluate → fine-tune → evaluate → write. Returns the report
 * and the files it wrote; never prints, never exits. Progress goes to the `onEvent` listener.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetError, ModelFormatError, NothingToDoError, UsageError, throwIfAborted } from './errors.js';
import { factorizableClasses } from './factorize/registry.js';
import { chosen, layerFilter, planModel, applyPlan, type FactorizedModel, type Plan } from './factorize/index.js';
import { buildModelFiles, loadModel, modelFiles, modelFolderFiles, writeFolderAtomically, checkOutputFree, type ModelFiles, type ModelJson, type StoredWeight } from './io/index.js';
import { formatRank, resolveCompressOptions, type CompressInput, type CompressOptions } from './options.js';
import { countFlops } from './report/flops.js';
import { checkGatesEvaluable, evaluateGates, hasGates, parseGateLimits, type GateLimits } from './report/gates.js';
import { measureBytes, medianPredictMs } from './report/measure.js';
import { REPORT_SCHEMA_VERSION, ReportSchema, type CompressionReport, type LayerReport, type SizeVariant, type SizeVariantName } from './report/schema.js';
import { measureVariant, restoreFiles, storeWeightAs, writtenVariant, type EvaluationContext, type Storage } from './report/sizes.js';
import { initBackend, tf, type BackendChoice } from './tf.js';
import { readDataset, splitDataset, type Dataset } from './train/dataset.js';
import { openStream, shouldStream, type BatchSource, type StreamedData } from './train/stream.js';
import { checkLabels, outputSize, readForMeasuring, readOptionsFor } from './train/model-data.js';
import { evaluateModel, type Metrics } from './train/evaluate.js';
import { fineTune, type FineTuneResult, type TrainEvent } from './train/fine-tune.js';
import { chooseLoss, isClassification, type Loss, type LossKind, type Objective } from './train/loss.js';
import { featureSize, inputShapes, requireInputShapes, type InputShapes } from './train/tensors.js';
import { VERSION } from './version.js';

/** Progress of a compress run: stages, then training events. */
export type CompressEvent =
  | { status: 'stage'; stage: 'load' | 'factorize' | 'evaluate' | 'fine-tune' | 'measure' | 'write'; message: string }
  /** Something the user should know about the result, said once (the CLI prints it even with --quiet). */
  | { status: 'note'; message: string }
  | TrainEvent;

export interface CompressResult {
  /** What was measured; null for a dry run, which only plans. */
  report: CompressionReport | null;
  /** The plan that was applied (also in report.layers). */
  plan: Plan;
  /** Absolute paths of the files written (empty for a dry run). */
  files: string[];
}

/** What compress() takes: the options (quantization and quality gates included), progress and cancellation. */
export interface CompressRunInput extends CompressInput {
  onEvent?: (event: CompressEvent) => void;
  /**
   * Cancel the run: checked between stages and training batches and before the output is renamed into
   * place. An aborted run throws AbortedError and leaves nothing behind (no output, no temporary folder).
   */
  signal?: AbortSignal;
}

const BackendSchema = z.enum(['auto', 'node', 'wasm', 'cpu'], { error: '--backend must be auto, node, wasm or cpu' }).default('auto');
const ModelPathSchema = z.string({ error: 'the model path must be a string' }).min(1, 'the model path is empty');

function backendOption(value: unknown): BackendChoice {
  const parsed = BackendSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? '--backend is invalid');
  return parsed.data;
}

function modelOption(value: unknown): string {
  const parsed = ModelPathSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0]?.message ?? 'the model path is invalid');
  return parsed.data;
}

/** A dataset path a dry run names must at least exist; it is not read. */
async function checkReadable(file: string): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch {
    throw new DatasetError(file, 'no such file or folder, or it cannot be read');
  }
}


/**
 * Compress a model as the CLI's `compress` does. With gate limits the report carries `gates`; a failed
 * gate is not an error here (the output is still written): callers read `report.gates`.
 */
export async function compress(input: CompressRunInput): Promise<CompressResult> {
  // The model's own defects come before any complaint about flags or data: load it first.
  const started = performance.now();
  const backend = await initBackend(backendOption(input.backend));
  const modelPath = modelOption(input.model);
  const { stored, model: original } = await loadModel(modelPath, { allowNonfinite: input.allowNonfinite === true });
  let factorized: FactorizedModel | undefined;
  // The held-out samples and the original's predictions on them, kept for the size variants.
  let context: EvaluationContext | null = null;
  // Every exit, thrown or returned, frees both models' weights.
  try {
    const options = resolveCompressOptions(input);
    const { quantize, gates } = options;
    if (options.dryRun && hasGates(gates)) throw new UsageError('quality gates need a real run; --dry-run measures nothing');
    const signal = input.signal;
    const listener = input.onEvent ?? (() => {});
    // Every progress event (one per training batch) is a cancellation point.
    const emit = (event: CompressEvent): void => {
      throwIfAborted(signal);
      listener(event);
    };
    if (!options.dryRun) await checkOutputFree(options.out, options.force);
    const shapes = options.data === undefined ? inputShapes(original, options.inputShape) : requireInputShapes(original, options.data, options.inputShape);
    // A dry run plans from the model alone: the data is only checked to exist, never read.
    if (options.dryRun && options.data !== undefined) await checkReadable(options.data);
    const data = shapes === null || options.dryRun ? undefined : await readData(options, shapes);
    let loss: Loss | null = null;
    let objective: Objective | null = null;
    if (data !== undefined) {
      if (original.outputs.length !== 1) {
        throw new DatasetError(data.file, `the model has ${original.outputs.length} outputs; fine-tuning from a dataset needs a model with one output (use --epochs 0 to factorize only)`);
      }
      const outputs = outputSize(original);
      loss = chooseLoss(stored.json.trainingConfig?.['loss'], original, data.labelSize, outputs);
      data.checkLabels(loss.kind, outputs);
      if (options.epochs > 0) objective = { ...loss, distill: distillWeight(options, data), temperature: options.temperature };
    }
    // A gate that cannot be answered is bad input: refuse now, before anything is written.
    checkGatesEvaluable(gates, {
      ...(data !== undefined ? { data: data.validation.file } : {}),
      hasLabels: data?.validation.y !== undefined,
      classifier: loss !== null && isClassification(loss.kind),
      loss: loss?.kind ?? null,
    });
    const loadMs = performance.now() - started;

    let t = performance.now();
    const plan = planModel(options.model, stored.json.modelTopology, original, options.rank, layerFilter(options.layers));
    if (chosen(plan).length === 0) throw nothingToDo(options, plan);
    if (options.dryRun) return { report: null, plan, files: [] };
    const samples = data === undefined ? '' : `, ${data.samples} samples from ${options.data}${'batches' in data.train ? ' (streamed)' : ''}`;
    emit({ status: 'stage', stage: 'load', message: `loaded ${options.model} (${original.countParams()} params)${samples}` });
    if (options.data === undefined) emit({ status: 'note', message: 'no --data given: the model is factorized but not fine-tuned, and no accuracy is measured' });
    emit({ status: 'stage', stage: 'factorize', message: `factorizing ${chosen(plan).length} of ${plan.entries.length} layer(s)` });
    factorized = await applyPlan(options.model, stored.json.modelTopology, original, plan);
    const factorizeMs = performance.now() - t;

    const layers: LayerReport[] = plan.entries.map((e) => ({
      name: e.name,
      className: e.className,
      shape: [e.m, e.n],
      rank: e.rank,
      maxUsefulRank: e.maxUsefulRank,
      paramsBefore: e.paramsBefore,
      paramsAfter: e.paramsAfter,
      ...(e.energyKept !== undefined ? { energyKept: e.energyKept } : {}),
      ...(e.relativeError !== undefined ? { relativeError: e.relativeError } : {}),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      singularValues: e.singularValues,
    }));

    let evaluation: CompressionReport['evaluation'] = null;
    let training: FineTuneResult | null = null;
    let evaluateMs = 0;
    let fineTuneMs = 0;
    if (data !== undefined && loss !== null && shapes !== null) {
      emit({ status: 'stage', stage: 'evaluate', message: `evaluating on ${data.validation.count} held-out samples` });
      t = performance.now();
      const base = evaluateModel(original, loss, data.validation, shapes);
      // The original's predictions stay for the size variants' agreement; `finally` frees them.
      context = { loss, data: data.validation, shapes, reference: base.predictions };
      const before = evaluateModel(factorized.model, loss, data.validation, shapes, base.predictions);
      before.predictions.dispose();
      evaluateMs += performance.now() - t;
      let fineTuned: Metrics | null = null;
      if (objective !== null) {
        const how = objective.distill === 1 ? ', learning the original model\'s outputs' : objective.distill > 0 ? `, ${objective.distill} of the loss from the original model's outputs` : '';
        emit({ status: 'stage', stage: 'fine-tune', message: `fine-tuning ${options.epochs} epoch(s) on ${data.train.count} samples${how}` });
        t = performance.now();
        training = await fineTune(factorized.model, data.train, data.validation, {
          objective,
          epochs: options.epochs,
          batchSize: options.batchSize,
          learningRate: options.learningRate,
          seed: options.seed,
          shapes,
          teacher: original,
          validationTeacher: base.predictions,
          ...(options.train === 'factors' ? { trainLayers: factorLayerNames(factorized) } : {}),
          ...(options.patience !== undefined ? { patience: options.patience } : {}),
          schedule: options.lrSchedule,
          warmupSteps: options.warmupSteps,
          onEvent: emit,
        });
        fineTuneMs = performance.now() - t;
        t = performance.now();
        const after = evaluateModel(factorized.model, loss, data.validation, shapes, base.predictions);
        after.predictions.dispose();
        fineTuned = after.metrics;
        evaluateMs += performance.now() - t;
      }
      evaluation = { original: base.metrics, factorized: before.metrics, fineTuned };
    }

    emit({ status: 'stage', stage: 'measure', message: 'measuring size and speed' });
    t = performance.now();
    const files = modelFiles(factorized.model, {
      originals: stored.weights,
      base: {
        ...(stored.json.generatedBy !== undefined ? { generatedBy: stored.json.generatedBy } : {}),
        ...(stored.json.trainingConfig ? { trainingConfig: stored.json.trainingConfig } : {}),
        ...(stored.json.userDefinedMetadata ? { userDefinedMetadata: stored.json.userDefinedMetadata } : {}),
      },
    });
    const speed = [];
    // Without fixed input sizes there is nothing to time: the report says so by an empty list.
    for (const batchSize of shapes === null ? [] : [1, 32]) {
      const a = await medianPredictMs(original, shapes as InputShapes, batchSize);
      const b = await medianPredictMs(factorized.model, shapes as InputShapes, batchSize);
      speed.push({ batchSize, runs: Math.min(a.runs, b.runs), originalMs: a.ms, outputMs: b.ms });
    }
    const { sizes, written: output } = await measureSizes(options.model, stored.json, stored.weights, files, quantize, context);
    const flopsBefore = countFlops(original, shapes);
    const flopsAfter = countFlops(factorized.model, shapes);
    const uncounted = [...flopsBefore.uncounted, ...flopsAfter.uncounted.filter((u) => !flopsBefore.uncounted.some((b) => b.name === u.name))];
    const measureMs = performance.now() - t;
    const factorizableBefore = plan.entries.reduce((s, e) => s + e.paramsBefore, 0);
    const factorizableAfter = plan.entries.reduce((s, e) => s + e.paramsAfter, 0);
    const report: CompressionReport = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      tool: { name: 'lowrank', version: VERSION },
      createdAt: new Date().toISOString(),
      backend,
      input: {
        path: path.resolve(options.model),
        params: original.countParams(),
        ...measureBytes(stored.weights.map((w) => w.bytes)),
        factorizableParams: factorizableBefore,
      },
      output: {
        path: path.resolve(options.out),
        params: factorized.model.countParams(),
        ...writtenBytes(sizes, quantize),
        factorizableParams: factorizableAfter,
      },
      options: {
        rank: formatRank(options.rank),
        ...(options.layers !== undefined ? { layers: options.layers } : {}),
        epochs: options.epochs,
        batchSize: options.batchSize,
        learningRate: options.learningRate,
        seed: options.seed,
        validationSplit: options.validationSplit,
        ...(quantize !== undefined ? { quantize } : {}),
      },
      layers,
      data:
        data === undefined
          ? null
          : {
              path: path.resolve(data.file),
              samples: data.samples,
              streamed: 'batches' in data.train,
              trainSamples: data.train.count,
              validationSamples: data.validation.count,
              ...(options.validationData !== undefined ? { validationPath: path.resolve(options.validationData) } : {}),
            },
      loss: loss?.kind ?? null,
      ...(loss?.fromLogits === true ? { lossFromLogits: true } : {}),
      evaluation,
      training:
        training === null || objective === null
          ? null
          : {
              distill: objective.distill,
              temperature: objective.temperature,
              train: options.train,
              schedule: options.lrSchedule,
              warmupSteps: options.warmupSteps,
              ...(options.patience !== undefined ? { patience: options.patience } : {}),
              bestEpoch: training.bestEpoch,
              stoppedEarly: training.stoppedEarly,
              ...(training.initialValidationLoss !== undefined ? { initialValidationLoss: training.initialValidationLoss } : {}),
              epochs: training.history,
            },
      sizes,
      speed,
      flops: { original: flopsBefore.flops, output: flopsAfter.flops, uncountedLayers: uncounted },
      timings: { loadMs, factorizeMs, evaluateMs, fineTuneMs, measureMs, writeMs: 0, totalMs: 0 },
    };
    if (hasGates(gates)) report.gates = evaluateGates(report, gates);

    emit({ status: 'stage', stage: 'write', message: `writing ${options.out}` });
    const folder = modelFolderFiles(output);
    // report.json is written with the model, so its own write time is the model files' write time:
    // write those first (as the temporary folder's contents), time it, then add the report.
    await writeFolderAtomically(options.out, folder, options.force, signal, (writeMs) => {
      report.timings.writeMs = writeMs;
      report.timings.totalMs = performance.now() - started;
      return new Map([['report.json', `${JSON.stringify(ReportSchema.parse(report), null, 2)}\n`]]);
    });
    const written = [...folder.keys()].map((name) => path.resolve(options.out, name));
    return { report, plan, files: written };
  } finally {
    original.dispose();
    factorized?.model.dispose();
    context?.reference.dispose();
  }
}

const STORAGES: ReadonlyArray<[SizeVariantName, Storage]> = [
  ['float32', 'float32'],
  ['float16', 'float16'],
  ['uint8', 'uint8'],
];

/**
 * The size table: the original re-stored as float32, float16 and uint8, and the low-rank output as
 * computed and quantized, each written in memory, reloaded and evaluated. Returns the files of the
 * variant to write (the low-rank output, quantized with --quantize).
 */
async function measureSizes(
  modelPath: string,
  json: ModelJson,
  weights: readonly StoredWeight[],
  lowrank: ModelFiles,
  quantize: 'float16' | 'uint8' | undefined,
  context: EvaluationContext | null,
): Promise<{ sizes: SizeVariant[]; written: ModelFiles }> {
  const { weightsManifest: _, ...base } = json;
  const sizes: SizeVariant[] = [];
  for (const [variant, storage] of STORAGES) {
    const files = reencode(() => buildModelFiles(base, weights.map((w) => storeWeightAs(w, storage))));
    // A weight with Inf/NaN has no uint8 range: that row is left out rather than failing the run.
    if (files !== null) sizes.push(await measureVariant(variant, files, context));
  }
  sizes.push(await measureVariant('lowrank', lowrank, context));
  let written = lowrank;
  for (const storage of ['float16', 'uint8'] as const) {
    const files = reencode(() => restoreFiles(lowrank, storage));
    if (files === null) {
      if (quantize === storage) throw new ModelFormatError(modelPath, `--quantize ${storage}: a weight has non-finite values, which ${storage} cannot hold (use float16 or no --quantize)`);
      continue;
    }
    sizes.push(await measureVariant(writtenVariant(storage), files, context));
    if (quantize === storage) written = files;
  }
  return { sizes, written };
}

/** Bytes of the written variant, already measured for the size table (gzip is not cheap). */
function writtenBytes(sizes: readonly SizeVariant[], quantize: 'float16' | 'uint8' | undefined): { weightBytes: number; gzipBytes: number } {
  const row = sizes.find((s) => s.variant === writtenVariant(quantize));
  if (row === undefined) throw new Error(`size table lacks the written variant ${writtenVariant(quantize)}`);
  return { weightBytes: row.weightBytes, gzipBytes: row.gzipBytes };
}

function reencode(build: () => ModelFiles): ModelFiles | null {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** The data of a run: where it came from, what trains, and the held-out part that measures. */
interface SplitData {
  file: string;
  /** Rows in the --data file. */
  samples: number;
  labelSize: number;
  train: Dataset | BatchSource;
  validation: Dataset;
  /** Check the labels against the model's outputs (every row, streamed or not). */
  checkLabels(loss: LossKind, classes: number): void;
}

async function readData(options: CompressOptions, shapes: InputShapes): Promise<SplitData | undefined> {
  if (options.data === undefined) return undefined;
  // With data, the models are always evaluated on a held-out part: there must be one.
  if (options.validationSplit === 0 && options.validationData === undefined) {
    throw new DatasetError(options.data, '--validation-split 0 holds nothing out of it, so there would be nothing to measure the model on; give --validation-data, or a split above 0');
  }
  const base = readOptionsFor(shapes, options);
  const read = {
    ...base,
    ...(options.label !== undefined ? { label: options.label } : {}),
    ...(options.labels !== undefined ? { labels: options.labels } : {}),
  };
  const separate =
    options.validationData === undefined
      ? undefined
      : await readForMeasuring(options.validationData, { ...base, ...(options.validationLabels !== undefined ? { labels: options.validationLabels } : {}) }, options.label);
  const checkSeparate = (loss: LossKind, classes: number): void => {
    if (separate !== undefined) checkLabels(separate, loss, classes);
  };
  if (await shouldStream(options.data, options.stream)) {
    const streamed = await openStream(options.data, read, options.validationSplit, options.seed, separate);
    return {
      file: options.data,
      samples: streamed.samples,
      labelSize: streamed.labelSize,
      train: streamed.train,
      validation: streamed.validation,
      checkLabels: (loss, classes) => {
        checkStreamedLabels(options.data as string, streamed.labels, loss, classes);
        checkSeparate(loss, classes);
      },
    };
  }
  const all = await readDataset(options.data, read);
  const { train, validation } = separate === undefined ? splitDataset(all, options.validationSplit, options.seed) : { train: all, validation: separate };
  return {
    file: all.file,
    samples: all.count,
    labelSize: all.labelSize,
    train,
    validation,
    checkLabels: (loss, classes) => {
      checkLabels(all, loss, classes);
      checkSeparate(loss, classes);
    },
  };
}

/** The label checks of checkLabels, from the summary a streamed pass keeps. */
function checkStreamedLabels(file: string, labels: StreamedData['labels'], loss: LossKind, classes: number): void {
  if (labels === undefined || loss !== 'sparse-categorical-crossentropy') return;
  const bad = labels.fractionalLine ?? (labels.min < 0 ? labels.minLine : labels.max >= classes ? labels.maxLine : undefined);
  if (bad !== undefined) {
    const value = bad === labels.minLine ? labels.min : bad === labels.maxLine ? labels.max : 'a fraction';
    throw new DatasetError(file, `line ${bad}: label ${value} is not a class index of this model (0..${classes - 1})`);
  }
}

/** α of the objective: the user's --distill, else 0 with labels and 1 (pure distillation) without. */
function distillWeight(options: CompressOptions, data: SplitData): number {
  if (data.labelSize === 0) {
    if (options.distill !== undefined && options.distill < 1) {
      throw new UsageError(`--distill ${options.distill} mixes in a label loss, but ${data.file} has no labels (omit --distill: without labels lowrank learns the original model's outputs)`);
    }
    return 1;
  }
  return options.distill ?? 0;
}

/**
 * The layers that --train factors trains: both layers of every factor pair, by full path, so that a
 * same-named layer in another (nested) model is not one of them.
 */
function factorLayerNames(factorized: FactorizedModel): Set<string> {
  const names = new Set<string>();
  for (const [name, first] of factorized.firstFactors) {
    names.add(name);
    names.add(first);
  }
  return names;
}


function nothingToDo(options: CompressOptions, plan: Plan): NothingToDoError {
  if (plan.entries.length === 0) {
    return new NothingToDoError(options.model, `the model has no layer lowrank can factorize (${factorizableClasses().join(', ')})`);
  }
  if (plan.entries.every((e) => e.reason === 'not selected')) {
    return new NothingToDoError(options.model, `--layers "${options.layers ?? ''}" selects none of the factorizable layers (${plan.entries.map((e) => e.name).join(', ')})`);
  }
  const best = plan.entries.reduce((max, e) => Math.max(max, e.maxUsefulRank), 0);
  const hint = best > 0 ? `; the largest rank that would help is ${best}` : '';
  const asked = options.rank.kind === 'energy' ? `--energy ${options.rank.fraction}` : `--rank ${formatRank(options.rank)}`;
  return new NothingToDoError(options.model, `no layer would get smaller at ${asked}${hint}`);
}

// Re-exported so library users need only this module for the common path.
export type { CompressInput, CompressOptions };
export { tf };
