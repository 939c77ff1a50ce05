/**
 * Turning dataset rows into tensors of the model's input shapes. A model with several inputs takes
 * each flat row as the inputs' features concatenated in input order.
 */
import { tf } from '../tf.js';
import { DatasetError, UsageError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';

/** The shape of each model input without the batch dimension. */
export type InputShapes = ReadonlyArray<readonly number[]>;

/**
 * The model's input shapes. Sizes the model leaves open (an image model's height and width, say) come
 * from `given` (one shape, for single-input models); null when some size stays unknown.
 */
export function inputShapes(model: tf.LayersModel, given?: readonly number[]): InputShapes | null {
  const shapes = model.inputs.map((input) => input.shape.slice(1));
  if (given !== undefined) {
    const only = shapes[0];
    if (shapes.length !== 1 || only === undefined) throw new UsageError(`--input-shape is for models with one input; this one has ${shapes.length}`);
    if (given.length !== only.length || only.some((d, i) => d !== null && d !== given[i])) {
      throw new UsageError(`--input-shape ${given.join(',')} does not fit the model's input shape [${only.map((d) => d ?? '?').join(',')}]`);
    }
    return [given];
  }
  return shapes.some((s) => s.some((d) => d === null)) ? null : (shapes as number[][]);
}

/** Shapes for feeding `file` to the model, or an error saying which sizes are unknown. */
export function requireInputShapes(model: tf.LayersModel, file: string, given?: readonly number[]): InputShapes {
  const shapes = inputShapes(model, given);
  if (shapes === null) {
    const shown = model.inputs.map((i) => `[${i.shape.slice(1).map((d) => d ?? '?').join(',')}]`).join(', ');
    throw new DatasetError(file, `the model's input shape ${shown} has open sizes; give them with --input-shape (e.g. 64,64,3)`);
  }
  return shapes;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Values per sample over all inputs. */
export function featureSize(shapes: InputShapes): number {
  return shapes.reduce((sum, s) => sum + product(s), 0);
}

/** Features of the samples `indices` (all when omitted), one tensor [count, ...shape] per input. */
export function featureTensors(ds: Dataset, shapes: InputShapes, indices?: ArrayLike<number>): tf.Tensor[] {
  const count = indices?.length ?? ds.count;
  const rows = gatherRows(ds.x, ds.featureSize, indices);
  if (shapes.length === 1) return [tf.tensor(rows, [count, ...(shapes[0] as number[])], 'float32')];
  const tensors: tf.Tensor[] = [];
  let offset = 0;
  for (const shape of shapes) {
    const width = product(shape);
    const part = new Float32Array(count * width);
    for (let r = 0; r < count; r++) part.set(rows.subarray(r * ds.featureSize + offset, r * ds.featureSize + offset + width), r * width);
    tensors.push(tf.tensor(part, [count, ...shape], 'float32'));
    offset += width;
  }
  return tensors;
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

/** What model.predict takes for these input tensors. */
export function modelInput(tensors: tf.Tensor[]): tf.Tensor | tf.Tensor[] {
  return tensors.length === 1 ? (tensors[0] as tf.Tensor) : tensors;
}

/** Run `model.predict` over all samples in batches, returning one tensor [count, ...outputShape]. */
export function predictAll(model: tf.LayersModel, ds: Dataset, shapes: InputShapes, batchSize = 256): tf.Tensor {
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < ds.count; start += batchSize) {
      const end = Math.min(ds.count, start + batchSize);
      const idx = Int32Array.from({ length: end - start }, (_, i) => start + i);
      parts.push(model.predict(modelInput(featureTensors(ds, shapes, idx))) as tf.Tensor);
    }
    return parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
  });
}
