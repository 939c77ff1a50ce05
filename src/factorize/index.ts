/**
 * Apply a plan: split each chosen layer into its two factors, splice them into the topology and build
 * the new model from memory, which also proves the result is a standard Layers model.
 */
import { tf } from '../tf.js';
import { toLayersModel } from '../io/layers-model.js';
import { isContainer, isSequential, readTopology, siteKey, walkLayers, type LayerJson, type Topology } from '../graph/topology.js';
import { freshName, spliceFactorPairs, type FactorPair } from '../graph/rewrite.js';
import { chosen, makePlan, type Plan, type PlannableLayer, type RankSpec, type Spectrum } from './plan.js';
import type { AllocationJudge } from './allocate.js';
import { factorizerFor, type LayerWeights } from './registry.js';
import { truncate, type SvdOptions } from './svd.js';

export { makePlan, chosen, maxUsefulRank, layerFilter, type Plan, type PlanBudget, type PlanEntry, type RankSpec, type Spectrum } from './plan.js';
export { allocateRanks, allocateJudged, uniformAllocation, defaultAllocationScore, type Allocation, type AllocationJudge, type AllocationLayer, type AllocationScore } from './allocate.js';
export { svd, decompose, randomizedSvd, gramSvd, truncate, energyKept, relativeError, rankForEnergy, type Svd, type SvdMethod, type SvdOptions, type SvdTarget, type Factors } from './svd.js';
export { eigenbasis, diagonalBasis, centeredGram, correctedBias, regularize, rotate, whitenedSpectrum, whitenedSvd, DEFAULT_RCOND, DEFAULT_RIDGE, type Eigenbasis, type WhitenOptions } from './whiten.js';

/** The current weights of a live layer as plain arrays. */
export function layerWeights(layer: tf.layers.Layer): LayerWeights[] {
  // getWeights() hands out the variables' own tensors: read them, never dispose them.
  return layer.getWeights().map((t) => {
    const values = t.dataSync() as Float32Array;
    const shape = [...t.shape];
    return { values: values instanceof Float32Array ? values : Float32Array.from(values), shape };
  });
}

/** The live layer at `path` (container names, then the layer's name). */
export function liveLayer(model: tf.LayersModel, path: readonly string[]): tf.layers.Layer {
  let container: tf.LayersModel = model;
  let layer: tf.layers.Layer | undefined;
  for (const [i, name] of path.entries()) {
    layer = container.getLayer(name);
    if (i < path.length - 1) container = layer as unknown as tf.LayersModel;
  }
  if (layer === undefined) throw new Error('empty layer path');
  return layer;
}

/** Layers of the topology (nested models included), each with a reader of its live weights, as the planner takes them. */
export function plannableLayers(file: string, modelTopology: Record<string, unknown>, model: tf.LayersModel): PlannableLayer[] {
  return walkLayers(file, readTopology(file, modelTopology)).map(({ path, json }) => {
    const factorizable = factorizerFor(json.class_name) !== undefined;
    return { name: siteKey(path), json, weights: factorizable ? () => layerWeights(liveLayer(model, path)) : [] };
  });
}

/** Plan straight from a model: the common case for compress, inspect and dry runs. */
export function planModel(
  file: string,
  modelTopology: Record<string, unknown>,
  model: tf.LayersModel,
  spec: RankSpec,
  selected?: (name: string) => boolean,
  svd: SvdOptions = {},
  spectra?: ReadonlyMap<string, Spectrum>,
  judge?: AllocationJudge,
): Plan {
  return makePlan(plannableLayers(file, modelTopology, model), spec, selected, svd, spectra, judge);
}

export interface FactorizedModel {
  model: tf.LayersModel;
  modelTopology: Record<string, unknown>;
  /**
   * Paths of the layers added in front of each factorized layer, by plan name (`outer/inner_lowrank`
   * for a layer inside a nested model, like plan names).
   */
  firstFactors: Map<string, string>;
}

/** A plan applied to the topology alone: the new topology and the weights of every new or changed layer. */
export interface SplitTopology {
  modelTopology: Record<string, unknown>;
  /** Weights of the factor layers, by site path (`outer/inner_lowrank`), in each layer's weight order. */
  newWeights: Map<string, LayerWeights[]>;
  /** First factor's path by plan name, as in FactorizedModel. */
  firstFactors: Map<string, string>;
}

