/**
 * Fine-tuning: Adam on the training part with our own loop, so that
 * - the batch order is seeded (tfjs's fit shuffles with Math.random),
 * - the loss can mix labels with the original model's outputs (distillation),
 * - only some layers can be trained (the factor layers), the others keeping all their weights,
 * - the learning rate can follow a schedule, and
 * - the best epoch by validation loss is the one kept, every variable of it.
 * Emits typed progress events and never prints.
 */
import { tf } from '../tf.js';
import { siteKey } from '../graph/topology.js';
import type { Dataset } from '../data/dataset.js';
import { objectiveLoss, type Objective } from './loss.js';
import { createRng } from '../data/random.js';
import { memorySource, type BatchSource } from '../data/stream.js';
import { featureTensors, labelTensor, modelInput, predictAll, type InputShapes } from './tensors.js';
import { FusedAdam } from './fused-adam.js';
import { referenceKernels } from '../kernels/wasm-fallbacks.js';
import { denseChain, denseGradients } from './dense-step.js';
import { crossEntropyHead, headCovers } from './dense-loss.js';

/**
 * constant, cosine and linear decay over all the steps, or plateau: constant until an epoch fails to
 * lower the validation loss, then halved after every such epoch (Keras's ReduceLROnPlateau with factor
 * 0.5 and patience 1); without validation data plateau is constant.
 */
export type LearningRateSchedule = 'constant' | 'cosine' | 'linear' | 'plateau';

/** What the plateau schedule multiplies the learning rate by after an epoch without a better validation loss. */
export const PLATEAU_FACTOR = 0.5;

export interface FineTuneOptions {
  objective: Objective;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Input shapes without the batch dimension. */
  shapes: InputShapes;
  /** The original model, whose outputs the student learns when `objective.distill` > 0. */
  teacher?: tf.LayersModel;
  /** The teacher's outputs on the validation samples (computed once by the caller). */
  validationTeacher?: tf.Tensor;
  /** Paths of the layers to train (`outer/inner` inside a nested model); all trainable layers when omitted. */
  trainLayers?: ReadonlySet<string>;
  /** Stop after this many epochs in a row without a better validation loss. */
  patience?: number;
  schedule?: LearningRateSchedule;
  /** Steps over which the learning rate rises linearly from 0 at the start. */
  warmupSteps?: number;
  onEvent?: (event: TrainEvent) => void;
  /** Told once which training step runs: the Dense-chain path (dense-step.ts) or the general one (for tests). */
  onStep?: (step: 'dense-chain' | 'general') => void;
}

/** Progress of fine-tuning, tagged by `status` so listeners can switch on it. */
export type TrainEvent =
  | { status: 'batch'; epoch: number; epochs: number; batch: number; batches: number; loss: number; samplesPerSecond: number; etaSeconds: number }
  | { status: 'epoch'; epoch: number; epochs: number; loss: number; validationLoss?: number; best: boolean; samplesPerSecond: number; seconds: number };

/** One epoch's numbers, as the report keeps them. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  validationLoss?: number;
  samplesPerSecond: number;
  learningRate: number;
}

export interface FineTuneResult {
  history: EpochRecord[];
  /** The epoch whose weights the model holds at the end (0: none beat the starting point). */
  bestEpoch: number;
  /** Validation loss before the first epoch. */
  initialValidationLoss?: number;
  stoppedEarly: boolean;
}

