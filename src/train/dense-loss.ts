/**
 * The cross-entropy objectives and their gradient with respect to the model's output, as loops over
 * a [batch, classes] array: for the Dense-chain step (dense-step.ts), where tfjs's version of these
 * few numbers (a tape over ~30 kernels on a 32 × 10 tensor) was a fifth of a step.
 *
 * The formulas are loss.ts's, step by step as tfjs evaluates and differentiates them, clipping
 * included: categorical cross-entropy of probabilities renormalizes each row (p / Σp), clips to
 * [1e-7, 1 − 1e-7] (no gradient where clipped) and takes −Σ y·log; of logits it is −Σ y·logSoftmax(z);
 * distillation softens the teacher's and the student's outputs first (clip, p^(1/T), renormalize;
 * softmax(z / T) for logits) and scales by T². Computed in float64, so within float32 rounding of
 * tfjs's values (test/train/dense-step.test.ts compares the two).
 */
import type { Objective } from './loss.js';

const f = Math.fround;
const LOW = f(1e-7);
const HIGH = f(1 - 1e-7);

/** Whether `crossEntropyHead` computes this objective (else tfjs does, through its tape). */
export function headCovers(objective: Objective, labelSize: number, classes: number): boolean {
  if (objective.kind !== 'sparse-categorical-crossentropy' && objective.kind !== 'categorical-crossentropy') return false;
  if (objective.distill >= 1) return classes > 0;
  return objective.kind === 'sparse-categorical-crossentropy' ? labelSize === 1 : labelSize === classes;
}

/**
 * The objective's mean over the batch, and its gradient with respect to `outputs` into `grad`.
 * `labels` [rows, labelSize] when distill < 1, `teacher` [rows, classes] when distill > 0.
 */
export function crossEntropyHead(
  objective: Objective,
  outputs: Float32Array,
  labels: Float32Array | undefined,
  teacher: Float32Array | undefined,
  rows: number,
  classes: number,
  grad: Float32Array,
): number {
  const { distill, temperature, fromLogits } = objective;
  const sparse = objective.kind === 'sparse-categorical-crossentropy';
  const g = new Float64Array(classes);
  const target = new Float64Array(classes);
  const work = new Float64Array(classes * 4);
  let taskSum = 0;
  let distillSum = 0;
  for (let r = 0; r < rows; r++) {
    const p = outputs.subarray(r * classes, (r + 1) * classes);
    g.fill(0);
    if (distill < 1) {
      if (labels === undefined) throw new Error('objective needs labels');
      target.fill(0);
      if (sparse) {
        const label = Math.trunc(labels[r] as number);
        if (label >= 0 && label < classes) target[label] = 1;
      } else for (let c = 0; c < classes; c++) target[c] = labels[r * classes + c] as number;
      const weight = (1 - distill) / rows;
      taskSum += fromLogits ? logitsCrossEntropy(target, p, 1, weight, g, work) : probabilityCrossEntropy(target, p, weight, g, work);
    }
    if (distill > 0) {
      if (teacher === undefined) throw new Error('objective needs teacher outputs');
      const t = teacher.subarray(r * classes, (r + 1) * classes);
      const scale = temperature * temperature;
      const weight = (distill / rows) * scale;
      if (fromLogits) {
        softmaxOf(t, 1 / temperature, target);
        distillSum += scale * logitsCrossEntropy(target, p, 1 / temperature, weight, g, work);
      } else {
        soften(t, temperature, target);
        distillSum += scale * softenedCrossEntropy(target, p, temperature, weight, g, work);
      }
    }
    for (let c = 0; c < classes; c++) grad[r * classes + c] = g[c] as number;
  }
  let total = 0;
  if (distill < 1) total += (taskSum / rows) * (1 - distill);
  if (distill > 0) total += (distillSum / rows) * distill;
  return f(total);
}

/** softmax(z·k) of one row into `out`. */
function softmaxOf(z: ArrayLike<number>, k: number, out: Float64Array): void {
  let max = -Infinity;
  for (let c = 0; c < out.length; c++) max = Math.max(max, (z[c] as number) * k);
  let sum = 0;
  for (let c = 0; c < out.length; c++) {
    const e = Math.exp((z[c] as number) * k - max);
    out[c] = e;
    sum += e;
  }
  for (let c = 0; c < out.length; c++) out[c] = (out[c] as number) / sum;
}

/**
 * −Σ y·logSoftmax(z·k) of one row; adds weight·k·(softmax(z·k)·Σy − y) (its gradient with respect
 * to z, times `weight`) to g.
 */
