/**
 * `--method whiten`: replace the plan's plain decompositions by whitened ones (factorize/whiten.ts),
 * from G = XᵀX of each chosen layer's inputs over a calibration sample of the TRAINING part (never the
 * held-out part the models are measured on).
 *
 * Layers are calibrated in plan order on the inputs the already-compressed model produces: after a
 * layer is done, its live kernel is set to A·B (the same function its two factor layers compute), so
 * the next layer's inputs carry the earlier truncation errors. The original kernels are restored
 * before returning, since later stages measure the original too.
 *
 * A layer with a bias (Dense, Conv2D) whitens its centered inputs and takes the mean's part of the
 * error into its bias, b + μ(W − AB): on the digits fixtures before fine-tuning this raised accuracy
 * by 0.6–17 points (digits-cnn rank 4: 47.9% → 65.2%), never lowered it.
 *
 * A layer's inputs come from a sub-model of the live model ending at the layer's inbound tensor, run
 * in batches, so only one batch of activations is ever held; G is summed in float64.
 */
import { tf } from '../tf.js';
import { createRng } from '../data/random.js';
import type { Dataset } from '../data/types.js';
import type { BatchSource } from '../data/stream.js';
import { readTopology, siteKey, walkLayers } from '../graph/topology.js';
import { centeredGram, correctedBias, diagonalBasis, eigenbasis, energyKept, layerWeights, liveLayer, maxUsefulRank, rankForEnergy, relativeError, rotate, truncate, whitenedSpectrum, whitenedSvd, type Eigenbasis, type Plan, type PlanEntry, type Spectrum, type Svd, type WhitenOptions, type AllocationJudge } from '../factorize/index.js';
import { factorizerFor, type LayerWeights } from '../factorize/registry.js';
import { featureTensors, modelInput, predictAll, type InputShapes } from '../train/tensors.js';
import { perSampleDistillLoss } from '../train/loss.js';
import type { Prepared } from './prepare.js';

/** Rows per forward pass while calibrating. */
const CALIBRATION_BATCH = 64;

/** Whiten every chosen layer of the plan in place (decompositions and entries); notes say what was not. */
export async function whitenPlan(run: Prepared, plan: Plan, options: WhitenOptions = {}): Promise<void> {
  const { data } = run;
  if (data === undefined) throw new Error('whitenPlan needs data');
  // The allocation's measurements already whitened the chosen ranks (measureLayers, keepFor): their
  // sample and bases, instead of every G and its eigendecomposition again.
  const kept = keptForWhitening.get(run);
  keptForWhitening.delete(run);
  whitenPlanOn(run, plan, kept?.sample ?? (await calibrationSample(data.train, run.options.calibrationSamples, run.options.seed)), options, undefined, kept?.bases);
}

/** What measureLayers keeps for the run's own whitenPlan (keepFor): its sample and the chosen plan's bases. */
const keptForWhitening = new WeakMap<Prepared, { sample: Dataset; bases: BasisCache }>();

/** The bases cache's keys whitenPlanOn will look up for `plan`'s ranks, in its order. */
function basisKeys(plan: Plan): Set<string> {
  const keys = new Set<string>();
  let before = '';
  for (const entry of plan.entries) {
    if (entry.rank === null) continue;
    keys.add(`${entry.name}|${before}`);
    before += `${entry.name}:${entry.rank},`;
  }
  return keys;
}

/**
 * whitenPlan on a calibration sample already drawn. `inside`, when given, runs once every layer is
 * done, while the live model computes what the factorized one will (each kernel A·B, its corrected
 * bias), before the original weights are put back; its result is returned.
 */
