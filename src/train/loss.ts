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

/** Per-sample loss of predictions against labels, averaged: the same formula tfjs trains with. */
export function meanLoss(kind: LossKind, labels: tf.Tensor, predictions: tf.Tensor): number {
  return tf.tidy(() => {
    let perSample: tf.Tensor;
    switch (kind) {
      case 'sparse-categorical-crossentropy': {
        const classes = predictions.shape[predictions.shape.length - 1] ?? 1;
        const oneHot = tf.oneHot(labels.flatten().toInt(), classes);
        perSample = tf.metrics.categoricalCrossentropy(oneHot, predictions.reshape([-1, classes]));
        break;
      }
      case 'categorical-crossentropy':
        perSample = tf.metrics.categoricalCrossentropy(labels, predictions);
        break;
      case 'binary-crossentropy':
        perSample = tf.metrics.binaryCrossentropy(labels, predictions);
        break;
      case 'mse':
        perSample = tf.metrics.meanSquaredError(labels, predictions);
        break;
      case 'mae':
        perSample = tf.metrics.meanAbsoluteError(labels, predictions);
        break;
      default:
        throw new UsageError(`unknown loss ${String(kind)}`);
    }
    return perSample.mean().dataSync()[0] as number;
  });
}
