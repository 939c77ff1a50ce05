/**
 * Which loss a model is trained with: from its training config when it has one (a name, or a Keras 2
 * or Keras 3 serialized loss with its `from_logits`), else inferred from the output activation and the
 * labels' shape. A loss "from logits" reads the model's outputs as scores before softmax (sigmoid for
 * binary cross-entropy) and applies it itself; what compares classes or probabilities (accuracy,
 * agreement, output error) goes through `toProbabilities` first, and distillation softens logits as
 * softmax(z / T).
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';

/** The losses lowrank fine-tunes and evaluates with. */
export type LossKind = 'sparse-categorical-crossentropy' | 'categorical-crossentropy' | 'binary-crossentropy' | 'mse' | 'mae';

/** The loss, and whether it reads the model's outputs as logits rather than probabilities. */
export interface Loss {
  kind: LossKind;
  /** Only ever true for the cross-entropies: the outputs are scores, softmax/sigmoid is the loss's. */
  fromLogits: boolean;
}

/** tfjs-layers' name for each loss (what model.compile accepts). */
export const TFJS_LOSS: Record<LossKind, string> = {
  'sparse-categorical-crossentropy': 'sparseCategoricalCrossentropy',
  'categorical-crossentropy': 'categoricalCrossentropy',
  'binary-crossentropy': 'binaryCrossentropy',
  mse: 'meanSquaredError',
  mae: 'meanAbsoluteError',
};

const NAMES: Record<string, LossKind> = {
  sparse_categorical_crossentropy: 'sparse-categorical-crossentropy',
  sparsecategoricalcrossentropy: 'sparse-categorical-crossentropy',
  categorical_crossentropy: 'categorical-crossentropy',
  categoricalcrossentropy: 'categorical-crossentropy',
  binary_crossentropy: 'binary-crossentropy',
  binarycrossentropy: 'binary-crossentropy',
  mean_squared_error: 'mse',
  meansquarederror: 'mse',
  mse: 'mse',
  mean_absolute_error: 'mae',
  meanabsoluteerror: 'mae',
  mae: 'mae',
};

/** Map a Keras or tfjs loss name ('sparse_categorical_crossentropy', 'meanSquaredError', ...) to ours. */
export function parseLossName(name: string): LossKind | undefined {
  const key = name.toLowerCase().replace(/-/g, '_');
  return NAMES[key] ?? NAMES[key.replace(/_/g, '')];
}

/**
 * The activation of the model's (first) output layer, 'linear' when it has none. A `Softmax` layer
 * counts as a softmax activation, an `Activation` layer as its activation, and a nested model as its
 * own output layer.
 */
export function outputActivation(model: tf.LayersModel): string {
  let layer: tf.layers.Layer | undefined = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  while (layer instanceof tf.LayersModel) layer = layer.outputLayers?.[0] ?? layer.layers[layer.layers.length - 1];
  if (layer === undefined) return 'linear';
  if (layer.getClassName() === 'Softmax') return 'softmax';
  const activation = layer.getConfig()['activation'];
  return typeof activation === 'string' ? activation : 'linear';
}

/** What a training config says about its loss; `kind` is absent for a loss lowrank does not know. */
interface StoredLoss {
  kind?: LossKind;
  fromLogits: boolean;
}

/**
 * Read a training config's `loss`: a name ('sparse_categorical_crossentropy', 'meanSquaredError',
 * 'SparseCategoricalCrossentropy'), a Keras 2 object `{class_name, config: {from_logits}}`, a Keras 3
 * one (the same plus `module` and `registered_name`; a plain function loss is
 * `{class_name: 'function', config: '<name>'}`), or any of these as the only entry of a list or of a
 * map by output name. Undefined when there is no loss to read.
 */
function readStoredLoss(value: unknown): StoredLoss | undefined {
  if (typeof value === 'string') {
    const kind = parseLossName(value);
    return { ...(kind !== undefined ? { kind } : {}), fromLogits: false };
  }
  if (Array.isArray(value)) return value.length === 1 ? readStoredLoss(value[0]) : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const className = record['class_name'] ?? record['className'];
  if (typeof className !== 'string') {
    const entries = Object.values(record);
    return entries.length === 1 ? readStoredLoss(entries[0]) : undefined;
  }
  const config = record['config'];
  if (className === 'function') return typeof config === 'string' ? readStoredLoss(config) : undefined;
  const options = typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {};
  const kind = parseLossName(className);
  return { ...(kind !== undefined ? { kind } : {}), fromLogits: (options['from_logits'] ?? options['fromLogits']) === true };
}

