/**
 * Apply a plan: split each chosen layer into its two factors, splice them into the topology and build
 * the new model from memory, which also proves the result is a standard Layers model.
 */
import { tf } from '../tf.js';
import { toLayersModel } from '../io/layers-model.js';
import { isSequential, readTopology, type LayerJson } from '../graph/topology.js';
import { freshName, spliceFactorPairs, type FactorPair } from '../graph/rewrite.js';
import { chosen, makePlan, type Plan, type PlannableLayer, type RankSpec } from './plan.js';
import { factorizerFor, type LayerWeights } from './registry.js';
import { truncate } from './svd.js';

export { makePlan, chosen, maxUsefulRank, type Plan, type PlanEntry, type RankSpec } from './plan.js';
export { svd, truncate, energyKept, relativeError, rankForEnergy, type Svd, type Factors } from './svd.js';

/** The current weights of a live layer as plain arrays. */
export function layerWeights(layer: tf.layers.Layer): LayerWeights[] {
  // getWeights() hands out the variables' own tensors: read them, never dispose them.
  return layer.getWeights().map((t) => {
    const values = t.dataSync() as Float32Array;
    const shape = [...t.shape];
    return { values: values instanceof Float32Array ? values : Float32Array.from(values), shape };
  });
}

/** Layers of the topology with their live weights, as the planner takes them. */
export function plannableLayers(file: string, modelTopology: Record<string, unknown>, model: tf.LayersModel): PlannableLayer[] {
  const topology = readTopology(file, modelTopology);
  return topology.layers.map((json) => {
    const factorizable = factorizerFor(json.class_name) !== undefined;
    return { json, weights: factorizable ? layerWeights(model.getLayer(json.config.name)) : [] };
  });
}

/** Plan straight from a model: the common case for compress, inspect and dry runs. */
export function planModel(file: string, modelTopology: Record<string, unknown>, model: tf.LayersModel, spec: RankSpec): Plan {
  return makePlan(plannableLayers(file, modelTopology, model), spec);
}

export interface FactorizedModel {
  model: tf.LayersModel;
  modelTopology: Record<string, unknown>;
  /** Names of the layers added in front of each factorized layer, by original name. */
  firstFactors: Map<string, string>;
}

/** Build the factorized model: same weights everywhere but the chosen layers, which become factor pairs. */
export async function applyPlan(file: string, modelTopology: Record<string, unknown>, original: tf.LayersModel, plan: Plan): Promise<FactorizedModel> {
  const topology = readTopology(file, modelTopology);
  const taken = new Set(topology.layers.map((l) => l.config.name));
  const pairs = new Map<string, FactorPair>();
  const newWeights = new Map<string, LayerWeights[]>();
  const firstFactors = new Map<string, string>();
  const byName = new Map<string, LayerJson>(topology.layers.map((l) => [l.config.name, l]));
  for (const entry of chosen(plan)) {
    const json = byName.get(entry.name);
    const factorizer = factorizerFor(entry.className);
    const decomposition = plan.decompositions.get(entry.name);
    if (json === undefined || factorizer === undefined || decomposition === undefined || entry.rank === null) {
      throw new Error(`plan entry ${entry.name} does not match the model`);
    }
    const firstName = freshName(`${entry.name}_lowrank`, taken);
    const pair = factorizer.split(json, entry.rank, firstName);
    const weights = factorizer.weights(truncate(decomposition, entry.rank), layerWeights(original.getLayer(entry.name)));
    pairs.set(entry.name, pair);
    newWeights.set(firstName, weights.first);
    newWeights.set(entry.name, weights.second);
    firstFactors.set(entry.name, firstName);
  }
  const newTopology = topology.withLayers(spliceFactorPairs(topology.layers, pairs, isSequential(topology)));
  const model = await toLayersModel(file, newTopology, []);
  for (const layer of model.layers) {
    const replaced = newWeights.get(layer.name);
    if (replaced !== undefined) {
      setLayerWeights(layer, replaced);
    } else if (layer.weights.length > 0) {
      // Unchanged layers: copy the original's values (no rounding: the same float32s).
      // (setWeights copies; the source tensors belong to the original's variables.)
      layer.setWeights(original.getLayer(layer.name).getWeights());
    }
  }
  return { model, modelTopology: newTopology, firstFactors };
}

function setLayerWeights(layer: tf.layers.Layer, weights: readonly LayerWeights[]): void {
  const tensors = weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
  layer.setWeights(tensors);
  tf.dispose(tensors);
}