function whitenPlanOn<T>(run: Prepared, plan: Plan, sample: Dataset, options: WhitenOptions = {}, inside?: () => T, bases?: BasisCache): T | undefined {
  const { shapes, original } = run;
  if (shapes === null) throw new Error('whitenPlan needs input shapes');
  const paths = new Map(walkLayers(run.options.model, readTopology(run.options.model, run.stored.json.modelTopology)).map((s) => [siteKey(s.path), s.path]));
  // --energy reads the whitened spectrum, so a layer the kernel's own spectrum put past the break-even
  // may still be factorized: every decomposed layer is a candidate, its rank chosen below.
  const energy = run.options.rank.kind === 'energy' ? run.options.rank.fraction : undefined;
  const candidates = plan.entries.filter((e) => e.rank !== null || (energy !== undefined && e.singularValues.length > 0 && e.maxUsefulRank > 0));
  const saved: Array<[tf.layers.Layer, LayerWeights[]]> = [];
  // What the layers before this one were truncated to: a layer's inputs, so its basis, depend on nothing else.
  let before = '';
  try {
    for (const entry of candidates) {
      const path = paths.get(entry.name);
      const factorizer = factorizerFor(entry.className);
      if (path === undefined || factorizer === undefined) throw new Error(`plan entry ${entry.name} does not match the model`);
      const layer = liveLayer(original, path);
      const inbound = path.length === 1 ? layerInput(layer) : undefined;
      if (inbound === undefined) {
        if (entry.rank === null) continue;
        entry.method = 'svd';
        run.emit({ status: 'note', message: `${entry.name}: its inputs cannot be taken from the model (nested or shared layer); plain SVD` });
        continue;
      }
      const weights = layerWeights(layer);
      const { values, m, n } = factorizer.matrix(weights);
      const key = `${entry.name}|${before}`;
      // The layer's weights here are its original ones (only earlier layers are cut): QᵀW is cached with the basis.
      const cached: BasisEntry = bases?.get(key) ?? layerBasis(original, inbound, layer, entry.className, weights, sample, shapes, m, n);
      const { basis, mean, bias } = cached;
      const rotated = cached.rotated !== undefined ? cached.rotated : rotate(values, m, n, basis);
      bases?.set(key, { ...cached, rotated });
      const svdOptions = { ...options, method: run.options.svd, seed: run.options.seed };
      const d = whitenedSvd(values, m, n, basis, energy !== undefined ? Math.max(1, entry.maxUsefulRank) : (entry.rank as number), svdOptions, rotated);
      const total = d.complete ? undefined : d.energy;
      if (energy !== undefined) {
        const rank = rankForEnergy(d.s, energy, total);
        if (rank > entry.maxUsefulRank) {
          keepWhole(plan, entry, `${Number((energy * 100).toFixed(2))}% of the whitened energy needs ${rank > d.s.length ? `a rank above ${d.s.length}` : `rank ${rank}`} (largest useful rank: ${entry.maxUsefulRank})`);
          continue;
        }
        setRank(entry, rank);
      }
      const rank = entry.rank as number;
      const factors = truncate(d, rank);
      const newBias = bias !== undefined && mean !== undefined ? correctedBias(bias.values, mean, values, factors.a, factors.b, m, n, rank) : undefined;
      if (newBias !== undefined) (plan.biases ??= new Map()).set(entry.name, newBias);
      plan.decompositions.set(entry.name, d);
      entry.method = 'whiten';
      entry.singularValues = Array.from(d.s);
      entry.singularValuesComplete = d.complete;
      entry.spectrumEnergy = d.energy;
      entry.svdMethod = d.method;
      entry.energyKept = energyKept(d.s, rank, total);
      entry.relativeError = relativeError(d.s, rank, total);
      const kernel = product(factors.a, factors.b, m, n, rank);
      // The errors are report facts: not worked out for a candidate only being judged (`inside`).
      if (inside === undefined) {
        entry.weightError = weightError(values, kernel);
        entry.outputError = outputError(basis, rotated ?? values, factors.a, factors.b, m, n, rank);
      }
      // The next layers calibrate on what the compressed model computes: this layer now acts as A·B.
      saved.push([layer, weights]);
      before += `${entry.name}:${rank},`;
      setWeights(layer, weights.map((w, i) => (i === 0 ? { values: kernel, shape: w.shape } : i === 1 && newBias !== undefined ? { values: newBias, shape: w.shape } : w)));
    }
    return inside?.();
  } finally {
    for (const [layer, weights] of saved.reverse()) setWeights(layer, weights);
  }
}