function logitsCrossEntropy(y: Float64Array, z: ArrayLike<number>, k: number, weight: number, g: Float64Array, work: Float64Array): number {
  const classes = y.length;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, (z[c] as number) * k);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp((z[c] as number) * k - max);
  const logSum = max + Math.log(sum);
  let loss = 0;
  let mass = 0;
  for (let c = 0; c < classes; c++) {
    loss -= (y[c] as number) * ((z[c] as number) * k - logSum);
    mass += y[c] as number;
  }
  for (let c = 0; c < classes; c++) {
    const softmax = Math.exp((z[c] as number) * k - logSum);
    work[c] = softmax;
    g[c] = (g[c] as number) + weight * k * (softmax * mass - (y[c] as number));
  }
  return loss;
}

/**
 * tfjs's categorical cross-entropy of probabilities for one row: q = p / Σp, clipped to
 * [1e-7, 1 − 1e-7], −Σ y·log q. Adds weight × its gradient with respect to p to g.
 */
function probabilityCrossEntropy(y: Float64Array, p: ArrayLike<number>, weight: number, g: Float64Array, work: Float64Array): number {
  const classes = y.length;
  const gq = work;
  let s = 0;
  for (let c = 0; c < classes; c++) s += p[c] as number;
  let loss = 0;
  let dot = 0;
  for (let c = 0; c < classes; c++) {
    const q = f((p[c] as number) / s);
    const clipped = Math.min(HIGH, Math.max(LOW, q));
    loss -= (y[c] as number) * Math.log(clipped);
    // The clip passes the gradient where LOW ≤ q ≤ HIGH (tfjs's ClipByValue gradient).
    const d = q >= LOW && q <= HIGH ? (-weight * (y[c] as number)) / clipped : 0;
    gq[c] = d;
    dot += d * (p[c] as number);
  }
  // Through q = p / s: ∂/∂p_i = gq_i / s − Σ_j gq_j·p_j / s².
  for (let c = 0; c < classes; c++) g[c] = (g[c] as number) + (gq[c] as number) / s - dot / (s * s);
  return loss;
}

/** loss.ts's soften: p clipped to [1e-7, 1 − 1e-7], then p^(1/T) renormalized (the clipped p at T = 1). */
function soften(p: ArrayLike<number>, temperature: number, out: Float64Array): void {
  let sum = 0;
  for (let c = 0; c < out.length; c++) {
    const clipped = Math.min(HIGH, Math.max(LOW, p[c] as number));
    out[c] = temperature === 1 ? clipped : Math.pow(clipped, 1 / temperature);
    sum += out[c] as number;
  }
  if (temperature !== 1) for (let c = 0; c < out.length; c++) out[c] = (out[c] as number) / sum;
}

/**
 * The distillation term of probabilities for one row (before T²): categorical cross-entropy of the
 * softened student against the softened teacher `a`; adds weight × its gradient with respect to the
 * student's p to g, back through the cross-entropy's renormalization and clip, the softening's
 * renormalization, power and clip.
 */
function softenedCrossEntropy(a: Float64Array, p: ArrayLike<number>, temperature: number, weight: number, g: Float64Array, work: Float64Array): number {
  const classes = a.length;
  const clipped = work.subarray(0, classes);
  const v = work.subarray(classes, 2 * classes);
  const grad = work.subarray(2 * classes, 3 * classes);
  const e = 1 / temperature;
  let powered = 0;
  for (let c = 0; c < classes; c++) {
    clipped[c] = Math.min(HIGH, Math.max(LOW, p[c] as number));
    v[c] = temperature === 1 ? (clipped[c] as number) : Math.pow(clipped[c] as number, e);
    powered += v[c] as number;
  }
  // v: the softened student, p^(1/T) / Σ (at T = 1 the clipped p itself).
  if (temperature !== 1) for (let c = 0; c < classes; c++) v[c] = (v[c] as number) / powered;
  // The cross-entropy of probabilities, its gradient with respect to v into `grad`.
  grad.fill(0);
  const loss = probabilityCrossEntropy(a, v, weight, grad, work.subarray(3 * classes, 4 * classes));
  if (temperature !== 1) {
    // Through v = w / Σw with w = c^(1/T): ∂/∂w_i = gv_i / W − Σ gv_j·v_j / W, then ∂w/∂c = (1/T)·c^(1/T − 1).
    let inner = 0;
    for (let c = 0; c < classes; c++) inner += (grad[c] as number) * (v[c] as number);
    for (let c = 0; c < classes; c++) {
      const gw = ((grad[c] as number) - inner) / powered;
      grad[c] = gw * e * Math.pow(clipped[c] as number, e - 1);
    }
  }
  for (let c = 0; c < classes; c++) {
    const x = p[c] as number;
    if (x >= LOW && x <= HIGH) g[c] = (g[c] as number) + (grad[c] as number);
  }
  return loss;
}
