/**
 * Which loss a model is trained with: from its training config when it has one, else inferred from
 * the output activation and the labels' shape.
 */
import { tf } from '../tf.js';
import { UsageError } from '../errors.js';

/** The losses lowrank fine-tunes and evaluates with. */
export type LossKind = 'sparse-categorical-crossentropy' | 'categorical-crossentropy' | 'binary-crossentropy' | 'mse' | 'mae';

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

/** The activation of the model's (first) output layer, 'linear' when it has none. */
export function outputActivation(model: tf.LayersModel): string {
  const layer = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  const activation = layer?.getConfig()['activation'];
  return typeof activation === 'string' ? activation : 'linear';
}

/**
 * The loss to use. `trainingLoss` is the training config's `loss` (if any); `labelSize` the number of
 * label values per sample; `outputSize` the model's output units.
 */
export function chooseLoss(trainingLoss: unknown, model: tf.LayersModel, labelSize: number, outputSize: number): LossKind {
  if (typeof trainingLoss === 'string') {
    const parsed = parseLossName(trainingLoss);
    if (parsed !== undefined) return adjustToLabels(parsed, labelSize, outputSize);
  }
  const activation = outputActivation(model);
  if (activation === 'softmax') return labelSize === outputSize && outputSize > 1 ? 'categorical-crossentropy' : 'sparse-categorical-crossentropy';
  if (activation === 'sigmoid') return 'binary-crossentropy';
  return 'mse';
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

/** Per-sample loss of predictions against labels, as a tensor [count] (the formula tfjs trains with). */
export function perSampleLoss(kind: LossKind, labels: tf.Tensor, predictions: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    switch (kind) {
      case 'sparse-categorical-crossentropy': {
        const classes = predictions.shape[predictions.shape.length - 1] ?? 1;
        const oneHot = tf.oneHot(labels.flatten().toInt(), classes);
        return tf.metrics.categoricalCrossentropy(oneHot, predictions.reshape([-1, classes]));
      }
      case 'categorical-crossentropy':
        return tf.metrics.categoricalCrossentropy(labels, predictions);
      case 'binary-crossentropy':
        return tf.metrics.binaryCrossentropy(labels, predictions);
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
export function meanLoss(kind: LossKind, labels: tf.Tensor, predictions: tf.Tensor): number {
  return tf.tidy(() => perSampleLoss(kind, labels, predictions).mean().dataSync()[0] as number);
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
 */
export function perSampleDistillLoss(kind: LossKind, teacher: tf.Tensor, student: tf.Tensor, temperature: number): tf.Tensor {
  return tf.tidy(() => {
    if (kind === 'sparse-categorical-crossentropy' || kind === 'categorical-crossentropy') {
      const classes = student.shape[student.shape.length - 1] ?? 1;
      const t = soften(teacher.reshape([-1, classes]), temperature, false);
      const s = soften(student.reshape([-1, classes]), temperature, false);
      return tf.metrics.categoricalCrossentropy(t, s).mul(temperature * temperature);
    }
    if (kind === 'binary-crossentropy') {
      const t = soften(teacher, temperature, true);
      const s = soften(student, temperature, true);
      return tf.metrics.binaryCrossentropy(t, s).mul(temperature * temperature);
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
export interface Objective {
  kind: LossKind;
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
      total = total.add(perSampleLoss(objective.kind, labels, predictions).mean().mul(1 - distill));
    }
    if (distill > 0) {
      if (teacher === undefined) throw new Error('objective needs teacher outputs');
      total = total.add(perSampleDistillLoss(objective.kind, teacher, predictions, objective.temperature).mean().mul(distill));
    }
    return total as tf.Scalar;
  });
}
