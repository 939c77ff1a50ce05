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
export type AllocationScore = 'relative' | 'absolute' | 'balanced' | 'measured';

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
   *
   * `losses` (score `measured`): losses[k] for k = 1..maxUsefulRank(m, n) (index 0 unused), what the
   * model loses with this layer alone at rank k; kept whole it loses nothing.
   */
  spectrum: { s: ArrayLike<number>; total: number; losses?: ArrayLike<number> } | null;
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
  if (score === 'measured') return allocateByLoss(layers, ratio);
  const paramsBefore = layers.reduce((sum, l) => sum + l.params, 0);
  const budget = budgetOf(ratio, paramsBefore);
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

/** ⌊F·P⌋, with a hair of slack so that 0.3·10 counts as 3 and not 2.9999999999999996. */
function budgetOf(ratio: number, paramsBefore: number): number {
  return Math.floor(ratio * paramsBefore * (1 + 1e-12));
}

/** One way to leave a layer: a rank (null: whole), its parameters and the loss it is expected to cost. */
interface Choice {
  rank: number | null;
  cost: number;
  loss: number;
}

/** A partial allocation over the first layers: its cost, loss, and the choice and predecessor that made it. */
interface Point {
  cost: number;
  loss: number;
  choice: number;
  previous: number;
}

/**
 * Most points kept per layer in the exact search below. Past it the frontier is thinned to points
 * evenly spread over its costs (still never over budget, no longer exact): only reached by models
 * with many large layers.
 */
const MAX_FRONTIER = 4096;

/**
 * Score `measured`: minimize Σ_l losses_l(k_l) (each layer's loss measured alone, as AIMET's
 * compression-ratio selection assumes them additive) under the budget, by an exact search over every
 * combination of ranks: layer by layer, keep only the allocations no other beats at once in cost and
 * loss (a Pareto frontier), drop those over budget, and take the lowest loss at the end (the cheaper
 * one on a tie). Unlike a greedy this handles curves that are not convex: a layer whose loss stays
 * high until a large rank, or one worth keeping whole only when the budget allows it.
 */
function allocateByLoss(layers: readonly AllocationLayer[], ratio: number): Allocation {
  const paramsBefore = layers.reduce((sum, l) => sum + l.params, 0);
  const budget = budgetOf(ratio, paramsBefore);
  const options: Choice[][] = [];
  let smallest = 0;
  for (const layer of layers) {
    const useful = maxUsefulRank(layer.m, layer.n);
    const losses = layer.spectrum?.losses;
    const whole: Choice = { rank: null, cost: layer.params, loss: 0 };
    if (layer.spectrum === null || useful < 1) {
      options.push([whole]);
      smallest += layer.params;
      continue;
    }
    if (losses === undefined || losses.length <= useful) throw new Error(`allocateRanks: ${layer.name} needs measured losses up to rank ${useful}`);
    const choices: Choice[] = [];
    for (let k = 1; k <= useful; k++) choices.push({ rank: k, cost: layer.params - layer.m * layer.n + k * (layer.m + layer.n), loss: Math.max(0, losses[k] as number) });
    choices.push(whole);
    options.push(choices);
    smallest += (choices[0] as Choice).cost;
  }
  if (smallest > budget) throw new BudgetUnreachable(smallest / Math.max(1, paramsBefore));
  const frontiers: Point[][] = [];
  let frontier: Point[] = [{ cost: 0, loss: 0, choice: -1, previous: -1 }];
  for (const choices of options) {
    const next: Point[] = [];
    frontier.forEach((p, previous) => {
      choices.forEach((c, choice) => {
        if (p.cost + c.cost <= budget) next.push({ cost: p.cost + c.cost, loss: p.loss + c.loss, choice, previous });
      });
    });
    frontier = paretoFront(next);
    frontiers.push(frontier);
  }
  // The lowest loss; the front is sorted by cost with falling loss, so that is its last point.
  let index = frontier.length - 1;
  const ranks = new Map<string, number | null>();
  const paramsAfter = (frontier[index] as Point).cost;
  for (let l = layers.length - 1; l >= 0; l--) {
    const point = (frontiers[l] as Point[])[index] as Point;
    ranks.set((layers[l] as AllocationLayer).name, ((options[l] as Choice[])[point.choice] as Choice).rank);
    index = point.previous;
  }
  return { ranks: new Map(layers.map((l) => [l.name, ranks.get(l.name) ?? null])), paramsAfter, paramsBefore, budget };
}

