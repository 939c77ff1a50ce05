/**
 * Evaluate the original and the factorized model on the held-out samples, fine-tune, and evaluate
 * again. Without data this stage measures nothing and says so by nulls.
 */
import type { FactorizedModel } from '../factorize/index.js';
import type { EvaluationContext } from '../measure/sizes.js';
import type { CompressionReport } from '../report/schema.js';
import { evaluateModel, type Metrics } from '../train/evaluate.js';
import { fineTune, type FineTuneResult } from '../train/fine-tune.js';
import type { Prepared } from './prepare.js';

export interface Tuned {
  evaluation: CompressionReport['evaluation'];
  training: FineTuneResult | null;
  /** The held-out samples and the original's predictions on them, for the size variants; the caller disposes `reference`. */
  context: EvaluationContext | null;
  evaluateMs: number;
  fineTuneMs: number;
}

/**
 * `originalEvaluated`: the original's evaluation when the caller already has it (a sweep evaluates it once
 * for all its points); `context.reference` is then its predictions, which the caller keeps and disposes.
 */
export async function tune(run: Prepared, factorized: FactorizedModel, originalEvaluated?: ReturnType<typeof evaluateModel>): Promise<Tuned> {
  const { data, loss, shapes, original, emit } = run;
  if (data === undefined || loss === null || shapes === null) return { evaluation: null, training: null, context: null, evaluateMs: 0, fineTuneMs: 0 };
  emit({ status: 'stage', stage: 'evaluate', message: `evaluating on ${data.validation.count} held-out samples` });
  let t = performance.now();
  const base = originalEvaluated ?? evaluateModel(original, loss, data.validation, shapes);
  const context: EvaluationContext = { loss, data: data.validation, shapes, reference: base.predictions };
  const before = evaluateModel(factorized.model, loss, data.validation, shapes, base.predictions);
  before.predictions.dispose();
  let evaluateMs = performance.now() - t;
  let fineTuned: Metrics | null = null;
  let training: FineTuneResult | null = null;
  let fineTuneMs = 0;
  if (run.objective !== null) {
    t = performance.now();
    training = await train(run, factorized, base.predictions);
    fineTuneMs = performance.now() - t;
    t = performance.now();
    const after = evaluateModel(factorized.model, loss, data.validation, shapes, base.predictions);
    after.predictions.dispose();
    fineTuned = after.metrics;
    evaluateMs += performance.now() - t;
  }
  return { evaluation: { original: base.metrics, factorized: before.metrics, fineTuned }, training, context, evaluateMs, fineTuneMs };
}

async function train(run: Prepared, factorized: FactorizedModel, teacherPredictions: EvaluationContext['reference']): Promise<FineTuneResult> {
  const { options, data, objective, shapes, original, emit } = run;
  if (data === undefined || objective === null || shapes === null) throw new Error('train() needs data, an objective and input shapes');
  const how = objective.distill === 1 ? ', learning the original model\'s outputs' : objective.distill > 0 ? `, ${objective.distill} of the loss from the original model's outputs` : '';
  emit({ status: 'stage', stage: 'fine-tune', message: `fine-tuning ${options.epochs} epoch(s) on ${data.train.count} samples${how}` });
  return fineTune(factorized.model, data.train, data.validation, {
    objective,
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    seed: options.seed,
    shapes,
    teacher: original,
    validationTeacher: teacherPredictions,
    ...(options.train === 'factors' ? { trainLayers: factorLayerNames(factorized) } : {}),
    ...(options.patience > 0 ? { patience: options.patience } : {}),
    schedule: options.lrSchedule,
    warmupSteps: options.warmupSteps,
    onEvent: emit,
  });
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
