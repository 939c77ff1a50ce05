/**
 * The base model with its adapters as one live tfjs model: the adapted topology (graph.ts) built from
 * the base's stored weights, untouched, plus the factor weights. Also the checks that tie an adapter
 * to a base: every adapted layer present at the top level, of the same class and kernel shape, and the
 * factors' shapes and weights what that layer needs.
 */
import { AdapterMismatchError } from '../errors.js';
import type { LoadedModel, StoredWeight } from '../io/load.js';
import { toLayersModel } from '../io/layers-model.js';
import { readTopology, type LayerJson } from '../graph/topology.js';
import type { tf } from '../tf.js';
import { adaptedTopology, topLevelNames, type GraphOptions } from './graph.js';
import type { AdaptedLayer } from './format.js';
import { adapterLayers, factorShapes, isAdaptable, size, type AdapterLayers } from './layers.js';

/** One adapter's factor values (B unscaled, as trained and stored). */
export interface FactorValues {
  a: Float32Array;
  b: Float32Array;
}

/** The kernel (Dense, Conv2D) or embeddings variable of a live layer. */
export function kernelOf(layer: tf.layers.Layer): tf.LayerVariable | undefined {
  return layer.weights.find((w) => /\/(kernel|embeddings)$/.test(w.originalName) || w.originalName === 'kernel' || w.originalName === 'embeddings');
}

/** A top-level layer's JSON entry by name (Sequential or functional alike). */
function layerJson(file: string, stored: LoadedModel, name: string): LayerJson | undefined {
  return readTopology(file, stored.json.modelTopology).layers.find((l) => l.config.name === name);
}

/** Every layer name of the model's top level, the names new layers must avoid. */
export function takenNames(file: string, stored: LoadedModel): Set<string> {
  return topLevelNames(file, stored.json.modelTopology);
}

/** The adapter layers for `names` of the base (which the caller has checked are adaptable). */
export function planAdapters(file: string, stored: LoadedModel, base: tf.LayersModel, names: readonly string[], rank: number, alpha: number, taken: Set<string>): AdapterLayers[] {
  return names.map((name) => {
    const json = layerJson(file, stored, name);
    const kernel = kernelOf(base.getLayer(name));
    if (json === undefined || kernel === undefined) throw new Error(`planAdapters: ${name} is not an adaptable top-level layer`);
    return adapterLayers(json, kernel.shape.map((d) => d ?? 0), rank, alpha, taken);
  });
}

/**
 * Check an adapter.json's layers against the base, one line per kind of problem, and rebuild their
 * adapter layers. `adapterFile` names adapter.json in errors, `modelFile` the base.
 */
export function matchAdapters(adapterFile: string, modelFile: string, stored: LoadedModel, base: tf.LayersModel, layers: readonly AdaptedLayer[], weights: ReadonlyMap<string, StoredWeight>): AdapterLayers[] {
  const taken = takenNames(modelFile, stored);
  const seen = new Set<string>();
  return layers.map((layer) => {
    if (seen.has(layer.name)) throw new AdapterMismatchError(adapterFile, `layer ${layer.name} is adapted twice`);
    seen.add(layer.name);
    const json = layerJson(modelFile, stored, layer.name);
    const live = json === undefined ? undefined : base.layers.find((l) => l.name === layer.name);
    if (json === undefined || live === undefined) throw new AdapterMismatchError(adapterFile, `layer ${layer.name} is not a top-level layer of ${modelFile}`);
    if (json.class_name !== layer.className || !isAdaptable(json.class_name)) throw new AdapterMismatchError(adapterFile, `layer ${layer.name} is ${layer.className} here but ${json.class_name} in ${modelFile}`);
    const kernel = kernelOf(live)?.shape.map((d) => d ?? 0) ?? [];
    if (!sameShape(kernel, layer.kernelShape)) throw new AdapterMismatchError(adapterFile, `layer ${layer.name}: kernel shape [${layer.kernelShape.join(', ')}] here but [${kernel.join(', ')}] in ${modelFile}`);
    const expected = factorShapes(layer.className, kernel, layer.rank);
    for (const [which, factor, shape] of [['A', layer.a, expected.a], ['B', layer.b, expected.b]] as const) {
      if (!sameShape(factor.shape, shape)) throw new AdapterMismatchError(adapterFile, `layer ${layer.name}: factor ${which} has shape [${factor.shape.join(', ')}]; rank ${layer.rank} on kernel [${kernel.join(', ')}] needs [${shape.join(', ')}]`);
      const stored = weights.get(factor.weight);
      if (stored === undefined) throw new AdapterMismatchError(adapterFile, `layer ${layer.name}: factor ${which} weight "${factor.weight}" is not in weightsManifest`);
      if (!sameShape(stored.entry.shape, shape) || stored.entry.dtype !== 'float32') {
        throw new AdapterMismatchError(adapterFile, `layer ${layer.name}: weight "${factor.weight}" is ${stored.entry.dtype} [${stored.entry.shape.join(', ')}] in weightsManifest; factor ${which} needs float32 [${shape.join(', ')}]`);
      }
    }
    if (Math.abs(layer.scale - layer.alpha / layer.rank) > 1e-12 * Math.max(1, layer.scale)) throw new AdapterMismatchError(adapterFile, `layer ${layer.name}: scale ${layer.scale} is not alpha / rank = ${layer.alpha / layer.rank}`);
    const rebuilt = adapterLayers(json, kernel, layer.rank, layer.alpha, taken);
    // The factor layers are named as adapt named them, so the stored weights find them.
    return { ...rebuilt, layer, aJson: renamed(rebuilt.aJson, layer.a.weight), bJson: renamed(rebuilt.bJson, layer.b.weight) };
  });
}