/**
 * For --ratio with --method whiten, the allocation's default score (`measured`): what the network
 * loses with one layer truncated at a time, as AIMET's compression-ratio selection measures it. For
 * each selected layer and a grid of ranks (every rank up to 8, then steps of about 25% up to the
 * break-even), the layer alone is given its whitened rank-k factors (the truncation's whitening and
 * bias correction, calibrated on the original model's inputs), the model is run on the calibration
 * sample, and the loss is the mean distillation loss against the original's outputs at temperature 1
 * minus the original's own: KL(original ‖ truncated) for a classifier, the squared error of the outputs
 * for other models; no labels are needed, and only training rows are read. Ranks between the grid's
 * are interpolated along the truncation's whitened tail energy. Each layer's spectrum is also returned
 * unridged (ALLOCATION_WHITEN), for the spectral scores and the report's predicted output error. Layers
 * whose inputs cannot be taken (nested or shared) are missing: they are allocated on their kernel's
 * spectrum.
 *
 * The judge measures a whole candidate allocation as compress will factorize it (whitenPlan, layer by
 * layer in order) on the same sample: one-at-a-time losses add up badly where several layers are cut
 * deep (allocate.ts, allocateJudged).
 *
 * Cost: per layer, its G and eigendecomposition once, and one forward pass over the calibration sample
 * per grid rank (about 8 + 4.5·log₂ of the break-even rank: 23 + 19 + 9 passes of 512 rows for
 * fashion-mlp); then up to four judged candidates, each one whitening pass (bases already taken on the
 * same inputs are reused, and the chosen plan's again by compress's own whitening: keepFor). `npx tsx bench/ratio-uniform.ts` prints the time: about as long as
 * factorizing and evaluating the model a few times over, much less than one epoch of fine-tuning on
 * a realistic training set. Why (same bench, accuracy before fine-tuning at the share of a uniform
 * rank): the spectra's shares of output energy say nothing of how much of that energy the later
 * layers and the argmax use. Measured, --ratio was at or above the uniform rank in 12 of 13 points
 * on digits-mlp, digits-cnn and fashion-mlp (the exception: 6 of fashion-mlp's 500 committed test
 * images at 9.8%, where on all 10,000 it is 1 point above), where the relative score lost up to
 * 24.5 points.
 */
export async function measureLayers(run: Prepared, selected: (name: string) => boolean): Promise<MeasuredLayers> {
  const { data, shapes, original, loss } = run;
  if (data === undefined || shapes === null || loss === null) throw new Error('measureLayers needs data');
  const sample = await calibrationSample(data.train, run.options.calibrationSamples, run.options.seed);
  const teacher = predictAll(original, sample, shapes);
  const divergence = (): number =>
    tf.tidy(() => {
      const student = predictAll(original, sample, shapes);
      return perSampleDistillLoss(loss, teacher, student, 1).mean().dataSync()[0] as number;
    });
  const layers = new Map<string, TruncatedLayer>();
  const spectra = new Map<string, Spectrum>();
  const bases: BasisCache = new Map();
  try {
    const baseline = divergence();
    for (const site of walkLayers(run.options.model, readTopology(run.options.model, run.stored.json.modelTopology))) {
      const factorizer = factorizerFor(site.json.class_name);
      const name = siteKey(site.path);
      if (factorizer === undefined || !selected(name) || site.path.length !== 1) continue;
      const layer = liveLayer(original, site.path);
      const inbound = layerInput(layer);
      if (inbound === undefined) continue;
      const weights = layerWeights(layer);
      const { values, m, n } = factorizer.matrix(weights);
      const useful = maxUsefulRank(m, n);
      if (useful < 1 || !values.every(Number.isFinite)) continue;
      const layerStats = layerBasis(original, inbound, layer, site.json.class_name, weights, sample, shapes, m, n);
      const { basis, mean, bias } = layerStats;
      const rotated = rotate(values, m, n, basis);
      // On the original model's inputs: the basis a judged candidate reuses where no earlier layer is cut.
      bases.set(`${name}|`, { ...layerStats, rotated });
      const svdOptions = { method: run.options.svd, seed: run.options.seed };
      const plain = whitenedSpectrum(values, m, n, basis, useful, { ...ALLOCATION_WHITEN, ...svdOptions }, rotated);
      const truncated: TruncatedLayer = { layer, weights, values, m, n, d: whitenedSvd(values, m, n, basis, useful, svdOptions, rotated), ...(mean !== undefined && bias !== undefined ? { mean, bias } : {}) };
      const grid = candidateRanks(useful);
      const measured: number[] = [];
      try {
        for (const k of grid) {
          truncateLayer(truncated, k);
          measured.push(divergence() - baseline);
        }
      } finally {
        setWeights(layer, weights);
      }
      layers.set(name, truncated);
      spectra.set(name, { s: plain.s, total: plain.energy, losses: interpolateLosses(grid, measured, truncated.d.s, truncated.d.energy, useful) });
    }
    // A candidate is judged as compress will factorize it: whitened layer by layer in order, each on
    // the inputs the layers before it, already factorized, produce.
    const judge = (ranks: ReadonlyMap<string, number | null>): number => {
      const entries: PlanEntry[] = [];
      for (const [name, t] of layers) {
        const rank = ranks.get(name) ?? null;
        if (rank === null) continue;
        const paramsBefore = t.weights.reduce((sum, w) => sum + w.values.length, 0);
        entries.push({ name, className: t.layer.getClassName(), m: t.m, n: t.n, paramsBefore, paramsAfter: paramsBefore - t.m * t.n + rank * (t.m + t.n), maxUsefulRank: maxUsefulRank(t.m, t.n), rank, singularValues: [] });
      }
      return (whitenPlanOn(run, { entries, decompositions: new Map() }, sample, {}, divergence, bases) as number) - baseline;
    };
    const keepFor = (plan: Plan): void => {
      const keys = basisKeys(plan);
      // Only the plan's own bases outlive the allocation: each holds two m×m float64 matrices.
      const kept: BasisCache = new Map([...bases].filter(([key]) => keys.has(key)));
      keptForWhitening.set(run, { sample, bases: kept });
    };
    return { spectra, judge, keepFor, dispose: () => teacher.dispose() };
  } catch (err) {
    teacher.dispose();
    throw err;
  }
}

