/**
 * Checks on a topology before tfjs builds it. tfjs allocates every layer's variables while building,
 * before it compares them with the stored weights, so sizes a hostile model.json declares must be
 * bounded first, and the fields tfjs would reject are named here with their layer.
 */
import { ModelFormatError } from '../errors.js';
import type { WeightEntry } from '../io/model-json.js';
import { readTopology, siteKey, walkLayers } from './topology.js';

/** Size fields, per layer class, that must be positive whole numbers and match a stored dimension. */
const WEIGHT_SIZES: Record<string, string[]> = {
  Dense: ['units'],
  Conv1D: ['filters'],
  Conv2D: ['filters'],
  Conv3D: ['filters'],
  Conv2DTranspose: ['filters'],
  SeparableConv2D: ['filters'],
  Embedding: ['input_dim', 'output_dim'],
  LSTM: ['units'],
  GRU: ['units'],
  SimpleRNN: ['units'],
};

/** Inputs larger than this many values per sample are refused (a 4096×4096×4 image is 67M). */
const MAX_INPUT_VALUES = 1 << 27;

export function checkTopologySizes(file: string, modelTopology: Record<string, unknown>, entries: readonly WeightEntry[]): void {
  let largest = 0;
  for (const entry of entries) for (const d of entry.shape) largest = Math.max(largest, d);
  for (const { path, json } of walkLayers(file, readTopology(file, modelTopology))) {
    const name = siteKey(path);
    for (const field of WEIGHT_SIZES[json.class_name] ?? []) {
      const value = json.config[field];
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
        throw new ModelFormatError(file, `layer "${name}" (${json.class_name}): ${field} must be a positive whole number, found ${JSON.stringify(value)}`);
      }
      // Every weight size of such a layer appears in its stored weights' shapes.
      if (value > largest) {
        throw new ModelFormatError(file, `layer "${name}" (${json.class_name}): ${field} ${value} is larger than any stored weight dimension (${largest})`);
      }
    }
    const shape = json.config['batch_input_shape'] ?? json.config['batch_shape'];
    if (Array.isArray(shape)) {
      let values = 1;
      for (const d of shape.slice(1)) {
        if (d === null) continue;
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
          throw new ModelFormatError(file, `layer "${name}": batch_input_shape holds ${JSON.stringify(d)}, not a size`);
        }
        values *= d;
      }
      if (values > MAX_INPUT_VALUES) {
        throw new ModelFormatError(file, `layer "${name}": an input of ${values} values per sample is more than the ${MAX_INPUT_VALUES} lowrank accepts`);
      }
    }
  }
}
