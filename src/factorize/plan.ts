/**
 * The plan: which layers to factorize and at what rank. Plain data, so `--dry-run`, `inspect` and the
 * report can all print it.
 */
import { UsageError } from '../errors.js';
import type { LayerJson } from '../graph/topology.js';
import { allocateJudged, allocateRanks, BudgetUnreachable, defaultAllocationScore, maxUsefulRank, type Allocation, type AllocationJudge, type AllocationLayer, type AllocationScore } from './allocate.js';
import { factorizerFor, type LayerWeights } from './registry.js';
import { decompose, energyKept, rankForEnergy, relativeError, type Svd, type SvdOptions, type SvdTarget } from './svd.js';

/**
 * How ranks are chosen: one rank for every eligible layer, a rank per named layer, per layer the
 * smallest rank that keeps a share of the spectrum's energy (Σσ²), or ranks allocated across layers so
 * that the considered layers keep at most `fraction` of their parameters (allocate.ts).
 */
export type RankSpec =
  | { kind: 'fixed'; rank: number }
  | { kind: 'per-layer'; ranks: ReadonlyMap<string, number> }
  | { kind: 'energy'; fraction: number }
  | { kind: 'ratio'; fraction: number; score?: AllocationScore };

/**
 * A layer's spectrum as the --ratio allocation reads it: the top σ's (descending) and Σ of all σ²;
 * with `losses` (losses[k], k = 1..break-even), the loss measured with this layer alone at rank k,
 * which the `measured` score allocates on instead.
 */
export interface Spectrum {
  s: ArrayLike<number>;
  total: number;
  losses?: ArrayLike<number>;
}

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
  /**
   * With 'whiten': the measured ‖X(W − AB)‖_F/‖XW‖_F on the calibration inputs the layer was fitted on
   * (centered for a layer with a bias), next to relativeError, the spectrum's prediction of it.
   */
  outputError?: number;
  /**
   * With --ratio on whitened spectra: √(discarded/total) of the spectrum the allocation read (no ridge,
   * the original model's calibration inputs), the output error it expected at this rank.
   */
  predictedOutputError?: number;
  /**
   * With --ratio's `measured` score: the loss against the original's outputs on the calibration
   * sample (distillation loss at T = 1 minus the original's own: KL for a classifier) measured with
   * this layer alone truncated at its rank (interpolated between measured ranks).
   */
  predictedLoss?: number;
}

/** What --ratio allocated: the considered layers' parameters before and after, and the most allowed. */
export interface PlanBudget {
  ratio: number;
  paramsBefore: number;
  paramsAfter: number;
  /** ⌊ratio · paramsBefore⌋. */
  budget: number;
  score: AllocationScore;
  /**
   * With score `measured`: the loss against the original's outputs on the calibration sample the
   * allocation expected: measured with every chosen layer truncated at once (on the original model's
   * inputs, not yet calibrated in order), or without a judge Σ of the layers' predictedLoss.
   */
  predictedLoss?: number;
  /** Whose spectra the allocation read: the kernels' ('svd') or the whitened ones ('whiten'). */
  spectra: 'svd' | 'whiten';
}

export interface Plan {
  entries: PlanEntry[];
  /** With --ratio: the allocation's budget. */
  budget?: PlanBudget;
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

export { maxUsefulRank };

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
 * and seeds the randomized one; large layers then only have their top singular values. With a ratio,
 * `spectra` (by layer name) are what the allocation reads instead of the kernels' own (the whitened
 * spectra of --method whiten); a layer missing from it is allocated on its kernel's spectrum.
 */
