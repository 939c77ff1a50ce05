/**
 * Turning dataset rows into tensors of the model's input shape.
 */
import { tf } from '../tf.js';
import { DatasetError } from '../errors.js';
import type { Dataset } from './dataset.js';

/** The model's single input shape without the batch dimension; every entry must be known. */
export function inputShape(model: tf.LayersModel, file: string): number[] {
  if (model.inputs.length !== 1) throw new DatasetError(file, `the model has ${model.inputs.length} inputs; datasets feed models with one input`);
  const shape = (model.inputs[0] as tf.SymbolicTensor).shape.slice(1);
  if (shape.some((d) => d === null)) throw new DatasetError(file, `the model's input shape [${shape.map((d) => d ?? 'None').join(', ')}] has unknown sizes; lowrank needs a fixed input shape`);
  return shape as number[];
}

/** Features of the samples `indices` (all when omitted) as a tensor [count, ...shape]. */
export function featureTensor(ds: Dataset, shape: readonly number[], indices?: ArrayLike<number>): tf.Tensor {
  return tf.tensor(gatherRows(ds.x, ds.featureSize, indices), [indices?.length ?? ds.count, ...shape], 'float32');
}

/** Labels of the samples `indices` as a tensor [count, labelSize]. */
export function labelTensor(ds: Dataset, indices?: ArrayLike<number>): tf.Tensor {
  if (ds.y === undefined) throw new DatasetError(ds.file, 'the dataset has no labels');
  return tf.tensor(gatherRows(ds.y, ds.labelSize, indices), [indices?.length ?? ds.count, ds.labelSize], 'float32');
}

function gatherRows(values: Float32Array, width: number, indices?: ArrayLike<number>): Float32Array {
  if (indices === undefined) return values;
  const out = new Float32Array(indices.length * width);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r] as number;
    out.set(values.subarray(i * width, (i + 1) * width), r * width);
  }
  return out;
}

/** Run `model.predict` over all samples in batches, returning one tensor [count, ...outputShape]. */
export function predictAll(model: tf.LayersModel, ds: Dataset, shape: readonly number[], batchSize = 256): tf.Tensor {
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < ds.count; start += batchSize) {
      const end = Math.min(ds.count, start + batchSize);
      const idx = Int32Array.from({ length: end - start }, (_, i) => start + i);
      parts.push(model.predict(featureTensor(ds, shape, idx)) as tf.Tensor);
    }
    return parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
  });
}
