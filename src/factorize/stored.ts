/**
 * Plan and factorize from the stored weights alone, without building a tfjs model: the path for models
 * whose custom layer classes lowrank does not have. A layer lowrank does not factorize keeps its
 * manifest entries and bytes exactly as stored; only the chosen layers' kernels are replaced.
 */
import { ModelFormatError } from '../errors.js';
import { readTopology, siteKey, walkLayers } from '../graph/topology.js';
import { decodeWeight } from '../io/layers-model.js';
import type { StoredWeight } from '../io/model-json.js';
import { makePlan, type Plan, type PlannableLayer, type RankSpec } from './plan.js';
import { factorizerFor, type LayerWeights } from './registry.js';
import type { SvdOptions } from './svd.js';
import { splitTopology } from './index.js';

/** The weights of each class lowrank creates or factorizes, in tfjs's getWeights() order. */
const WEIGHT_NAMES: Record<string, readonly string[]> = {
  Dense: ['kernel', 'bias'],
  Conv2D: ['kernel', 'bias'],
  Embedding: ['embeddings'],
};

/** A layer's stored weights in getWeights() order, found by name: `…/<layer>/<weight>`. */
function storedWeightsOf(file: string, path: readonly string[], className: string, weights: readonly StoredWeight[]): StoredWeight[] {
  const names = WEIGHT_NAMES[className] ?? [];
  const layer = path[path.length - 1] as string;
  const out: StoredWeight[] = [];
  for (const [i, weight] of names.entries()) {
    let matches = weights.filter((w) => {
      const parts = w.entry.name.split('/');
      return w.entry.group !== 'optimizer' && parts[parts.length - 1] === weight && parts[parts.length - 2] === layer;
    });
    // A same-named layer in a nested model: prefer the weight named with the whole path.
    if (matches.length > 1) matches = matches.filter((w) => w.entry.name.endsWith(`${siteKey(path)}/${weight}`));
    if (matches.length > 1) throw new ModelFormatError(file, `layer "${siteKey(path)}": weightsManifest has several weights named …/${layer}/${weight}`);
    const match = matches[0];
    if (match === undefined) {
      if (i === 0) throw new ModelFormatError(file, `layer "${siteKey(path)}" (${className}): weightsManifest has no weight named …/${layer}/${weight}`);
      continue;
    }
    out.push(match);
  }
  return out;
}

function decoded(weight: StoredWeight): LayerWeights {
  const values = decodeWeight(weight);
  return { values: values instanceof Float32Array ? values : Float32Array.from(values), shape: [...weight.entry.shape] };
}

/** Plan from the stored weights: the same plan planModel makes from a live model. */
export function planStored(
  file: string,
  modelTopology: Record<string, unknown>,
  weights: readonly StoredWeight[],
  spec: RankSpec,
  selected?: (name: string) => boolean,
  svd: SvdOptions = {},
): Plan {
  const layers: PlannableLayer[] = walkLayers(file, readTopology(file, modelTopology)).map(({ path, json }) => ({
    name: siteKey(path),
    json,
    weights: factorizerFor(json.class_name) === undefined ? [] : storedWeightsOf(file, path, json.class_name, weights).map(decoded),
  }));
  return makePlan(layers, spec, selected, svd);
}

export interface FactorizedStored {
  modelTopology: Record<string, unknown>;
  /** The output's weights in manifest order: untouched ones as stored, factors as float32. */
  weights: StoredWeight[];
  firstFactors: Map<string, string>;
}

/**
 * Apply a plan to the stored model: the topology rewritten, and each factorized layer's kernel (table)
 * replaced in place by the first factor's and the second's; every other weight keeps its entry and bytes.
 */
export function applyPlanStored(file: string, modelTopology: Record<string, unknown>, weights: readonly StoredWeight[], plan: Plan): FactorizedStored {
  const own = weights.filter((w) => w.entry.group !== 'optimizer');
  const sites = new Map(walkLayers(file, readTopology(file, modelTopology)).map((site) => [siteKey(site.path), site]));
  const split = splitTopology(file, modelTopology, plan, (path) => {
    const site = sites.get(siteKey(path));
    return storedWeightsOf(file, path, site?.json.class_name ?? '', own).map(decoded);
  });
  const newTopology = readTopology(file, split.modelTopology);
  const classOf = new Map(walkLayers(file, newTopology).map((site) => [siteKey(site.path), site.json.class_name]));
  // The stored weight a factor pair replaces (kernel or table) → the pair's new weights.
  const replaced = new Map<StoredWeight, StoredWeight[]>();
  const dropped = new Set<StoredWeight>();
  for (const [name, firstPath] of split.firstFactors) {
    const site = sites.get(name);
    if (site === undefined) throw new Error(`plan entry ${name} does not match the model`);
    const stored = storedWeightsOf(file, site.path, site.json.class_name, own);
    const main = stored[0] as StoredWeight;
    const prefix = main.entry.name.split('/').slice(0, -2);
    const layerName = site.path[site.path.length - 1] as string;
    const firstName = firstPath.split('/').pop() as string;
    const first = split.newWeights.get(firstPath) ?? [];
    const second = split.newWeights.get(name) ?? [];
    const named = (layer: string, className: string, ws: readonly LayerWeights[]): StoredWeight[] =>
      ws.map((w, i) => float32Weight([...prefix, layer, (WEIGHT_NAMES[className] ?? [])[i] ?? `weight_${i}`].join('/'), w));
    const secondWeights = named(layerName, classOf.get(name) ?? '', second);
    // Weights past the kernel (bias) are the original's own values: keep their stored bytes.
    for (const [i, w] of stored.entries()) if (i > 0) secondWeights[i] = w;
    replaced.set(main, [...named(firstName, classOf.get(firstPath) ?? '', first), secondWeights[0] as StoredWeight]);
    for (const w of stored.slice(1)) dropped.add(w);
    replaced.get(main)?.push(...secondWeights.slice(1));
  }
  const out: StoredWeight[] = [];
  for (const w of own) {
    if (dropped.has(w)) continue;
    out.push(...(replaced.get(w) ?? [w]));
  }
  return { modelTopology: split.modelTopology, weights: out, firstFactors: split.firstFactors };
}

function float32Weight(name: string, w: LayerWeights): StoredWeight {
  const bytes = new Uint8Array(w.values.byteLength);
  bytes.set(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
  return { entry: { name, shape: [...w.shape], dtype: 'float32' }, bytes };
}
