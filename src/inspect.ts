/**
 * `inspect()`: what a model holds, layer by layer, and what factorizing each weight-heavy layer at the
 * ranks for 90/95/99% of its spectrum's energy would save. Reads and decomposes; writes nothing.
 *
 * A model whose layer classes tfjs lacks (and no --setup) is inspected from model.json and the stored
 * weights alone, as compress factorizes it: every number but the output shapes, which need the layers.
 */
import path from 'node:path';
import { layerFilter, planModel, rankForEnergy, type Plan, type PlanEntry, type SvdMethod } from './factorize/index.js';
import { liveLayer } from './factorize/index.js';
import { planStored } from './factorize/stored.js';
import { readTopology, siteKey, walkLayers, type LayerSite } from './graph/topology.js';
import { buildModel, readModelChecked, type StoredWeight } from './io/index.js';
import { z } from 'zod';
import { BackendSchema, RatioSchema, SvdMethodSchema, int, numeric, parseOptions } from './options.js';
import { initBackend, tf } from './tf.js';

/** The energy shares inspect reports ranks for. */
export const INSPECT_ENERGIES = [0.9, 0.95, 0.99] as const;

/** What factorizing one layer at one energy share would give. */
export interface EnergyOption {
  energy: number;
  /** null when the share needs more than the top singular values computed, all of which are past maxUsefulRank. */
  rank: number | null;
  /** Params of the layer at that rank, or null when that rank saves nothing (k > max useful rank). */
  paramsAfter: number | null;
}

export interface InspectedLayer {
  name: string;
  className: string;
  /** null when the model was read without its custom layer classes (see `unknownLayerClasses`). */
  outputShape: Array<number | null> | Array<Array<number | null>> | null;
  params: number;
  /** Bytes of the layer's weights as stored in the shards (quantized where they are). */
  bytes: number;
  factorization?: {
    m: number;
    n: number;
    maxUsefulRank: number;
    options: EnergyOption[];
    /** The singular values computed, descending: the whole spectrum, or its top when `singularValuesComplete` is false. */
    singularValues: number[];
    singularValuesComplete: boolean;
    svd: 'exact' | 'gram' | 'randomized';
  };
}

export interface InspectReport {
  path: string;
  backend: string;
  params: number;
  weightBytes: number;
  layers: InspectedLayer[];
  /**
   * Layer classes tfjs lacks (no --setup registered them): the model was read, not built, so output
   * shapes are unknown; params and bytes are the stored weights', each counted for the layer it names.
   */
  unknownLayerClasses?: string[];
  /** Params of the whole model if every layer were factorized at each energy share where it helps. */
  totals: Array<{ energy: number; params: number }>;
  /**
   * With `ratio`: the ranks `compress --ratio` would allocate without data (the kernels' own spectra;
   * with --data, compress reads the whitened ones and may choose differently).
   */
  allocation?: {
    ratio: number;
    /** Considered layers' parameters before and after, and the most allowed. */
    paramsBefore: number;
    paramsAfter: number;
    budget: number;
    layers: Array<{ name: string; rank: number | null; paramsAfter: number }>;
  };
}

const InspectOptionsSchema = z.object({
  backend: BackendSchema,
  layers: z.string().optional(),
  allowNonfinite: z.boolean().default(false),
  /** A JS module whose setup(tf) registers the model's custom layer classes (runs the user's code). */
  setup: z.string().min(1, '--setup is empty').optional(),
  svd: SvdMethodSchema,
  seed: numeric(int('--seed', 0, 2 ** 32 - 1)).default(42),
  /** Preview `compress --ratio`'s allocation (on the kernels' spectra). */
  ratio: RatioSchema.optional(),
});

/** Options of inspect() as callers give them (CLI flags included: unknown keys are ignored). */
export type InspectInput = z.input<typeof InspectOptionsSchema>;

export async function inspect(modelPath: string, input: InspectInput = {}): Promise<InspectReport> {
  const options = parseOptions(InspectOptionsSchema, input);
  const backend = await initBackend(options.backend);
  const read = await readModelChecked(modelPath, { allowNonfinite: options.allowNonfinite, ...(options.setup !== undefined ? { setup: options.setup } : {}) });
  const svd = { method: options.svd ?? 'auto', seed: options.seed ?? 42 } as const;
  const selected = layerFilter(options.layers);
  const topology = read.stored.json.modelTopology;
  if (read.unknownClasses.length > 0) {
    // Without the classes: the same plans from the stored weights, params and bytes counted per layer.
    const weights = read.stored.weights.filter((w) => w.entry.group !== 'optimizer');
    const plan = (spec: Parameters<typeof planStored>[3]): Plan => planStored(modelPath, topology, weights, spec, selected, svd);
    const owned = weightsBySite(walkLayers(modelPath, readTopology(modelPath, topology)), weights);
    const report = assemble(modelPath, backend, topology, plan, (sitePath) => {
      const own = owned.get(siteKey(sitePath)) ?? [];
      return { outputShape: null, params: own.reduce((n, w) => n + count(w), 0), bytes: own.reduce((n, w) => n + w.bytes.byteLength, 0) };
    }, weights.reduce((n, w) => n + count(w), 0), weights, options.ratio);
    return { ...report, unknownLayerClasses: read.unknownClasses };
  }
  const { stored, model } = await buildModel(modelPath, read.stored);
  try {
    const bytesByWeight = new Map(stored.weights.map((w) => [w.entry.name, w.bytes.byteLength]));
    const plan = (spec: Parameters<typeof planModel>[3]): Plan => planModel(modelPath, stored.json.modelTopology, model, spec, selected, svd);
    return assemble(modelPath, backend, stored.json.modelTopology, plan, (sitePath) => {
      const layer = liveLayer(model, sitePath);
      return { outputShape: outputShape(layer), params: layer.countParams(), bytes: layer.weights.reduce((sum, w) => sum + (bytesByWeight.get(w.originalName) ?? 0), 0) };
    }, model.countParams(), stored.weights, options.ratio);
  } finally {
    model.dispose();
  }
}

