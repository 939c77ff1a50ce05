/**
 * The bridge between stored weights and live tfjs models: build a tf.LayersModel from a topology and
 * stored weights (through tfjs's own in-memory IO handler, which also proves the topology is a standard
 * Layers model), and read a model's weights back out for saving.
 */
import { tf } from '../tf.js';
import { UnsupportedLayerError, ModelFormatError } from '../errors.js';
import type { ClassLookup, ExpectedWeight } from './keras3.js';
import type { StoredWeight } from './model-json.js';
import type { WeightEntry } from './model-json.js';

/** tfjs's class registry (custom classes registered with tfjs included), as normalizeTopology asks it. */
export const tfjsClassLookup: ClassLookup = (className) => {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) return undefined;
  return entry[0].prototype instanceof tf.layers.Layer ? 'layer' : 'other';
};

/** Concatenate the stored bytes of weights in order, the layout tfjs expects for weightData. */
export function concatWeightBytes(weights: readonly StoredWeight[]): ArrayBuffer {
  let total = 0;
  for (const w of weights) total += w.bytes.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    out.set(w.bytes, offset);
    offset += w.bytes.byteLength;
  }
  return out.buffer;
}

/**
 * Build a live model. `file` names the model in errors. Throws UnsupportedLayerError for layer classes
 * tfjs does not know and ModelFormatError for topologies tfjs cannot build.
 */
export async function toLayersModel(
  file: string,
  modelTopology: Record<string, unknown>,
  weights: readonly StoredWeight[],
  options: { oneWeightAtATimeAbove?: number } = {},
): Promise<tf.LayersModel> {
  const total = weights.reduce((sum, w) => sum + w.bytes.byteLength, 0);
  if (weights.length > 0 && total > (options.oneWeightAtATimeAbove ?? ONE_WEIGHT_AT_A_TIME_ABOVE)) return buildThenAssign(file, modelTopology, weights);
  // With no weights, tfjs initialises every layer itself (the caller sets the values afterwards).
  const handler = tf.io.fromMemory(
    weights.length === 0
      ? { modelTopology }
      : {
          modelTopology,
          weightSpecs: weights.map((w) => w.entry as tf.io.WeightsManifestEntry),
          weightData: concatWeightBytes(weights),
        },
  );
  // A model that fails half-built leaves its variables and scratch tensors behind: collect them.
  const variablesBefore = new Set(Object.keys(tf.engine().registeredVariables));
  tf.engine().startScope();
  try {
    const model = await tf.loadLayersModel(handler);
    // Odd configs (say a layer where a constraint belongs) can make variables the model never owns.
    const owned = new Set(model.weights.map((w) => (w.read() as tf.Variable).name));
    for (const [name, variable] of Object.entries(tf.engine().registeredVariables)) {
      if (!variablesBefore.has(name) && !owned.has(name)) variable.dispose();
    }
    return model;
  } catch (err) {
    for (const [name, variable] of Object.entries(tf.engine().registeredVariables)) {
      if (!variablesBefore.has(name)) variable.dispose();
    }
    const message = (err as Error).message ?? String(err);
    const unknown = /Unknown layer: ([^.\s]+)/.exec(message);
    if (unknown) {
      throw new UnsupportedLayerError(file, `layer class "${unknown[1]}" is not a standard TF.js layer (custom layers cannot be loaded without their code)`);
    }
    const unset = /weights are not set: (.+)$/m.exec(message);
    if (unset) throw new ModelFormatError(file, `weightsManifest has no weight for ${unset[1]}, which the topology's layers need`);
    const extra = /Provided weight data has no target variable: (.+)$/m.exec(message);
    if (extra) throw new ModelFormatError(file, `weight "${extra[1]}" in weightsManifest belongs to no layer of the topology`);
    throw new ModelFormatError(file, `tfjs cannot build this model: ${firstLine(message)}`);
  } finally {
    // Variables are never scope-owned; everything else the build made and did not keep is freed here.
    tf.engine().endScope();
  }
}

/**
 * Weight bytes above which a model is built one weight at a time (buildThenAssign). tfjs's loader
 * holds the model's weights three times at once: the stored bytes concatenated, every weight decoded
 * into a tensor, and the layers' initial values, which a large model cannot afford. readModel reads
 * the weights of models this large on demand, which only this way of building keeps on demand.
 */
export const ONE_WEIGHT_AT_A_TIME_ABOVE = 64 * 2 ** 20;

/**
 * Build with Zeros for every initializer, then give each variable its stored value, one weight at a
 * time: each value is uploaded from its own stored bytes and takes the variable's place, and the
 * freed zeros make room for the next. Peak memory is the weights once plus the largest of them.
 * The manifest is checked as tfjs's loader checks it (every weight has a variable and the reverse).
 * Optimizer weights are not loaded (compress and evaluate never use them).
 */