export function makePlan(
  layers: readonly PlannableLayer[],
  spec: RankSpec,
  selected: (name: string) => boolean = () => true,
  svd: SvdOptions = {},
  spectra?: ReadonlyMap<string, Spectrum>,
  judge?: AllocationJudge,
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
  // The layers a ratio's budget counts: every selected factorizable one, factorized or not.
  const considered: AllocationLayer[] = [];
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
    const allocation: AllocationLayer = { name, m, n, params: paramsBefore, spectrum: null };
    considered.push(allocation);
    if (!values.every(Number.isFinite)) {
      // Only reachable with --allow-nonfinite: an SVD of NaN/Inf is NaN, so the layer stays as stored.
      entry.reason = 'kernel holds NaN or Infinity; kept as stored';
      continue;
    }
    const d = decompose(values, m, n, svdTarget(spec, name, useful), svd);
    decompositions.set(name, d);
    entry.singularValues = Array.from(d.s);
    entry.singularValuesComplete = d.complete;
    entry.spectrumEnergy = d.energy;
    entry.svdMethod = d.method;
    allocation.spectrum = spectra?.get(name) ?? { s: d.s, total: d.energy };
  }
  const whitened = spectra !== undefined && spectra.size > 0 ? 'whiten' : 'svd';
  const measured = whitened === 'whiten' && considered.every((l) => l.spectrum === null || spectra?.get(l.name)?.losses !== undefined);
  const score = spec.kind === 'ratio' ? spec.score ?? (measured ? 'measured' : defaultAllocationScore(whitened)) : undefined;
  const requested = spec.kind === 'ratio' && score !== undefined ? allocate(considered, spec.fraction, score, judge) : undefined;
  const ratioText = spec.kind === 'ratio' ? ` --ratio ${spec.fraction}` : '';
  for (const entry of entries) {
    const d = decompositions.get(entry.name);
    if (d === undefined) continue;
    const { name, m, n, maxUsefulRank: useful } = entry;
    // Shares of an incomplete spectrum are taken against ‖W‖²_F, the whole spectrum's energy.
    const total = d.complete ? undefined : d.energy;
    let rank: number;
    if (requested !== undefined) {
      const allocated = requested.ranks.get(name) ?? null;
      if (allocated === null) {
        decompositions.delete(name);
        entry.reason = useful === 0 ? `a ${m}×${n} kernel cannot be made smaller by factorizing` : `within${ratioText}, keeping it whole restores more energy per parameter than other layers' components`;
        continue;
      }
      rank = allocated;
    } else {
      rank = spec.kind === 'fixed' ? spec.rank : spec.kind === 'energy' ? rankForEnergy(d.s, spec.fraction, total) : spec.kind === 'per-layer' ? (spec.ranks.get(name) as number) : 0;
    }
    if (rank > useful) {
      decompositions.delete(name);
      entry.reason = useful === 0
        ? `a ${m}×${n} kernel cannot be made smaller by factorizing`
        : spec.kind === 'energy'
          ? `${formatShare(spec.fraction)} energy needs ${rank > d.s.length ? `a rank above ${d.s.length}` : `rank ${rank}`} (largest useful rank: ${useful})`
          : `rank ${rank} saves nothing for ${m}×${n} (largest useful rank: ${useful})`;
    } else {
      entry.rank = rank;
      // Factorizing swaps the m·n kernel for k·(m+n) numbers; every other weight (bias) is kept.
      entry.paramsAfter = entry.paramsBefore - m * n + rank * (m + n);
      entry.energyKept = energyKept(d.s, rank, total);
      entry.relativeError = relativeError(d.s, rank, total);
      const read = whitened === 'whiten' ? spectra?.get(name) : undefined;
      if (requested !== undefined && read !== undefined) entry.predictedOutputError = relativeError(read.s, rank, read.total);
      if (requested !== undefined && score === 'measured' && read?.losses !== undefined) entry.predictedLoss = read.losses[rank] as number;
    }
  }
  const plan: Plan = { entries, decompositions };
  if (requested !== undefined && spec.kind === 'ratio') {
    plan.budget = {
      ratio: spec.fraction,
      paramsBefore: requested.paramsBefore,
      paramsAfter: requested.paramsAfter,
      budget: requested.budget,
      score: score ?? defaultAllocationScore(whitened),
      ...(score === 'measured' ? { predictedLoss: 'loss' in requested ? (requested.loss as number) : predictedLoss(requested, considered) } : {}),
      spectra: whitened,
    };
  }
  return plan;
}

/** Σ of the measured losses at the allocated ranks. */
function predictedLoss(allocation: Allocation, considered: readonly AllocationLayer[]): number {
  let sum = 0;
  for (const layer of considered) {
    const rank = allocation.ranks.get(layer.name) ?? null;
    const losses = layer.spectrum?.losses;
    if (rank !== null && losses !== undefined) sum += Math.max(0, losses[rank] as number);
  }
  return sum;
}

/** The ratio's allocation, or a UsageError naming the smallest ratio rank 1 everywhere reaches. */
function allocate(considered: readonly AllocationLayer[], fraction: number, score: AllocationScore, judge: AllocationJudge | undefined): Allocation | (Allocation & { loss: number }) {
  try {
    return score === 'measured' && judge !== undefined ? allocateJudged(considered, fraction, judge) : allocateRanks(considered, fraction, score);
  } catch (err) {
    if (!(err instanceof BudgetUnreachable)) throw err;
    // Rounded up, so that the ratio named is one that works.
    const smallest = Math.ceil(err.smallest * 1e4) / 1e4;
    throw new UsageError(`--ratio ${fraction} is below what rank 1 in every considered layer keeps; the smallest reachable ratio is ${smallest}`);
  }
}

/**
 * What one layer's decomposition must deliver: vectors for the rank asked (or, past the break-even, a
 * spectrum up to it, for the report), or for an energy share the top values up to the break-even.
 */
function svdTarget(spec: RankSpec, name: string, useful: number): SvdTarget {
  if (spec.kind === 'energy') return { energy: spec.fraction, maxRank: Math.max(1, useful) };
  // The allocation may take any rank up to the break-even.
  if (spec.kind === 'ratio') return { rank: Math.max(1, useful) };
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
