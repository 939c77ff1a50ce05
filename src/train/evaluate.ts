/**
 * Metrics of a model on held-out samples, and how far its predictions are from a reference model's.
 */
import { tf } from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { isClassification, meanLoss, toProbabilities, type Loss } from './loss.js';
import { labelTensor, predictAll, type InputShapes } from './tensors.js';

/** What one model scored on the held-out samples. */
export interface Metrics {
  /** Mean loss against the labels (absent without labels). */
  loss?: number;
  /** Share of samples whose predicted class equals the label (classifiers with labels). */
  accuracy?: number;
  /** Mean squared and mean absolute error against the labels (regression models). */
  mse?: number;
  mae?: number;
  /** Classifiers: share of samples with the same predicted class as the original model. */
  agreement?: number;
  /** ‖p − p_original‖ / ‖p_original‖ over all outputs (probabilities when the outputs are logits). */
  relativeOutputError?: number;
}

/** Predicted class per sample: argmax, or the 0.5 threshold for a single sigmoid output. */
export function predictedClasses(predictions: tf.Tensor): Int32Array {
  return tf.tidy(() => {
    const width = predictions.shape[predictions.shape.length - 1] ?? 1;
    const flat = predictions.reshape([-1, width]);
    const classes = width === 1 ? flat.greater(0.5).toInt().reshape([-1]) : flat.argMax(-1);
    return classes.dataSync() as Int32Array;
  });
}

function labelClasses(labels: tf.Tensor): Int32Array {
  return tf.tidy(() => {
    const width = labels.shape[1] ?? 1;
    const classes = width === 1 ? labels.reshape([-1]).round().toInt() : labels.argMax(-1);
    return classes.dataSync() as Int32Array;
  });
}

function shareEqual(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length === 0 ? 0 : same / a.length;
}

/**
 * Metrics of `predictions` (for `ds`); `reference` are the original model's predictions on the same
 * samples, for agreement. The loss reads the outputs as they are (logits for a loss from logits);
 * classes and the output error are taken from probabilities, so a sigmoid logit is thresholded at 0
 * and logits that differ by a constant per sample count as the same prediction.
 */
export function scorePredictions(loss: Loss, ds: Dataset, predictions: tf.Tensor, reference?: tf.Tensor): Metrics {
  const metrics: Metrics = {};
  const classifier = isClassification(loss.kind);
  const probabilities = toProbabilities(loss, predictions);
  const referenceProbabilities = reference === undefined ? undefined : toProbabilities(loss, reference);
  try {
    if (ds.y !== undefined) {
      const labels = labelTensor(ds);
      metrics.loss = meanLoss(loss, labels, predictions);
      if (classifier) {
        metrics.accuracy = shareEqual(predictedClasses(probabilities), labelClasses(labels));
      } else {
        metrics.mse = meanLoss({ kind: 'mse', fromLogits: false }, labels, predictions);
        metrics.mae = meanLoss({ kind: 'mae', fromLogits: false }, labels, predictions);
      }
      labels.dispose();
    }
    if (referenceProbabilities !== undefined) {
      if (classifier) metrics.agreement = shareEqual(predictedClasses(probabilities), predictedClasses(referenceProbabilities));
      metrics.relativeOutputError = tf.tidy(() => {
        const num = probabilities.sub(referenceProbabilities).norm().dataSync()[0] as number;
        const den = referenceProbabilities.norm().dataSync()[0] as number;
        return den === 0 ? num : num / den;
      });
    }
  } finally {
    tf.dispose([probabilities, ...(referenceProbabilities !== undefined ? [referenceProbabilities] : [])]);
  }
  return metrics;
}

/** Predict on `ds` and score; returns the predictions too (the caller disposes them). */
export function evaluateModel(
  model: tf.LayersModel,
  loss: Loss,
  ds: Dataset,
  shapes: InputShapes,
  reference?: tf.Tensor,
): { metrics: Metrics; predictions: tf.Tensor } {
  const predictions = predictAll(model, ds, shapes);
  return { metrics: scorePredictions(loss, ds, predictions, reference), predictions };
}