/**
 * Split every chosen layer into its factor pair and splice the pairs into the topology. Works on the
 * JSON and the weights alone (`weightsOf` gives a layer's current weights), so layers of classes tfjs
 * does not know pass through untouched.
 */
export function splitTopology(file: string, modelTopology: Record<string, unknown>, plan: Plan, weightsOf: (path: readonly string[]) => LayerWeights[]): SplitTopology {
  const topology = readTopology(file, modelTopology);
  const sites = new Map(walkLayers(file, topology).map((site) => [siteKey(site.path), site]));
  const taken = new Set([...sites.values()].flatMap((site) => site.path));
  const pairs = new Map<string, FactorPair>();
  const newWeights = new Map<string, LayerWeights[]>();
  const firstFactors = new Map<string, string>();
  for (const entry of chosen(plan)) {
    const site = sites.get(entry.name);
    const factorizer = factorizerFor(entry.className);
    const decomposition = plan.decompositions.get(entry.name);
    if (site === undefined || factorizer === undefined || decomposition === undefined || entry.rank === null) {
      throw new Error(`plan entry ${entry.name} does not match the model`);
    }
    const firstName = freshName(`${site.json.config.name}_lowrank`, taken);
    const pair = factorizer.split(site.json, entry.rank, firstName);
    const originalWeights = [...weightsOf(site.path)];
    // A whitened layer with a bias gets the mean-corrected bias its factors were fitted with.
    const bias = plan.biases?.get(entry.name);
    const kept = originalWeights[1];
    if (bias !== undefined && kept !== undefined) originalWeights[1] = { values: bias, shape: kept.shape };
    const weights = factorizer.weights(truncate(decomposition, entry.rank), originalWeights);
    pairs.set(entry.name, pair);
    const firstPath = siteKey([...site.path.slice(0, -1), firstName]);
    newWeights.set(firstPath, weights.first);
    newWeights.set(entry.name, weights.second);
    firstFactors.set(entry.name, firstPath);
  }
  const rewrite = (t: Topology, prefix: string[]): LayerJson[] => {
    const local = new Map<string, FactorPair>();
    const layers = t.layers.map((layer) => {
      const path = [...prefix, layer.config.name];
      if (isContainer(layer)) {
        const nested = readTopology(file, layer);
        return nested.withLayers(rewrite(nested, path)) as LayerJson;
      }
      const pair = pairs.get(siteKey(path));
      if (pair !== undefined) local.set(layer.config.name, pair);
      return layer;
    });
    return spliceFactorPairs(layers, local, isSequential(t));
  };
  return { modelTopology: topology.withLayers(rewrite(topology, [])), newWeights, firstFactors };
}

/** Build the factorized model: same weights everywhere but the chosen layers, which become factor pairs. */
export async function applyPlan(file: string, modelTopology: Record<string, unknown>, original: tf.LayersModel, plan: Plan): Promise<FactorizedModel> {
  const { modelTopology: newTopology, newWeights, firstFactors } = splitTopology(file, modelTopology, plan, (path) => layerWeights(liveLayer(original, path)));
  const model = await toLayersModel(file, newTopology, []);
  const copy = (container: tf.LayersModel, prefix: string[]): void => {
    for (const layer of container.layers) {
      const path = [...prefix, layer.name];
      const replaced = newWeights.get(siteKey(path));
      if (layer instanceof tf.LayersModel) copy(layer, path);
      else if (replaced !== undefined) setLayerWeights(layer, replaced);
      // Unchanged layers: copy the original's values (setWeights copies; the same float32s).
      else if (layer.weights.length > 0) layer.setWeights(liveLayer(original, path).getWeights());
    }
  };
  copy(model, []);
  return { model, modelTopology: newTopology, firstFactors };
}

function setLayerWeights(layer: tf.layers.Layer, weights: readonly LayerWeights[]): void {
  const tensors = weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
  layer.setWeights(tensors);
  tf.dispose(tensors);
}