type LayerFacts = Pick<InspectedLayer, 'outputShape' | 'params' | 'bytes'>;

/** The report from a planner and each layer's facts, whichever way the model was read. */
function assemble(
  modelPath: string,
  backend: string,
  topology: Record<string, unknown>,
  plan: (spec: Parameters<typeof planModel>[3]) => Plan,
  facts: (sitePath: readonly string[]) => LayerFacts,
  totalParams: number,
  weights: readonly StoredWeight[],
  ratio: number | undefined,
): InspectReport {
  // A plan for the largest share shown: its spectra (the top values, up to the break-even, on large
  // layers) answer the smaller shares too.
  const largest = INSPECT_ENERGIES[INSPECT_ENERGIES.length - 1] as number;
  const planned = new Map<string, PlanEntry>(plan({ kind: 'energy', fraction: largest }).entries.map((e) => [e.name, e]));
  const layers: InspectedLayer[] = walkLayers(modelPath, readTopology(modelPath, topology)).map(({ path: sitePath, json }) => {
    const name = siteKey(sitePath);
    const inspected: InspectedLayer = { name, className: json.class_name, ...facts(sitePath) };
    const entry = planned.get(name);
    if (entry !== undefined && entry.reason !== 'not selected') inspected.factorization = factorization(entry, inspected.params);
    return inspected;
  });
  const totals = INSPECT_ENERGIES.map((energy, i) => ({
    energy,
    params: layers.reduce((sum, l) => {
      const after = l.factorization?.options[i]?.paramsAfter;
      return sum - (after === null || after === undefined ? 0 : l.params - after);
    }, totalParams),
  }));
  return {
    path: path.resolve(modelPath),
    backend,
    params: totalParams,
    weightBytes: weights.reduce((sum, w) => sum + w.bytes.byteLength, 0),
    layers,
    totals,
    ...(ratio !== undefined ? { allocation: allocationPreview(plan({ kind: 'ratio', fraction: ratio }), ratio) } : {}),
  };
}

/** What each energy share would give one planned layer of `params` parameters. */
function factorization(entry: PlanEntry, params: number): NonNullable<InspectedLayer['factorization']> {
  const complete = entry.singularValuesComplete !== false;
  return {
    m: entry.m,
    n: entry.n,
    maxUsefulRank: entry.maxUsefulRank,
    options: INSPECT_ENERGIES.map((energy) => {
      const found = rankForEnergy(entry.singularValues, energy, complete ? undefined : entry.spectrumEnergy);
      const rank = found > entry.singularValues.length ? null : found;
      const paramsAfter = rank !== null && rank <= entry.maxUsefulRank ? params - entry.m * entry.n + rank * (entry.m + entry.n) : null;
      return { energy, rank, paramsAfter };
    }),
    singularValues: entry.singularValues,
    singularValuesComplete: complete,
    svd: entry.svdMethod ?? 'exact',
  };
}

const count = (w: StoredWeight): number => w.entry.shape.reduce((n, d) => n * d, 1);

/**
 * The stored weights each layer owns, by name: `…/<layer>/<weight>` (tfjs and Keras name them so), a
 * same-named layer in a nested model told apart by its whole path. A weight no layer claims that way is
 * given to the innermost layer named anywhere in its name; one naming no layer counts only in the total.
 */
function weightsBySite(sites: readonly LayerSite[], weights: readonly StoredWeight[]): Map<string, StoredWeight[]> {
  const byName = new Map<string, LayerSite[]>();
  for (const site of sites) {
    const name = site.path[site.path.length - 1] as string;
    byName.set(name, [...(byName.get(name) ?? []), site]);
  }
  const owned = new Map<string, StoredWeight[]>();
  for (const w of weights) {
    const scopes = w.entry.name.split('/').slice(0, -1);
    for (let i = scopes.length - 1; i >= 0; i--) {
      const candidates = byName.get(scopes[i] as string) ?? [];
      const site = candidates.length > 1 ? candidates.find((c) => scopes.slice(0, i + 1).join('/').endsWith(siteKey(c.path))) ?? candidates[0] : candidates[0];
      if (site === undefined) continue;
      const key = siteKey(site.path);
      owned.set(key, [...(owned.get(key) ?? []), w]);
      break;
    }
  }
  return owned;
}

/** compress --ratio's plan without data: a second plan, decomposing up to each layer's break-even. */
function allocationPreview(plan: Plan, ratio: number): NonNullable<InspectReport['allocation']> {
  const budget = plan.budget as NonNullable<typeof plan.budget>;
  const layers = plan.entries.filter((e) => e.reason !== 'not selected').map((e) => ({ name: e.name, rank: e.rank, paramsAfter: e.paramsAfter }));
  return { ratio, paramsBefore: budget.paramsBefore, paramsAfter: budget.paramsAfter, budget: budget.budget, layers };
}

/**
 * A layer's output shape; a layer called at several sites with different shapes has no single one
 * (tfjs throws), so give one per call site.
 */
function outputShape(layer: tf.layers.Layer): InspectedLayer['outputShape'] {
  try {
    return layer.outputShape as InspectedLayer['outputShape'];
  } catch {
    return layer.inboundNodes.map((node) => node.outputShapes as Array<number | null>);
  }
}

export { tf };
