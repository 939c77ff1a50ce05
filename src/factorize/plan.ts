/**
 * The plan: which layers to factorize and at what rank. Plain data, so `--dry-run`, `inspect` and the
 * report can all print it.
 */
import { UsageError } from '../errors.js';
import type { LayerJson } from '../graph/topology.js';
import { factorizerFor, type LayerWeights } from './registry.js';
import { decompose, energyKept, rankForEnergy, relativeError, type Svd, type SvdOptions, type SvdTarget } from './svd.js';

/**
 * How ranks are chosen: one rank for every eligible layer, a rank per named layer, or per layer the
 * smallest rank that keeps a share of the spectrum's energy (Σσ²).
 */
export type RankSpec =
  | { kind: 'fixed'; rank: number }
  | { kind: 'per-layer'; ranks: ReadonlyMap<string, number> }
  | { kind: 'energy'; fraction: number };

/** One factorizable layer in the plan. `rank` is null when the layer is left as it is (`reason` says why). */
export interface PlanEntry {
  name: string;
  className: string;
  /** The kernel seen as an m×n matrix. */
  m: number;
  n: number;
  /** Parameters of the layer (all its weights) before and after. */
  paramsBefore: number;
  paramsAfter: number;
  /** The largest rank that still saves parameters: k·(m+n) < m·n. */
  maxUsefulRank: number;
  rank: number | null;
  reason?: string;
  /** Share of Σσ² kept and ‖W−W_k‖_F/‖W‖_F, from the layer's spectrum. */
  energyKept?: number;
  relativeError?: number;
  /** The singular values, descending: all min(m, n) of them, or the top ones (see singularValuesComplete). */
  singularValues: number[];
  /** False when only the top singular values were computed (a randomized truncation of a large layer). */
  singularValuesComplete?: boolean;
  /** Σ of every σ² (‖W‖²_F): the whole spectrum's energy, known even when only its top is. */
  spectrumEnergy?: number;
  /** How the spectrum was computed. */
  svdMethod?: Svd['method'];
  /**
   * What was truncated: the kernel W ('svd', also when absent), or the whitened Λ^½QᵀW ('whiten'), in
   * which case singularValues, energyKept and relativeError are that matrix's, and relativeError is
   * the predicted ‖X(W − AB)‖_F/‖XW‖_F on the calibration inputs.
   */
  method?: 'svd' | 'whiten';
  /** With 'whiten': ‖W − AB‖_F/‖W‖_F of the factors actually kept. */
  weightError?: number;
}

export interface Plan {
  entries: PlanEntry[];
  /** The decompositions behind the plan, by layer name, reused by the factorize step. */
  decompositions: Map<string, Svd>;
  /** Biases that replace the original's on the second factor (whitening's mean correction), by layer name. */
  biases?: Map<string, Float32Array>;
}

/** A layer of the model as the planner sees it: its JSON and its current weights. */
export interface PlannableLayer {
  /** The layer's name in plans: its own name, prefixed by enclosing models' names when nested. */
  name: string;
  json: LayerJson;
  /**
   * Its current weights, or a function that reads them: then each layer's weights are read when the
   * planner reaches it and dropped after, so a large model is never copied out whole.
   */
  weights: LayerWeights[] | (() => LayerWeights[]);
}

/** A plannable layer's weights, read now when they are read on demand. */
export function weightsOf(layer: PlannableLayer): LayerWeights[] {
  return typeof layer.weights === 'function' ? layer.weights() : layer.weights;
}

/** The largest k with k·(m+n) < m·n: beyond it the two factors hold at least as many numbers as W. */
export function maxUsefulRank(m: number, n: number): number {
  return Math.max(0, Math.floor((m * n - 1) / (m + n)));
}

/**
 * `--layers` patterns: comma-separated globs on layer names (`*` any run of characters, `?` one);
 * a leading `!` excludes. A layer is selected when it matches no exclusion and, if any inclusion is
 * given, at least one inclusion.
 */
export function layerFilter(patterns: string | undefined): (name: string) => boolean {
  if (patterns === undefined || patterns.trim() === '') return () => true;
  const toRegExp = (glob: string): RegExp =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const parts = patterns.split(',').map((p) => p.trim()).filter(Boolean);
  const include = parts.filter((p) => !p.startsWith('!')).map(toRegExp);
  const exclude = parts.filter((p) => p.startsWith('!')).map((p) => toRegExp(p.slice(1).trim()));
  return (name) => !exclude.some((r) => r.test(name)) && (include.length === 0 || include.some((r) => r.test(name)));
}