async function buildThenAssign(file: string, modelTopology: Record<string, unknown>, weights: readonly StoredWeight[]): Promise<tf.LayersModel> {
  const model = await toLayersModel(file, zeroInitializers(modelTopology) as Record<string, unknown>, []);
  try {
    const variables = new Map(model.weights.map((w) => [w.originalName, w]));
    const assigned = new Set<string>();
    for (const weight of weights) {
      if (weight.entry.group === 'optimizer') continue;
      const variable = variables.get(weight.entry.name);
      if (variable === undefined) throw new ModelFormatError(file, `weight "${weight.entry.name}" in weightsManifest belongs to no layer of the topology`);
      const shape = variable.shape.map((d) => d ?? 0);
      if (shape.length !== weight.entry.shape.length || shape.some((d, i) => d !== weight.entry.shape[i])) {
        throw new ModelFormatError(file, `weight "${weight.entry.name}" has shape [${weight.entry.shape.join(', ')}] but its layer expects [${shape.join(', ')}]`);
      }
      tf.tidy(() => {
        variable.write(tf.tensor(storedValues(weight), shape, variable.dtype));
      });
      assigned.add(weight.entry.name);
    }
    const unset = [...variables.keys()].filter((name) => !assigned.has(name));
    if (unset.length > 0) throw new ModelFormatError(file, `weightsManifest has no weight for ${unset.join(', ')}, which the topology's layers need`);
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * The weights a topology has as tfjs builds it (names, shapes, owning layers, in the topology's order).
 * The build uses Zeros for every initializer, as tfjs's own loader does before it sets stored values
 * (real initializers can take long: Orthogonal on a large recurrent kernel), and is freed at once.
 */
export async function topologyWeights(file: string, modelTopology: Record<string, unknown>): Promise<ExpectedWeight[]> {
  const model = await toLayersModel(file, zeroInitializers(modelTopology) as Record<string, unknown>, []);
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  const out: ExpectedWeight[] = [];
  const walk = (container: tf.LayersModel): void => {
    for (const layer of container.layers) {
      if (layer instanceof tf.LayersModel) walk(layer);
      else for (const w of layer.weights) out.push({ name: w.originalName, shape: w.shape.map((d) => d ?? 0), layer: layer.name });
    }
  };
  walk(model);
  model.dispose();
  // tfjs keeps a layer called at several sites alive past model.dispose() (one reference per call).
  for (const variable of variables) if (!variable.isDisposed) variable.dispose();
  return out;
}

/** The topology with every `*_initializer` replaced by Zeros, nested layers included. */
function zeroInitializers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(zeroInitializers);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key.endsWith('_initializer') && v !== null ? { class_name: 'Zeros', config: {} } : zeroInitializers(v);
  }
  return out;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** A weight's values: a view of its bytes when they are plain aligned float32, else decoded. */
function storedValues(weight: StoredWeight): Float32Array | Int32Array | Uint8Array {
  const { entry, bytes } = weight;
  if (entry.dtype === 'float32' && entry.quantization === undefined && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return decodeWeight(weight);
}

/** Decode one stored weight to float values (dequantizing uint8/uint16/float16 as tfjs does). */
export function decodeWeight(weight: StoredWeight): Float32Array | Int32Array | Uint8Array {
  const copy = weight.bytes.slice().buffer;
  const decoded = tf.io.decodeWeights(copy, [weight.entry as tf.io.WeightsManifestEntry]);
  const tensor = decoded[weight.entry.name];
  if (tensor === undefined) throw new Error(`decodeWeights returned no tensor for ${weight.entry.name}`);
  const values = tensor.dataSync() as Float32Array | Int32Array | Uint8Array;
  tensor.dispose();
  return values;
}

/**
 * The model's weights as StoredWeights, in the model's weight order. A weight whose values are
 * bit-identical to a stored original of the same name keeps the original's bytes and manifest entry
 * (so quantized weights stay quantized); everything else is written as float32/int32.
 */
export function collectWeights(model: tf.LayersModel, originals: readonly StoredWeight[] = []): StoredWeight[] {
  const byName = new Map(originals.map((w) => [w.entry.name, w]));
  return model.weights.map((variable) => {
    const name = variable.originalName;
    const tensor = variable.read();
    const values = tensor.dataSync() as Float32Array | Int32Array | Uint8Array;
    const original = byName.get(name);
    if (original !== undefined && sameShape(original.entry.shape, variable.shape) && sameBits(decodeWeight(original), values)) {
      return original;
    }
    const dtype = variable.dtype === 'int32' ? 'int32' : variable.dtype === 'bool' ? 'bool' : 'float32';
    const entry: WeightEntry = { name, shape: variable.shape.map((d) => d ?? 0), dtype };
    const bytes = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    return { entry, bytes };
  });
}

function sameShape(a: readonly number[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function sameBits(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }, b: typeof a): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