/**
 * Layer bases by `name|what the layers before it were truncated to` (layerBasis is most of a layer's
 * time: G and its eigendecomposition), with QᵀW of the layer's original kernel in that basis.
 */
type BasisCache = Map<string, BasisEntry>;
type BasisEntry = ReturnType<typeof layerBasis> & { rotated?: Float64Array | null };

/** What measureLayers gives the allocation; dispose() when the allocations are done. */
export interface MeasuredLayers {
  /** The unridged whitened spectra, with each layer's measured losses. */
  spectra: Map<string, Spectrum>;
  /** The loss with the given layers all truncated at once (the same factors, on the original's inputs). */
  judge: AllocationJudge;
  /**
   * Keep this sample and the bases `plan` needs for the run's whitenPlan, which then computes none of
   * them again (a compress run's single plan; a sweep, whose points share the measurements, does not).
   */
  keepFor(plan: Plan): void;
  dispose(): void;
}

/** A measured layer: its live layer and original weights, and its whitened decomposition. */
interface TruncatedLayer {
  layer: tf.layers.Layer;
  weights: LayerWeights[];
  values: Float32Array;
  m: number;
  n: number;
  d: Svd;
  mean?: Float64Array;
  bias?: LayerWeights;
}

/** Give the live layer its rank-k whitened factors' product, with the mean-corrected bias. */
function truncateLayer(t: TruncatedLayer, k: number): void {
  const factors = truncate(t.d, k);
  const kernel = product(factors.a, factors.b, t.m, t.n, k);
  const newBias = t.bias !== undefined && t.mean !== undefined ? biasFor(t.bias.values, t.mean, t.values, kernel, t.m, t.n) : undefined;
  setWeights(t.layer, t.weights.map((w, i) => (i === 0 ? { values: kernel, shape: w.shape } : i === 1 && newBias !== undefined ? { values: newBias, shape: w.shape } : w)));
}

/** The ranks measuredSpectra measures: 1..8, then about 25% apart, and the break-even rank itself. */
export function candidateRanks(useful: number): number[] {
  const ranks: number[] = [];
  for (let k = 1; k <= Math.min(8, useful); k++) ranks.push(k);
  for (let k = 8; k < useful; ) {
    k = Math.min(useful, Math.max(k + 1, Math.round(k * 1.25)));
    ranks.push(k);
  }
  return ranks;
}

/**
 * losses[k] for k = 1..useful from the values measured at `grid` (ascending, from 1, ending at
 * useful): between two measured ranks, in proportion to the whitened energy the ranks between them
 * restore (the tail Σ_{i>k} σ², of `energy` in all).
 */
