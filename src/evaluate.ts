/**
 * `evaluate()`: the metrics compress reports, for any model on any dataset (the whole file, no split),
 * optionally against a reference model's predictions (agreement, relative output error).
 */
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { loadModel } from './io/index.js';
import { BackendSchema, numeric, parseImageShape, parseOptions, parseShape } from './options.js';
import { initBackend, tf } from './tf.js';
import { evaluateModel, type Metrics } from './train/evaluate.js';
import { chooseLoss, type LossKind } from './train/loss.js';
import { checkLabels, outputSize, readForMeasuring, readOptionsFor } from './train/model-data.js';
import { predictAll, requireInputShapes } from './train/tensors.js';

const EvaluateOptionsSchema = z.object({
  model: z.string().min(1),
  data: z.string({ error: '--data is required' }).min(1, '--data is required'),
  reference: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
  labels: z.string().min(1).optional(),
  inputScale: numeric(z.number({ error: '--input-scale must be a number' }).gt(0, '--input-scale must be greater than 0')).optional(),
  imageShape: z.union([z.string(), z.array(z.number())]).optional(),
  inputShape: z.union([z.string(), z.array(z.number())]).optional(),
  backend: BackendSchema,
  allowNonfinite: z.boolean().default(false),
  /** A JS module whose setup(tf) registers the model's custom layer classes (runs the user's code). */
  setup: z.string().min(1, '--setup is empty').optional(),
});
export type EvaluateInput = z.input<typeof EvaluateOptionsSchema>;

/** What `lowrank evaluate` measured. */
export interface EvaluationReport {
  model: string;
  reference?: string;
  data: string;
  samples: number;
  backend: string;
  loss: LossKind;
  /** Present (true) when the loss reads the model's outputs as logits. */
  lossFromLogits?: boolean;
  metrics: Metrics;
}

export async function evaluate(input: EvaluateInput): Promise<EvaluationReport> {
  const o = parseOptions(EvaluateOptionsSchema, input);
  const backend = await initBackend(o.backend);
  const { stored, model } = await loadModel(o.model, { allowNonfinite: o.allowNonfinite, ...(o.setup !== undefined ? { setup: o.setup } : {}), purpose: 'evaluating' });
  let reference: Awaited<ReturnType<typeof loadModel>> | undefined;
  try {
    reference = o.reference === undefined ? undefined : await loadModel(o.reference, { allowNonfinite: o.allowNonfinite, ...(o.setup !== undefined ? { setup: o.setup } : {}), purpose: 'evaluating' });
  } catch (err) {
    model.dispose();
    throw err;
  }
  try {
    const shapes = requireInputShapes(model, o.data, o.inputShape === undefined ? undefined : parseShape(o.inputShape));
    const read = readOptionsFor(shapes, {
      ...(o.inputScale !== undefined ? { inputScale: o.inputScale } : {}),
      ...(o.imageShape !== undefined ? { imageShape: parseImageShape(o.imageShape) } : {}),
    });
    const ds = await readForMeasuring(o.data, { ...read, ...(o.labels !== undefined ? { labels: o.labels } : {}) }, o.label);
    const outputs = outputSize(model);
    const loss = chooseLoss(stored.json.trainingConfig?.['loss'], model, ds.labelSize, outputs);
    checkLabels(ds, loss.kind, outputs);
    const referencePredictions = reference === undefined ? undefined : predictAll(reference.model, ds, shapes);
    const { metrics, predictions } = evaluateModel(model, loss, ds, shapes, referencePredictions);
    tf.dispose([predictions, ...(referencePredictions ? [referencePredictions] : [])]);
    return {
      model: path.resolve(o.model),
      ...(o.reference !== undefined ? { reference: path.resolve(o.reference) } : {}),
      data: path.resolve(o.data),
      samples: ds.count,
      backend,
      loss: loss.kind,
      ...(loss.fromLogits ? { lossFromLogits: true } : {}),
      metrics,
    };
  } finally {
    model.dispose();
    reference?.model.dispose();
  }
}