/** The points no other is at most as costly and strictly less lossy than, by rising cost (so falling loss). */
function paretoFront(points: Point[]): Point[] {
  points.sort((a, b) => a.cost - b.cost || a.loss - b.loss);
  const front: Point[] = [];
  for (const p of points) if (front.length === 0 || p.loss < (front[front.length - 1] as Point).loss) front.push(p);
  if (front.length <= MAX_FRONTIER) return front;
  // Thin: the cheapest and the least lossy stay, and points evenly spaced in cost between them.
  const thinned: Point[] = [];
  const step = (front.length - 1) / (MAX_FRONTIER - 1);
  for (let i = 0; i < MAX_FRONTIER; i++) thinned.push(front[Math.round(i * step)] as Point);
  return thinned;
}

/** The loss of the model with every layer at the given rank at once (null: whole), as measured on data. */
export type AllocationJudge = (ranks: ReadonlyMap<string, number | null>) => number;

/**
 * Score `measured` with a judge: the exact search above assumes the layers' losses add up, which
 * fails where several layers are cut deep together (digits-mlp at 5.7%: it chose 3/2/5, 52.6% on the
 * test file, against 64.9% for 3/3/3). So the candidates are that search's allocation, the spectral
 * `relative` and `absolute` ones, and the largest uniform rank that fits; each is measured with all its
 * layers truncated at once, and the lowest loss wins (the earlier candidate on a tie). Four more
 * forward passes at most.
 */
export function allocateJudged(layers: readonly AllocationLayer[], ratio: number, judge: AllocationJudge): Allocation & { loss: number } {
  const candidates: Allocation[] = [allocateRanks(layers, ratio, 'measured')];
  for (const score of ['relative', 'absolute'] as const) candidates.push(allocateRanks(layers, ratio, score));
  const uniform = uniformAllocation(layers, ratio);
  if (uniform !== undefined) candidates.push(uniform);
  const seen = new Set<string>();
  let best: (Allocation & { loss: number }) | undefined;
  for (const candidate of candidates) {
    const key = JSON.stringify([...candidate.ranks]);
    if (seen.has(key)) continue;
    seen.add(key);
    const loss = judge(candidate.ranks);
    if (best === undefined || loss < best.loss) best = { ...candidate, loss };
  }
  return best as Allocation & { loss: number };
}

/**
 * The largest uniform rank k whose parameters fit the budget, as `--rank k` applies it (a layer whose
 * break-even is below k stays whole); undefined when even k = 1 does not fit.
 */
export function uniformAllocation(layers: readonly AllocationLayer[], ratio: number): Allocation | undefined {
  const paramsBefore = layers.reduce((sum, l) => sum + l.params, 0);
  const budget = budgetOf(ratio, paramsBefore);
  const at = (k: number): { ranks: Map<string, number | null>; params: number } => {
    const ranks = new Map<string, number | null>();
    let params = 0;
    for (const l of layers) {
      const useful = l.spectrum === null ? 0 : maxUsefulRank(l.m, l.n);
      const rank = k <= useful ? k : null;
      ranks.set(l.name, rank);
      params += rank === null ? l.params : l.params - l.m * l.n + rank * (l.m + l.n);
    }
    return { ranks, params };
  };
  const top = Math.max(0, ...layers.map((l) => (l.spectrum === null ? 0 : maxUsefulRank(l.m, l.n))));
  let found: { ranks: Map<string, number | null>; params: number } | undefined;
  for (let k = 1; k <= top; k++) {
    const candidate = at(k);
    if (candidate.params <= budget) found = candidate;
  }
  return found === undefined ? undefined : { ranks: found.ranks, paramsBefore, paramsAfter: found.params, budget };
}