export function interpolateLosses(grid: readonly number[], measured: readonly number[], s: ArrayLike<number>, energy: number, useful: number): Float64Array {
  const tails = new Float64Array(useful + 1);
  let kept = 0;
  tails[0] = energy;
  for (let k = 1; k <= useful; k++) {
    kept += k - 1 < s.length ? (s[k - 1] as number) ** 2 : 0;
    tails[k] = Math.max(0, energy - kept);
  }
  const losses = new Float64Array(useful + 1);
  for (let g = 0; g < grid.length; g++) {
    const k0 = grid[g] as number;
    const l0 = measured[g] as number;
    losses[k0] = l0;
    const k1 = grid[g + 1];
    if (k1 === undefined) continue;
    const l1 = measured[g + 1] as number;
    const span = (tails[k0] as number) - (tails[k1] as number);
    for (let k = k0 + 1; k < k1; k++) {
      const t = span > 0 ? ((tails[k0] as number) - (tails[k] as number)) / span : (k - k0) / (k1 - k0);
      losses[k] = l0 + (l1 - l0) * t;
    }
  }
  return losses;
}

/** b + μ(W − W′): the mean-corrected bias for a truncated kernel W′ (as correctedBias, from the product). */
function biasFor(bias: ArrayLike<number>, mean: ArrayLike<number>, w: ArrayLike<number>, truncated: ArrayLike<number>, m: number, n: number): Float32Array {
  const out = Float32Array.from(bias as ArrayLike<number>);
  for (let i = 0; i < m; i++) {
    const mu = mean[i] as number;
    if (mu === 0) continue;
    for (let j = 0; j < n; j++) out[j] = (out[j] as number) + mu * ((w[i * n + j] as number) - (truncated[i * n + j] as number));
  }
  return out;
}

/**
 * The whitening of the spectra the allocation reads (the spectral scores, and the report's predicted
 * output error): the eigenvalue floor as the truncation's, no ridge. The ridge adds ε‖W‖²_F spread
 * evenly over the spectrum, which inflates every layer's tail and most the wide hidden layers': on
 * the digits fixtures at budgets matched to uniform ranks, allocating on the ridged spectra lost
 * 1.4–10 accuracy points to the unridged ones at low budgets and never won by more than 0.3 points.
 */
export const ALLOCATION_WHITEN: WhitenOptions = { ridge: 0 };

/**
 * G of the layer's calibration inputs and its eigenbasis. A layer with a bias (Dense, Conv2D) uses the
 * centered inputs and takes the mean's error into its bias (`mean`, `bias`); an Embedding's G is its
 * token counts.
 */
function layerBasis(model: tf.LayersModel, inbound: tf.SymbolicTensor, layer: tf.layers.Layer, className: string, weights: LayerWeights[], sample: Dataset, shapes: InputShapes, m: number, n: number): { basis: Eigenbasis; mean?: Float64Array; bias?: LayerWeights } {
  if (className === 'Embedding') {
    const counts = tokenCounts(model, inbound, layer, sample, shapes, m);
    return { basis: diagonalBasis(counts) };
  }
  const bias = weights[1]?.values.length === n ? weights[1] : undefined;
  const stats = inputGram(model, inbound, layer, className, sample, shapes, m);
  const centered = bias !== undefined ? centeredGram(stats.g, stats.sum, stats.count) : undefined;
  const g = centered?.g ?? stats.g;
  return { basis: eigenbasis(g, m), ...(centered !== undefined && bias !== undefined ? { mean: centered.mean, bias } : {}) };
}

/**
 * ‖X(W − AB)‖_F / ‖XW‖_F on the calibration inputs, measured through their G = XᵀX = QΛQᵀ (centered
 * G for a layer with a bias, whose corrected bias absorbs the mean's part): ‖XΔ‖²_F = tr(ΔᵀGΔ) =
 * Σ_i λ_i ‖(QᵀΔ)_i‖², with Λ as the inputs give it (unlike relativeError, which the whitened
 * spectrum predicts with G's floor and ridge). `rotated` is QᵀW (rotate; W itself for a diagonal G),
 * so QᵀΔ = QᵀW − (QᵀA)B costs O(m²k + mnk) instead of the O(m²n) of tr(ΔᵀGΔ) from G.
 */
