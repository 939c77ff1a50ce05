/**
 * Reading a dataset for a given model: which read options its input shapes imply, how a file meant
 * for measuring finds its labels, and whether the labels fit the model's outputs.
 */
import { DatasetError } from '../errors.js';
import type { tf } from '../tf.js';
import { readDataset, type Dataset, type ReadDatasetOptions } from '../data/dataset.js';
import type { LossKind } from './loss.js';
import { featureSize, type InputShapes } from './tensors.js';

/** How the user asked for a file to be read. */
export interface DataReadOptions {
  label?: string;
  labels?: string;
  inputScale?: number;
  imageShape?: number[];
}

/** Read options for feeding `shapes`: feature count, scale, and the size to read images at. */
export function readOptionsFor(shapes: InputShapes, options: DataReadOptions): ReadDatasetOptions {
  return {
    featureSize: featureSize(shapes),
    ...(options.inputScale !== undefined ? { inputScale: options.inputScale } : {}),
    ...imageShapeFor(options, shapes),
  };
}

/** The number of values the model's (single) output has per sample. */
export function outputSize(model: tf.LayersModel): number {
  return (model.outputs[0]?.shape.slice(1) ?? [1]).reduce((a: number, b) => a * (b ?? 1), 1);
}

/** Image folders are read at --image-shape, else at the model's input shape when it is [h, w, c]. */
function imageShapeFor(options: DataReadOptions, shapes: InputShapes): { imageShape?: number[] } {
  if (options.imageShape !== undefined) return { imageShape: options.imageShape };
  const only = shapes.length === 1 ? shapes[0] : undefined;
  return only !== undefined && only.length === 3 && (only[2] === 1 || only[2] === 3) ? { imageShape: [...only] } : {};
}

/**
 * A file for measuring (--validation-data, evaluate) may carry labels the training data lacks: unless
 * --label names a column, a file with one column more than the model's inputs has its label last,
 * and one with exactly as many has none.
 */
export async function readForMeasuring(file: string, base: ReadDatasetOptions, label: string | undefined): Promise<Dataset> {
  if (label !== undefined && label !== 'none') return readDataset(file, { ...base, label });
  try {
    return await readDataset(file, base);
  } catch (err) {
    if (!(err instanceof DatasetError)) throw err;
    try {
      return await readDataset(file, { ...base, label: 'none' });
    } catch {
      throw err;
    }
  }
}

/** Labels must be class indices of the model, or have as many values as its outputs. */
export function checkLabels(ds: Dataset, loss: LossKind, classes: number): void {
  if (ds.y === undefined) return;
  if (ds.classNames !== undefined && ds.classNames.length > classes) {
    throw new DatasetError(ds.file, `${ds.classNames.length} class folders (${ds.classNames.slice(0, 5).join(', ')}${ds.classNames.length > 5 ? ', ...' : ''}) but the model predicts ${classes} classes`);
  }
  if (loss === 'sparse-categorical-crossentropy') {
    if (ds.labelSize !== 1) throw new DatasetError(ds.file, `the model predicts ${classes} classes, but samples have ${ds.labelSize} label values`);
    for (let i = 0; i < ds.count; i++) {
      const v = ds.y[i] as number;
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new DatasetError(ds.file, `sample ${i + 1}: label ${v} is not a class index of this model (0..${classes - 1})`);
      }
    }
  } else if (ds.labelSize !== classes && !(ds.labelSize === 1 && classes === 1)) {
    throw new DatasetError(ds.file, `the model has ${classes} outputs, but samples have ${ds.labelSize} label values`);
  }
}