/** Learning rate at `step` of `total` steps. */
export function learningRateAt(base: number, step: number, total: number, schedule: LearningRateSchedule, warmupSteps: number): number {
  if (warmupSteps > 0 && step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const span = Math.max(1, total - warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  if (schedule === 'cosine') return base * 0.5 * (1 + Math.cos(Math.PI * progress));
  if (schedule === 'linear') return base * (1 - progress);
  // constant, and plateau, whose reductions trainEpochs applies epoch by epoch.
  return base;
}

/**
 * Train `model` in place and leave it holding the best epoch's weights: every variable of that epoch,
 * BatchNormalization's moving statistics included, not only the trained ones.
 */
export async function fineTune(model: tf.LayersModel, train: Dataset | BatchSource, validation: Dataset | undefined, options: FineTuneOptions): Promise<FineTuneResult> {
  const { trained, frozen } = chooseLayers(model, options.trainLayers);
  // tfjs's Adam with the update of each variable fused into one loop (bit-identical; fused-adam.ts);
  // LOWRANK_REFERENCE_KERNELS=1 (the benchmark's "before") keeps tfjs's.
  const optimizer = referenceKernels() ? tf.train.adam(options.learningRate) : new FusedAdam(options.learningRate);
  const restoreCalls = runInInferenceMode(frozen);
  // The teacher's outputs do not change: for data in memory they are computed once, not every epoch.
  const cached = options.objective.distill > 0 && options.teacher !== undefined && !('batches' in train) ? withTeacherOutputs(options.teacher, train, options.shapes) : undefined;
  try {
    const source = cached !== undefined ? memorySource(cached.data) : 'batches' in train ? train : memorySource(train);
    return await trainEpochs(model, source, validation, options, optimizer, trained, cached?.columns);
  } finally {
    restoreCalls();
    optimizer.dispose();
  }
}

/**
 * Split the model's layers (nested models included) into those that train and those that keep their
 * weights. Layers are chosen by path (`outer/inner`), never by bare name: a nested model may hold a
 * layer of the same name. A chosen layer marked `trainable: false` keeps its weights too.
 */
function chooseLayers(model: tf.LayersModel, only: ReadonlySet<string> | undefined): { trained: tf.LayerVariable[]; frozen: tf.layers.Layer[] } {
  const trained: tf.LayerVariable[] = [];
  const frozen: tf.layers.Layer[] = [];
  const visit = (container: tf.LayersModel, prefix: readonly string[]): void => {
    for (const layer of container.layers) {
      const path = [...prefix, layer.name];
      if (layer instanceof tf.LayersModel) visit(layer, path);
      else if ((only === undefined || only.has(siteKey(path))) && layer.trainableWeights.length > 0) trained.push(...layer.trainableWeights);
      else if (layer.weights.length > 0) frozen.push(layer);
    }
  };
  visit(model, []);
  return { trained, frozen };
}

/**
 * Make each layer run as in inference whatever the `training` flag, until the returned function puts
 * it back. A frozen layer must keep ALL its weights, and tfjs's BatchNormalization in training mode
 * normalizes by the batch and writes its moving mean and variance whatever its `trainable` flag
 * (tfjs-layers normalization.ts, `call`: `doMovingAverage` runs whenever `training` is true). In
 * inference mode it only reads them, as Keras runs a frozen BatchNormalization. tfjs passes the flag
 * to each layer's `call`, so that is where it is overridden, per instance.
 */
function runInInferenceMode(layers: readonly tf.layers.Layer[]): () => void {
  const restores = layers.map((layer) => {
    const own = Object.prototype.hasOwnProperty.call(layer, 'call');
    const original = layer.call;
    layer.call = (inputs, kwargs) => original.call(layer, inputs, { ...kwargs, training: false });
    return () => {
      if (own) layer.call = original;
      else Reflect.deleteProperty(layer, 'call');
    };
  });
  return () => restores.forEach((restore) => restore());
}

async function trainEpochs(
  model: tf.LayersModel,
  train: BatchSource,
  validation: Dataset | undefined,
  options: FineTuneOptions,
  optimizer: tf.Optimizer,
  layerVariables: readonly tf.LayerVariable[],
  teacherColumns?: TeacherColumns,
): Promise<FineTuneResult> {
  const { epochs, batchSize, shapes, objective } = options;
  const rng = createRng(options.seed);
  const batches = Math.ceil(train.count / batchSize);
  const totalSteps = epochs * batches;
  const variables = layerVariables.map((w) => w.read() as tf.Variable);
  // The best epoch is kept whole: every variable, trained or not (BatchNormalization statistics move
  // under --train all), so that no epoch's weights end up paired with another's statistics.
  const state = model.weights.map((w) => w.read() as tf.Variable);
  const constrained = layerVariables.filter((w) => w.constraint != null);
  // The optimizer reads its rate at every step; tfjs keeps the field protected, so it is set directly.
  const rate = optimizer as unknown as { learningRate: number };
  const needsTeacher = objective.distill > 0;
  if (needsTeacher && options.teacher === undefined) throw new Error('distillation needs the teacher model');
  // A chain of Dense layers trains without Layers' apply and the tape (dense-step.ts); any other model
  // takes the general step below.
  const chain = denseChain(model, variables);
  const classes = chain?.stages[chain.stages.length - 1]?.kernel.shape[1] ?? 0;
  const jsHead = chain !== undefined && headCovers(objective, teacherColumns?.labelSize ?? train.labelSize, classes);
  options.onStep?.(chain === undefined ? 'general' : 'dense-chain');

  const validate = (): number | undefined => {
    if (validation === undefined || validation.count === 0) return undefined;
    if (objective.distill < 1 && validation.y === undefined) return undefined;
    return tf.tidy(() => {
      const predictions = predictAll(model, validation, shapes);
      const labels = objective.distill < 1 ? labelTensor(validation) : undefined;
      return objectiveLoss(objective, predictions, labels, options.validationTeacher).dataSync()[0] as number;
    });
  };

  const initialValidationLoss = validate();
  let bestLoss = initialValidationLoss ?? Infinity;
  let bestEpoch = 0;
  let bestWeights: tf.Tensor[] | undefined = initialValidationLoss === undefined ? undefined : state.map((v) => v.clone());
  const history: EpochRecord[] = [];
  let stoppedEarly = false;
  let step = 0;
  // The plateau schedule's multiplier: halved after each epoch that does not lower the validation loss.
  let reduction = 1;
  let trained = 0; // samples over all epochs, for the rate
  const trainStarted = performance.now();
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const started = performance.now();
      let lossSum = 0;
      let seen = 0;
      let learningRate = options.learningRate;
      let b = 0;
      for await (const stored of train.batches(batchSize, rng)) {
        // With the teacher's outputs stored beside the labels, split them off.
        const { batch, teacherValues } = teacherColumns === undefined ? { batch: stored, teacherValues: undefined } : splitTeacher(stored, teacherColumns);
        learningRate = reduction * learningRateAt(options.learningRate, step, totalSteps, options.schedule ?? 'constant', options.warmupSteps ?? 0);
        rate.learningRate = learningRate;
        const loss = tf.tidy(() => {
          const xs = modelInput(featureTensors(batch, shapes));
          const ys = objective.distill < 1 && !jsHead ? labelTensor(batch) : undefined;
          const teacher = !needsTeacher
            ? undefined
            : teacherValues !== undefined && teacherColumns !== undefined
              ? tf.tensor(teacherValues, [batch.count, ...teacherColumns.outputShape])
              : (options.teacher!.predict(xs) as tf.Tensor);
          if (chain !== undefined) {
            const head = jsHead ? (outputs: Float32Array, grad: Float32Array) => crossEntropyHead(objective, outputs, batch.y, teacherValues ?? (teacher?.dataSync() as Float32Array | undefined), batch.count, classes, grad) : undefined;
            const { value, grads } = denseGradients(chain, xs as tf.Tensor, variables, (predictions) => objectiveLoss(objective, predictions, ys, teacher), head);
            optimizer.applyGradients(grads);
            for (const w of constrained) w.write(w.constraint.apply(w.read()));
            return value;
          }
          const cost = optimizer.minimize(
            () => {
              const predictions = model.apply(xs, { training: true }) as tf.Tensor;
              const regularization = model.calculateLosses();
              const base = objectiveLoss(objective, predictions, ys, teacher);
              return regularization.length === 0 ? base : (tf.addN([base, ...regularization]) as tf.Scalar);
            },
            true,
            variables,
          );
          for (const w of constrained) w.write(w.constraint.apply(w.read()));
          return cost?.dataSync()[0] ?? NaN;
        });
        step++;
        b++;
        seen += batch.count;
        trained += batch.count;
        lossSum += loss * batch.count;
        const elapsed = (performance.now() - trainStarted) / 1000;
        const samplesPerSecond = trained / Math.max(elapsed, 1e-9);
        options.onEvent?.({
          status: 'batch',
          epoch,
          epochs,
          batch: b,
          batches,
          loss,
          samplesPerSecond,
          etaSeconds: ((totalSteps - step) * elapsed) / step,
        });
        // Let the event loop breathe (signals, progress output) between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const seconds = (performance.now() - started) / 1000;
      const record: EpochRecord = { epoch, loss: lossSum / seen, samplesPerSecond: seen / seconds, learningRate };
      const validationLoss = validate();
      let best = false;
      if (validationLoss !== undefined) {
        record.validationLoss = validationLoss;
        if (validationLoss < bestLoss) {
          best = true;
          bestLoss = validationLoss;
          bestEpoch = epoch;
          tf.dispose(bestWeights);
          bestWeights = state.map((v) => v.clone());
        } else if (options.schedule === 'plateau') {
          reduction *= PLATEAU_FACTOR;
        }
      } else {
        bestEpoch = epoch;
      }
      history.push(record);
      options.onEvent?.({ status: 'epoch', epoch, epochs, loss: record.loss, ...(validationLoss !== undefined ? { validationLoss } : {}), best, samplesPerSecond: record.samplesPerSecond, seconds });
      if (options.patience !== undefined && validationLoss !== undefined && epoch - bestEpoch >= options.patience && epoch < epochs) {
        stoppedEarly = true;
        break;
      }
    }
    // Keep the best epoch, not the last one.
    if (bestWeights !== undefined && bestEpoch !== history.length) state.forEach((v, i) => v.assign(bestWeights![i] as tf.Tensor));
  } finally {
    tf.dispose(bestWeights);
  }
  return { history, bestEpoch, ...(initialValidationLoss !== undefined ? { initialValidationLoss } : {}), stoppedEarly };
}

/** Where the teacher's outputs sit in a training dataset's label rows (after the labels). */
interface TeacherColumns {
  /** The labels' own width (0 without labels). */
  labelSize: number;
  outputShape: number[];
  hasLabels: boolean;
}

/** Above this many bytes of teacher outputs, the teacher runs on every batch instead. */
const TEACHER_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The training set with the teacher's outputs appended to each label row, computed once in batches:
 * the same values the teacher gives batch by batch (its predict is inference, row by row), without
 * running it again every epoch. Undefined for a teacher with several or open-sized outputs, or when
 * they would take more than TEACHER_CACHE_BYTES.
 */
function withTeacherOutputs(teacher: tf.LayersModel, train: Dataset, shapes: InputShapes): { data: Dataset; columns: TeacherColumns } | undefined {
  const output = teacher.outputs.length === 1 ? teacher.outputs[0] : undefined;
  const outputShape = output?.shape.slice(1);
  if (outputShape === undefined || outputShape.some((d) => d === null)) return undefined;
  const width = (outputShape as number[]).reduce((a, b) => a * b, 1);
  if (train.count * width * 4 > TEACHER_CACHE_BYTES) return undefined;
  const predictions = predictAll(teacher, train, shapes);
  const values = predictions.dataSync() as Float32Array;
  predictions.dispose();
  const labelSize = train.y === undefined ? 0 : train.labelSize;
  const stride = labelSize + width;
  const y = new Float32Array(train.count * stride);
  for (let r = 0; r < train.count; r++) {
    if (train.y !== undefined) y.set(train.y.subarray(r * labelSize, (r + 1) * labelSize), r * stride);
    y.set(values.subarray(r * width, (r + 1) * width), r * stride + labelSize);
  }
  return { data: { ...train, y, labelSize: stride }, columns: { labelSize, outputShape: outputShape as number[], hasLabels: train.y !== undefined } };
}

/** A batch of the widened dataset back as the batch of labels and its teacher outputs. */
function splitTeacher(stored: Dataset, columns: TeacherColumns): { batch: Dataset; teacherValues: Float32Array } {
  const rows = stored.count;
  const stride = stored.labelSize;
  const width = stride - columns.labelSize;
  const all = stored.y as Float32Array;
  const teacherValues = new Float32Array(rows * width);
  const labels = columns.hasLabels ? new Float32Array(rows * columns.labelSize) : undefined;
  for (let r = 0; r < rows; r++) {
    if (labels !== undefined) labels.set(all.subarray(r * stride, r * stride + columns.labelSize), r * columns.labelSize);
    teacherValues.set(all.subarray(r * stride + columns.labelSize, (r + 1) * stride), r * width);
  }
  return { batch: { ...stored, labelSize: columns.labelSize, y: labels }, teacherValues };
}