/** A factor layer named after its stored weight (`<layer>/kernel` → `<layer>`). */
function renamed(json: LayerJson, weight: string): LayerJson {
  const name = weight.slice(0, weight.lastIndexOf('/'));
  return { ...json, config: { ...json.config, name } };
}

/** Decode a float32 stored weight (the factors are always float32). */
export function float32Of(weight: StoredWeight): Float32Array {
  const bytes = weight.bytes;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** A factor's values as a float32 stored weight named `name`. */
export function storedFactor(name: string, shape: readonly number[], values: Float32Array): StoredWeight {
  return { entry: { name, shape: [...shape], dtype: 'float32' }, bytes: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

/**
 * Build the base with its adapters. With `scaleLayer` (the training-time model) scale·B(A(x)) goes
 * through a Rescaling layer when scale ≠ 1; without it the scale is folded into B's stored values.
 */
export async function buildAdaptedModel(
  file: string,
  stored: LoadedModel,
  adapters: readonly AdapterLayers[],
  values: ReadonlyMap<string, FactorValues>,
  options: GraphOptions,
): Promise<tf.LayersModel> {
  const taken = takenNames(file, stored);
  for (const a of adapters) taken.add(a.aJson.config.name).add(a.bJson.config.name);
  const topology = adaptedTopology(file, stored.json.modelTopology, adapters, taken, options);
  const factors: StoredWeight[] = [];
  for (const { layer, aJson, bJson } of adapters) {
    const v = values.get(layer.name);
    if (v === undefined) throw new Error(`buildAdaptedModel: no factor values for ${layer.name}`);
    const b = options.scaleLayer || layer.scale === 1 ? v.b : v.b.map((x) => x * layer.scale);
    factors.push(storedFactor(weightOf(aJson), layer.a.shape, v.a), storedFactor(weightOf(bJson), layer.b.shape, b));
  }
  const model = await toLayersModel(file, topology, [...stored.weights, ...factors]);
  if (options.scaleLayer) for (const { layer } of adapters) if (layer.className === 'Dense') keepUnfused(model, stored, file, layer.name);
  return model;
}

/** Activations tfjs's Dense computes in one fused kernel with x·W + b (tfjs-layers mapActivationToFusedKernel). */
const FUSED = new Set(['linear', 'relu', 'elu']);

/**
 * Make an adapted Dense layer compute x·W + b as the base did, bit for bit. tfjs's Dense runs x·W + b
 * as one fused kernel when its activation is linear, relu or elu, and as matMul then biasAdd otherwise
 * (softmax, sigmoid, tanh, ...); on wasm the two round differently (XNNPACK's fused kernel starts the
 * sum from the bias), by up to an ulp. The adapted layer is linear, so where the base's activation was
 * not fused, it gets an identity activation tfjs does not fuse either: the same two ops as the base.
 * Only for the live training-time model, which is never serialized (its class name is no Keras name).
 */
function keepUnfused(model: tf.LayersModel, stored: LoadedModel, file: string, name: string): void {
  const activation = layerJson(file, stored, name)?.config['activation'];
  if (typeof activation !== 'string' || FUSED.has(activation)) return;
  const layer = model.getLayer(name) as unknown as { activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } };
  layer.activation = { apply: (x) => x, getClassName: () => 'lowrank-unfused-identity' };
}

function weightOf(json: LayerJson): string {
  return `${json.config.name}/${json.class_name === 'Embedding' ? 'embeddings' : 'kernel'}`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}