/**
 * Decide every factorizable layer's rank. `svd` picks the decomposition (exact, randomized or by shape)
 * and seeds the randomized one; large layers then only have their top singular values.
 */
export function makePlan(
  layers: readonly PlannableLayer[],
  spec: RankSpec,
  selected: (name: string) => boolean = () => true,
  svd: SvdOptions = {},
): Plan {
  const names = new Set(layers.map((l) => l.name));
  if (spec.kind === 'per-layer') {
    for (const name of spec.ranks.keys()) {
      if (!names.has(name)) {
        const candidates = layers.filter((l) => factorizerFor(l.json.class_name)).map((l) => l.name);
        throw new UsageError(`--rank names layer "${name}", which the model does not have (factorizable layers: ${candidates.join(', ') || 'none'})`);
      }
    }
  }
  const entries: PlanEntry[] = [];
  const decompositions = new Map<string, Svd>();
  for (const layer of layers) {
    const factorizer = factorizerFor(layer.json.class_name);
    if (factorizer === undefined) continue;
    const name = layer.name;
    const weights = weightsOf(layer);
    const { values, m, n } = factorizer.matrix(weights);
    const paramsBefore = weights.reduce((sum, w) => sum + w.values.length, 0);
    const useful = maxUsefulRank(m, n);
    const entry: PlanEntry = { name, className: layer.json.class_name, m, n, paramsBefore, paramsAfter: paramsBefore, maxUsefulRank: useful, rank: null, singularValues: [] };
    entries.push(entry);
    if (!selected(name) || (spec.kind === 'per-layer' && !spec.ranks.has(name))) {
      // Not asked for: no decomposition either, which is most of the planning time on big models.
      entry.reason = 'not selected';
      continue;
    }
    if (!values.every(Number.isFinite)) {
      // Only reachable with --allow-nonfinite: an SVD of NaN/Inf is NaN, so the layer stays as stored.
      entry.reason = 'kernel holds NaN or Infinity; kept as stored';
      continue;
    }
    const d = decompose(values, m, n, svdTarget(spec, name, useful), svd);
    entry.singularValues = Array.from(d.s);
    entry.singularValuesComplete = d.complete;
    entry.spectrumEnergy = d.energy;
    entry.svdMethod = d.method;
    // Shares of an incomplete spectrum are taken against ‖W‖²_F, the whole spectrum's energy.
    const total = d.complete ? undefined : d.energy;
    const requested = spec.kind === 'fixed' ? spec.rank : spec.kind === 'energy' ? rankForEnergy(d.s, spec.fraction, total) : (spec.ranks.get(name) as number);
    if (requested > useful) {
      entry.reason = useful === 0
        ? `a ${m}×${n} kernel cannot be made smaller by factorizing`
        : spec.kind === 'energy'
          ? `${formatShare(spec.fraction)} energy needs ${requested > d.s.length ? `a rank above ${d.s.length}` : `rank ${requested}`} (largest useful rank: ${useful})`
          : `rank ${requested} saves nothing for ${m}×${n} (largest useful rank: ${useful})`;
    } else {
      entry.rank = requested;
      // Factorizing swaps the m·n kernel for k·(m+n) numbers; every other weight (bias) is kept.
      entry.paramsAfter = paramsBefore - m * n + requested * (m + n);
      entry.energyKept = energyKept(d.s, requested, total);
      entry.relativeError = relativeError(d.s, requested, total);
      decompositions.set(name, d);
    }
  }
  return { entries, decompositions };
}

/**
 * What one layer's decomposition must deliver: vectors for the rank asked (or, past the break-even, a
 * spectrum up to it, for the report), or for an energy share the top values up to the break-even.
 */
function svdTarget(spec: RankSpec, name: string, useful: number): SvdTarget {
  if (spec.kind === 'energy') return { energy: spec.fraction, maxRank: Math.max(1, useful) };
  const rank = spec.kind === 'fixed' ? spec.rank : (spec.ranks.get(name) as number);
  return { rank: Math.max(1, Math.min(rank, useful)) };
}

/** Entries that will be factorized. */
export function chosen(plan: Plan): PlanEntry[] {
  return plan.entries.filter((e) => e.rank !== null);
}

function formatShare(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))}%`;
}
