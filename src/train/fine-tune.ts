/**
 * Fine-tuning: Adam on the training part, our own seeded batch order (tfjs's fit shuffles with
 * Math.random), validation loss after every epoch, typed progress events and no printing.
 */
import { tf } from '../tf.js';
import type { Dataset } from './dataset.js';
import { meanLoss, TFJS_LOSS, type LossKind } from './loss.js';
import { createRng } from './random.js';
import { featureTensors, labelTensor, modelInput, predictAll, type InputShapes } from './tensors.js';

export interface FineTuneOptions {
  loss: LossKind;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Input shapes without the batch dimension. */
  shapes: InputShapes;
  onEvent?: (event: TrainEvent) => void;
}

/** Progress of fine-tuning, tagged by `status` so listeners can switch on it. */
export type TrainEvent =
  | { status: 'batch'; epoch: number; epochs: number; batch: number; batches: number; loss: number }
  | { status: 'epoch'; epoch: number; epochs: number; loss: number; validationLoss?: number; samplesPerSecond: number; seconds: number };

/** One epoch's numbers, as the report keeps them. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  validationLoss?: number;
  samplesPerSecond: number;
}

/** Train `model` in place; returns the per-epoch history. */
export async function fineTune(model: tf.LayersModel, train: Dataset, validation: Dataset | undefined, options: FineTuneOptions): Promise<EpochRecord[]> {
  // We own the optimizer (model.dispose() only frees optimizers compiled from a name): free its slots.
  const optimizer = tf.train.adam(options.learningRate);
  model.compile({ optimizer, loss: TFJS_LOSS[options.loss] });
  try {
    return await trainEpochs(model, train, validation, options);
  } finally {
    optimizer.dispose();
  }
}

async function trainEpochs(model: tf.LayersModel, train: Dataset, validation: Dataset | undefined, options: FineTuneOptions): Promise<EpochRecord[]> {
  const { epochs, batchSize, shapes } = options;
  const rng = createRng(options.seed);
  const batches = Math.ceil(train.count / batchSize);
  const history: EpochRecord[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = rng.permutation(train.count);
    const started = performance.now();
    let lossSum = 0;
    for (let b = 0; b < batches; b++) {
      const indices = order.subarray(b * batchSize, Math.min(train.count, (b + 1) * batchSize));
      const xs = featureTensors(train, shapes, indices);
      const ys = labelTensor(train, indices);
      const result = await model.trainOnBatch(modelInput(xs), ys);
      tf.dispose([...xs, ys]);
      const loss = Array.isArray(result) ? (result[0] as number) : result;
      lossSum += loss * indices.length;
      options.onEvent?.({ status: 'batch', epoch, epochs, batch: b + 1, batches, loss });
    }
    const seconds = (performance.now() - started) / 1000;
    const record: EpochRecord = { epoch, loss: lossSum / train.count, samplesPerSecond: train.count / seconds };
    if (validation !== undefined && validation.count > 0 && validation.y !== undefined) {
      const predictions = predictAll(model, validation, shapes);
      const labels = labelTensor(validation);
      record.validationLoss = meanLoss(options.loss, labels, predictions);
      tf.dispose([predictions, labels]);
    }
    history.push(record);
    options.onEvent?.({ status: 'epoch', epoch, epochs, loss: record.loss, ...(record.validationLoss !== undefined ? { validationLoss: record.validationLoss } : {}), samplesPerSecond: record.samplesPerSecond, seconds });
  }
  return history;
}