/**
 * The loss to use. `trainingLoss` is the training config's `loss` (if any); `labelSize` the number of
 * label values per sample; `outputSize` the model's output units.
 */
export function chooseLoss(trainingLoss: unknown, model: tf.LayersModel, labelSize: number, outputSize: number): Loss {
  const stored = readStoredLoss(trainingLoss);
  if (stored?.kind !== undefined) {
    const kind = adjustToLabels(stored.kind, labelSize, outputSize);
    return { kind, fromLogits: stored.fromLogits && isClassification(kind) };
  }
  // A loss lowrank has no formula for, but which says its inputs are logits: a cross-entropy of some
  // kind, so the one the labels imply.
  if (stored?.fromLogits === true) return { kind: crossEntropyFor(labelSize, outputSize), fromLogits: true };
  const activation = outputActivation(model);
  if (activation === 'softmax') return { kind: labelSize === outputSize && outputSize > 1 ? 'categorical-crossentropy' : 'sparse-categorical-crossentropy', fromLogits: false };
  if (activation === 'sigmoid') return { kind: 'binary-crossentropy', fromLogits: false };
  return { kind: 'mse', fromLogits: false };
}

function crossEntropyFor(labelSize: number, outputSize: number): LossKind {
  if (outputSize === 1) return 'binary-crossentropy';
  return labelSize === outputSize ? 'categorical-crossentropy' : 'sparse-categorical-crossentropy';
}

/** A stored categorical loss with integer labels (or the reverse) follows the labels actually given. */
function adjustToLabels(kind: LossKind, labelSize: number, outputSize: number): LossKind {
  if (kind === 'categorical-crossentropy' && labelSize === 1 && outputSize > 1) return 'sparse-categorical-crossentropy';
  if (kind === 'sparse-categorical-crossentropy' && labelSize === outputSize && outputSize > 1) return 'categorical-crossentropy';
  return kind;
}

/** True for losses whose outputs are class scores (argmax is the prediction). */
export function isClassification(kind: LossKind): boolean {
  return kind === 'sparse-categorical-crossentropy' || kind === 'categorical-crossentropy' || kind === 'binary-crossentropy';
}

/**
 * The model's outputs as probabilities: softmax over the last axis (sigmoid per output for binary
 * cross-entropy) of logits, else the outputs as they are.
 */
export function toProbabilities(loss: Loss, outputs: tf.Tensor): tf.Tensor {
  if (!loss.fromLogits) return outputs.clone();
  return tf.tidy(() => (loss.kind === 'binary-crossentropy' ? tf.sigmoid(outputs) : tf.softmax(outputs)));
}

/** −Σ y·log softmax(z) over the last axis: categorical cross-entropy of logits, stable for any z. */
function softmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => labels.mul(tf.logSoftmax(logits)).sum(-1).neg());
}

/**
 * Binary cross-entropy of logits, averaged over the last axis as tfjs averages it for probabilities:
 * max(z, 0) − z·y + log(1 + e^−|z|), which equals −y·log σ(z) − (1−y)·log(1−σ(z)) without overflow.
 */
function sigmoidCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.relu(logits).sub(logits.mul(labels)).add(tf.log1p(tf.exp(logits.abs().neg()))).mean(-1));
}

/** Per-sample loss of predictions against labels, as a tensor [count] (the formula tfjs trains with). */
export function perSampleLoss(loss: Loss, labels: tf.Tensor, predictions: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { kind, fromLogits } = loss;
    switch (kind) {
      case 'sparse-categorical-crossentropy': {
        const classes = predictions.shape[predictions.shape.length - 1] ?? 1;
        const oneHot = tf.oneHot(labels.flatten().toInt(), classes);
        const flat = predictions.reshape([-1, classes]);
        return fromLogits ? softmaxCrossEntropy(oneHot, flat) : tf.metrics.categoricalCrossentropy(oneHot, flat);
      }
      case 'categorical-crossentropy':
        return fromLogits ? softmaxCrossEntropy(labels, predictions) : tf.metrics.categoricalCrossentropy(labels, predictions);
      case 'binary-crossentropy':
        return fromLogits ? sigmoidCrossEntropy(labels, predictions) : tf.metrics.binaryCrossentropy(labels, predictions);
      case 'mse':
        return tf.metrics.meanSquaredError(labels, predictions.reshape(labels.shape));
      case 'mae':
        return tf.metrics.meanAbsoluteError(labels, predictions.reshape(labels.shape));
      default:
        throw new UsageError(`unknown loss ${String(kind)}`);
    }
  });
}