export function outputError(basis: Eigenbasis, rotated: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number): number {
  // QᵀA (m×k), or A for a diagonal G.
  const qa: ArrayLike<number> = rotate(a, m, k, basis) ?? a;
  let total = 0;
  let error = 0;
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const lambda = basis.lambda[i] as number;
    if (lambda === 0) continue;
    row.fill(0);
    for (let c = 0; c < k; c++) {
      const x = qa[i * k + c] as number;
      for (let j = 0; j < n; j++) row[j] = (row[j] as number) + x * (b[c * n + j] as number);
    }
    let w2 = 0;
    let d2 = 0;
    for (let j = 0; j < n; j++) {
      const w = rotated[i * n + j] as number;
      w2 += w * w;
      d2 += (w - (row[j] as number)) ** 2;
    }
    total += lambda * w2;
    error += lambda * d2;
  }
  return total > 0 ? Math.sqrt(error / total) : 0;
}

/** ‖W − W′‖_F / ‖W‖_F: what a truncation costs in weight space. */
function weightError(w: ArrayLike<number>, truncated: ArrayLike<number>): number {
  let diff = 0;
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    const x = w[i] as number;
    diff += (x - (truncated[i] as number)) ** 2;
    total += x * x;
  }
  return total === 0 ? 0 : Math.sqrt(diff / total);
}

/** Set an entry's rank and what follows from it for its parameter count. */
function setRank(entry: PlanEntry, rank: number): void {
  entry.rank = rank;
  delete entry.reason;
  entry.paramsAfter = entry.paramsBefore - entry.m * entry.n + rank * (entry.m + entry.n);
}

/** Leave an entry's layer as it is. */
function keepWhole(plan: Plan, entry: PlanEntry, reason: string): void {
  entry.rank = null;
  entry.reason = reason;
  entry.paramsAfter = entry.paramsBefore;
  delete entry.energyKept;
  delete entry.relativeError;
  plan.decompositions.delete(entry.name);
}

/** Up to `count` training rows, a seeded random choice (streamed sources: the first rows of a seeded epoch). */
export async function calibrationSample(train: Dataset | BatchSource, count: number, seed: number): Promise<Dataset> {
  const rng = createRng(seed ^ 0x5eed);
  if (!('batches' in train)) {
    const order = rng.permutation(train.count).subarray(0, Math.min(count, train.count));
    return gatherRows(train, order);
  }
  const parts: Dataset[] = [];
  let rows = 0;
  for await (const batch of train.batches(Math.min(count, 256), rng)) {
    parts.push(batch);
    rows += batch.count;
    if (rows >= count) break;
  }
  const x = new Float32Array(Math.min(rows, count) * train.featureSize);
  let offset = 0;
  for (const part of parts) {
    const take = Math.min(part.count, count - offset / train.featureSize);
    x.set(part.x.subarray(0, take * train.featureSize), offset);
    offset += take * train.featureSize;
  }
  return { file: train.file, count: x.length / train.featureSize, featureSize: train.featureSize, x, y: undefined, labelSize: 0 };
}

function gatherRows(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const x = new Float32Array(indices.length * ds.featureSize);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r] as number;
    x.set(ds.x.subarray(i * ds.featureSize, (i + 1) * ds.featureSize), r * ds.featureSize);
  }
  return { file: ds.file, count: indices.length, featureSize: ds.featureSize, x, y: undefined, labelSize: 0 };
}

/** The layer's one inbound tensor, or undefined for a layer called more than once or on several tensors. */
function layerInput(layer: tf.layers.Layer): tf.SymbolicTensor | undefined {
  try {
    const input = layer.input;
    return Array.isArray(input) ? undefined : input;
  } catch {
    return undefined;
  }
}

/**
 * Run `fn` on each calibration batch of the layer's inputs. The layer's input is a model input, or
 * computed by a sub-model of the live model ending there.
 */
