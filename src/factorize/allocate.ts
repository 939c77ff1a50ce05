/**
 * `--ratio F`: ranks for every considered layer so that their parameters together are at most F of
 * the original's, spent where they keep the most energy per parameter (METHODS.md, rank allocation).
 *
 * A layer's kernel m×n at rank k costs k·(m + n); its other weights (bias) are kept whatever the rank.
 * Every factorizable layer starts at rank 1 (the minimum), then a greedy repeatedly takes, among the
 * moves that still fit the budget, the one with the most score per parameter:
 * - the layer's next component k+1: gain σ²_{k+1}, cost m + n;
 * - the layer kept whole: gain the whole tail Σ_{i>k} σ², cost m·n − k·(m + n). Past break-even
 *   (k > maxUsefulRank) this is the only way up, and it is often the best deal before that too: on a
 *   flat spectrum the whole kernel costs less than all its components.
 * Moves that do not fit are dropped for good (the budget only shrinks), moves that gain nothing are
 * never taken, so the result is never over budget and never pays for nothing.
 *
 * Score: `relative` divides each layer's gains by its spectrum's total energy (a component is worth
 * the share of that layer's output energy it restores); `absolute` takes σ² as it is (the squared
 * error it removes, in the units of that layer's outputs or weights); `balanced` minimizes Σ share²,
 * favouring the layers with the largest errors. Measured before fine-tuning by bench/ratio-scoring.ts
 * (digits-mlp and digits-cnn, ratios 0.05/0.1/0.2/0.3, the held-out 20% of the training file):
 * on whitened spectra relative was best in 4 of 8 (mean accuracy 0.758), balanced in 3 (0.768, one
 * large win at digits-cnn 0.1), absolute in 3 (0.677); on the kernels' own spectra absolute was best in
 * 4 of 8 (0.399), balanced 4 (0.343), relative 3 (0.226: it spends the budget on the first layer,
 * whose weight spectrum decays fastest but says nothing about its outputs). So the default follows the
 * spectra: relative for whitened ones, absolute for plain ones.
 */

/** The largest k with k·(m+n) < m·n: beyond it the two factors hold at least as many numbers as W. */
export function maxUsefulRank(m: number, n: number): number {
  return Math.max(0, Math.floor((m * n - 1) / (m + n)));
}

/**
 * How a component's energy is made comparable across layers: relative (a share of the layer's total),
 * absolute (σ² as it is), or balanced (the objective Σ_l share_l², which favours large errors).
 */
export type AllocationScore = 'relative' | 'absolute' | 'balanced';

/** The score the CLI uses for whitened or plain spectra (bench/ratio-scoring.ts). */
export function defaultAllocationScore(spectra: 'svd' | 'whiten'): AllocationScore {
  return spectra === 'whiten' ? 'relative' : 'absolute';
}

/** One considered layer. */
export interface AllocationLayer {
  name: string;
  /** The kernel as an m×n matrix. */
  m: number;
  n: number;
  /** All the layer's weights (kernel + bias). */
  params: number;
  /**
   * The spectrum its rank is chosen on, descending, at least up to maxUsefulRank(m, n) values, and
   * Σσ² of the whole spectrum; null for a layer that stays whole whatever the budget (nothing to
   * gain by factorizing it, or a kernel that cannot be decomposed).
   */
  spectrum: { s: ArrayLike<number>; total: number } | null;
}

export interface Allocation {
  /** Rank per layer name; null: kept whole. */
  ranks: Map<string, number | null>;
  /** Parameters of the considered layers before, after, and the most allowed (⌊F·before⌋). */
  paramsBefore: number;
  paramsAfter: number;
  budget: number;
}

/** The budget cannot be met even at rank 1 everywhere; `smallest` is the smallest reachable ratio. */
export class BudgetUnreachable extends Error {
  constructor(readonly smallest: number) {
    super(`the smallest reachable ratio is ${smallest}`);
  }
}

