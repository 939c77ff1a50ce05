/**
 * `inspect()`: what a model holds, layer by layer, and what factorizing each weight-heavy layer at the
 * ranks for 90/95/99% of its spectrum's energy would save. Reads and decomposes; writes nothing.
 */
import path from 'node:path';
import { layerFilter, planModel, rankForEnergy, type PlanEntry, type SvdMethod } from './factorize/index.js';
import { liveLayer } from './factorize/index.js';
import { readTopology, siteKey, walkLayers } from './graph/topology.js';
import { loadModel } from './io/index.js';
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
  outputShape: Array<number | null> | Array<Array<number | null>>;
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
  const { stored, model } = await loadModel(modelPath, { allowNonfinite: options.allowNonfinite, ...(options.setup !== undefined ? { setup: options.setup } : {}), purpose: 'inspecting' });
  try {
    const bytesByWeight = new Map(stored.weights.map((w) => [w.entry.name, w.bytes.byteLength]));
    // A plan for the largest share shown: its spectra (the top values, up to the break-even, on large
    // layers) answer the smaller shares too.
    const largest = INSPECT_ENERGIES[INSPECT_ENERGIES.length - 1] as number;
    const plan = planModel(modelPath, stored.json.modelTopology, model, { kind: 'energy', fraction: largest }, layerFilter(options.layers), {
      method: options.svd ?? 'auto',
      seed: options.seed ?? 42,
    });
    const planned = new Map<string, PlanEntry>(plan.entries.map((e) => [e.name, e]));
    const layers: InspectedLayer[] = walkLayers(modelPath, readTopology(modelPath, stored.json.modelTopology)).map(({ path: sitePath, json }) => {
      const name = siteKey(sitePath);
      const layer = liveLayer(model, sitePath);
      const params = layer.countParams();
      const bytes = layer.weights.reduce((sum, w) => sum + (bytesByWeight.get(w.originalName) ?? 0), 0);
      const entry = planned.get(name);
      const inspected: InspectedLayer = { name, className: json.class_name, outputShape: outputShape(layer), params, bytes };
      if (entry !== undefined && entry.reason !== 'not selected') {
        inspected.factorization = {
          m: entry.m,
          n: entry.n,
          maxUsefulRank: entry.maxUsefulRank,
          options: INSPECT_ENERGIES.map((energy) => {
            const complete = entry.singularValuesComplete !== false;
            const found = rankForEnergy(entry.singularValues, energy, complete ? undefined : entry.spectrumEnergy);
            const rank = found > entry.singularValues.length ? null : found;
            const paramsAfter = rank !== null && rank <= entry.maxUsefulRank ? params - entry.m * entry.n + rank * (entry.m + entry.n) : null;
            return { energy, rank, paramsAfter };
          }),
          singularValues: entry.singularValues,
          singularValuesComplete: entry.singularValuesComplete !== false,
          svd: entry.svdMethod ?? 'exact',
        };
      }
      return inspected;
    });
    const totalParams = model.countParams();
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
      weightBytes: stored.weights.reduce((sum, w) => sum + w.bytes.byteLength, 0),
      layers,
      totals,
      ...(options.ratio !== undefined ? { allocation: allocationPreview(modelPath, stored.json.modelTopology, model, options.ratio, options) } : {}),
    };
  } finally {
    model.dispose();
  }
}

/** compress --ratio's plan without data: a second plan, decomposing up to each layer's break-even. */
function allocationPreview(modelPath: string, topology: Record<string, unknown>, model: tf.LayersModel, ratio: number, options: { layers?: string | undefined; svd?: SvdMethod | undefined; seed?: number | undefined }): NonNullable<InspectReport['allocation']> {
  const plan = planModel(modelPath, topology, model, { kind: 'ratio', fraction: ratio }, layerFilter(options.layers), { method: options.svd ?? 'auto', seed: options.seed ?? 42 });
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