function forEachInputBatch(model: tf.LayersModel, inbound: tf.SymbolicTensor, sample: Dataset, shapes: InputShapes, fn: (x: tf.Tensor) => void): void {
  const direct = model.inputs.indexOf(inbound);
  const sub = direct >= 0 ? undefined : tf.model({ inputs: model.inputs, outputs: inbound });
  for (let start = 0; start < sample.count; start += CALIBRATION_BATCH) {
    const idx = Int32Array.from({ length: Math.min(sample.count, start + CALIBRATION_BATCH) - start }, (_, i) => start + i);
    tf.tidy(() => {
      const inputs = featureTensors(sample, shapes, idx);
      const x = sub === undefined ? (inputs[direct] as tf.Tensor) : (sub.predict(modelInput(inputs)) as tf.Tensor);
      fn(x);
    });
  }
}

/**
 * G = XᵀX, the column sums and the row count of the layer's inputs as its kernel sees them: the last axis for Dense, the im2col patches
 * (kh·kw·cin wide, in the kernel's row order) for Conv2D.
 */
export function inputGram(model: tf.LayersModel, inbound: tf.SymbolicTensor, layer: tf.layers.Layer, className: string, sample: Dataset, shapes: InputShapes, m: number): { g: Float64Array; sum: Float64Array; count: number } {
  const g = new Float64Array(m * m);
  const sum = new Float64Array(m);
  let count = 0;
  const patches = className === 'Conv2D' ? im2col(layer) : undefined;
  try {
    forEachInputBatch(model, inbound, sample, shapes, (x) => {
      const rows = (patches === undefined ? x : patches(x)).reshape([-1, m]);
      const part = tf.matMul(rows, rows, true, false).dataSync();
      for (let i = 0; i < g.length; i++) g[i] = (g[i] as number) + (part[i] as number);
      const columns = tf.sum(rows, 0).dataSync();
      for (let i = 0; i < m; i++) sum[i] = (sum[i] as number) + (columns[i] as number);
      count += rows.shape[0] as number;
    });
  } finally {
    patches?.dispose();
  }
  return { g, sum, count };
}

/**
 * The Conv2D layer's patches: a convolution with the layer's strides, padding and dilation whose
 * kernel [kh, kw, cin, kh·kw·cin] is the identity, so output channel (i·kw + j)·cin + c is input
 * channel c at offset (i, j): exactly the row order of the kernel as a matrix.
 */
export function im2col(layer: tf.layers.Layer): ((x: tf.Tensor) => tf.Tensor) & { dispose(): void } {
  const config = layer.getConfig() as { kernelSize: number[] | number; strides: number[] | number; padding: string; dilationRate: number[] | number; dataFormat?: string };
  if (config.dataFormat === 'channelsFirst') throw new Error(`${layer.name}: channels_first Conv2D cannot be whitened`);
  const kernel = layer.getWeights()[0] as tf.Tensor;
  const [kh, kw, cin] = kernel.shape as [number, number, number, number];
  const p = kh * kw * cin;
  const eye = tf.tidy(() => tf.eye(p).reshape([kh, kw, cin, p]) as tf.Tensor4D);
  const pair = (v: number[] | number): [number, number] => (Array.isArray(v) ? [v[0] as number, (v[1] ?? v[0]) as number] : [v, v]);
  const fn = (x: tf.Tensor): tf.Tensor => tf.conv2d(x as tf.Tensor4D, eye, pair(config.strides), config.padding as 'valid' | 'same', 'NHWC', pair(config.dilationRate));
  return Object.assign(fn, { dispose: () => eye.dispose() });
}

/** An Embedding's G: how often each token appears in its calibration inputs (a diagonal). */
function tokenCounts(model: tf.LayersModel, inbound: tf.SymbolicTensor, _layer: tf.layers.Layer, sample: Dataset, shapes: InputShapes, vocab: number): Float64Array {
  const counts = new Float64Array(vocab);
  forEachInputBatch(model, inbound, sample, shapes, (x) => {
    for (const v of x.dataSync()) {
      const token = Math.round(v);
      if (token >= 0 && token < vocab) counts[token] = (counts[token] as number) + 1;
    }
  });
  return counts;
}

/** A·B row-major m×n. */
function product(a: Float32Array, b: Float32Array, m: number, n: number, k: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let c = 0; c < k; c++) {
      const x = a[i * k + c] as number;
      for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] as number) + x * (b[c * n + j] as number);
    }
  }
  return out;
}

function setWeights(layer: tf.layers.Layer, weights: readonly LayerWeights[]): void {
  const tensors = weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
  layer.setWeights(tensors);
  tf.dispose(tensors);
}