interface State {
  layer: AllocationLayer;
  s: ArrayLike<number>;
  total: number;
  useful: number;
  /** Current rank; null once whole. */
  rank: number | null;
  /**
   * tails[k] = Σ_{i>k} σ² (of the whole spectrum, the part beyond the known values included), summed
   * from the end: total − kept would drown small tails in rounding.
   */
  tails: Float64Array;
}

/**
 * Allocate ranks for a budget of `ratio` (0 < ratio ≤ 1) of the layers' parameters. Throws
 * BudgetUnreachable when rank 1 everywhere is already over.
 */
export function allocateRanks(layers: readonly AllocationLayer[], ratio: number, score: AllocationScore): Allocation {
  if (!(ratio > 0 && ratio <= 1)) throw new Error(`allocateRanks: ratio ${ratio} outside (0, 1]`);
  const paramsBefore = layers.reduce((sum, l) => sum + l.params, 0);
  // ⌊F·P⌋, with a hair of slack so that 0.3·10 counts as 3 and not 2.9999999999999996.
  const budget = Math.floor(ratio * paramsBefore * (1 + 1e-12));
  const states: State[] = [];
  let used = 0;
  for (const layer of layers) {
    const useful = maxUsefulRank(layer.m, layer.n);
    if (layer.spectrum === null || useful < 1) {
      used += layer.params;
      continue;
    }
    const s = layer.spectrum.s;
    if (s.length < useful) throw new Error(`allocateRanks: ${layer.name} has ${s.length} singular values, needs ${useful}`);
    const tails = new Float64Array(s.length + 1);
    let known = 0;
    for (let i = 0; i < s.length; i++) known += (s[i] as number) ** 2;
    tails[s.length] = Math.max(0, layer.spectrum.total - known);
    for (let i = s.length - 1; i >= 0; i--) tails[i] = (tails[i + 1] as number) + (s[i] as number) ** 2;
    states.push({ layer, s, total: layer.spectrum.total, useful, rank: 1, tails });
    used += layer.params - layer.m * layer.n + layer.m + layer.n;
  }
  if (used > budget) throw new BudgetUnreachable(used / Math.max(1, paramsBefore));
  for (;;) {
    let best: { state: State; whole: boolean; cost: number; value: number } | undefined;
    for (const state of states) {
      if (state.rank === null) continue;
      const { layer, rank } = state;
      const scale = score !== 'absolute' ? (state.total > 0 ? 1 / state.total : 0) : 1;
      // A move takes the tail from tails[rank] to `after`: one component less, or nothing (whole).
      const tail = state.tails[rank] as number;
      const moves: Array<{ whole: boolean; cost: number; after: number }> = [];
      if (rank < state.useful) moves.push({ whole: false, cost: layer.m + layer.n, after: state.tails[rank + 1] as number });
      moves.push({ whole: true, cost: layer.m * layer.n - rank * (layer.m + layer.n), after: 0 });
      for (const move of moves) {
        // balanced: the objective is Σ (tail share)², so a gain is worth more where the error is large.
        const gain = score === 'balanced' ? (tail * scale) ** 2 - (move.after * scale) ** 2 : (tail - move.after) * scale;
        const value = gain / move.cost;
        if (!(value > 0) || used + move.cost > budget) continue;
        // Ties go to the earlier layer, and to the next component before the whole kernel.
        if (best === undefined || value > best.value) best = { state, whole: move.whole, cost: move.cost, value };
      }
    }
    if (best === undefined) break;
    const { state } = best;
    used += best.cost;
    state.rank = best.whole ? null : (state.rank as number) + 1;
  }
  const ranks = new Map<string, number | null>(layers.map((l) => [l.name, null]));
  for (const state of states) ranks.set(state.layer.name, state.rank);
  return { ranks, paramsBefore, paramsAfter: used, budget };
}