/** Mean loss of predictions against labels, as a number. */
export function meanLoss(loss: Loss, labels: tf.Tensor, predictions: tf.Tensor): number {
  return tf.tidy(() => perSampleLoss(loss, labels, predictions).mean().dataSync()[0] as number);
}

/** Soften probabilities by a temperature: p^(1/T) renormalised, which is softmax(logits / T). */
function soften(probabilities: tf.Tensor, temperature: number, binary: boolean): tf.Tensor {
  return tf.tidy(() => {
    const p = probabilities.clipByValue(1e-7, 1 - 1e-7);
    if (temperature === 1) return p;
    const powered = p.pow(1 / temperature);
    const denominator = binary ? powered.add(p.neg().add(1).pow(1 / temperature)) : powered.sum(-1, true);
    return powered.div(denominator);
  });
}

/**
 * Distillation loss of the student's outputs against the teacher's, as a tensor [count]. Classifiers
 * learn the teacher's softened class distribution (cross-entropy at temperature T, scaled by T² so the
 * gradient size does not depend on T, as Hinton et al. do); other models its outputs (squared error).
 * Logits are softened as Hinton et al. define it, softmax(z / T) (sigmoid(z / T) for binary).
 */
export function perSampleDistillLoss(loss: Loss, teacher: tf.Tensor, student: tf.Tensor, temperature: number): tf.Tensor {
  return tf.tidy(() => {
    const { kind, fromLogits } = loss;
    const scale = temperature * temperature;
    if (kind === 'sparse-categorical-crossentropy' || kind === 'categorical-crossentropy') {
      const classes = student.shape[student.shape.length - 1] ?? 1;
      const t = teacher.reshape([-1, classes]);
      const s = student.reshape([-1, classes]);
      if (fromLogits) return softmaxCrossEntropy(tf.softmax(t.div(temperature)), s.div(temperature)).mul(scale);
      return tf.metrics.categoricalCrossentropy(soften(t, temperature, false), soften(s, temperature, false)).mul(scale);
    }
    if (kind === 'binary-crossentropy') {
      if (fromLogits) return sigmoidCrossEntropy(tf.sigmoid(teacher.div(temperature)), student.div(temperature)).mul(scale);
      return tf.metrics.binaryCrossentropy(soften(teacher, temperature, true), soften(student, temperature, true)).mul(scale);
    }
    const flatTeacher = teacher.reshape([teacher.shape[0] ?? -1, -1]);
    const flatStudent = student.reshape([student.shape[0] ?? -1, -1]);
    return tf.metrics.meanSquaredError(flatTeacher, flatStudent);
  });
}

/**
 * What fine-tuning minimises: the task loss against labels, the distillation loss against the
 * original model's outputs, or a mix `(1 − α)·task + α·distill`.
 */
export interface Objective extends Loss {
  /** α: 0 trains on labels only, 1 on the teacher only. */
  distill: number;
  temperature: number;
}

/** The objective's mean over a batch, as a scalar tensor (for gradients). */
export function objectiveLoss(objective: Objective, predictions: tf.Tensor, labels: tf.Tensor | undefined, teacher: tf.Tensor | undefined): tf.Scalar {
  return tf.tidy(() => {
    const { distill } = objective;
    let total: tf.Tensor = tf.scalar(0);
    if (distill < 1) {
      if (labels === undefined) throw new Error('objective needs labels');
      total = total.add(perSampleLoss(objective, labels, predictions).mean().mul(1 - distill));
    }
    if (distill > 0) {
      if (teacher === undefined) throw new Error('objective needs teacher outputs');
      total = total.add(perSampleDistillLoss(objective, teacher, predictions, objective.temperature).mean().mul(distill));
    }
    return total as tf.Scalar;
  });
}
