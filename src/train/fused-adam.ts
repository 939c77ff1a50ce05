/**
 * Adam with the whole update of a variable as one loop over the wasm heap.
 *
 * tfjs's AdamOptimizer spends 13 kernel calls per variable and step (the moments, their bias
 * correction, the square root, the step), each a separate pass over the variable and a trip through
 * the engine's dispatch: for the small factorized models lowrank fine-tunes, that dispatch, not the
 * arithmetic, is a large share of the step (issue 11: the MLP step is mostly per-op overhead).
 *
 * Here the same update runs in one loop per variable: where the runtime has wasm SIMD, in
 * wasm-loops.ts's module, each float32 operation as tfjs's kernels do it (bit for bit tfjs's values,
 * and ~20× faster than the JavaScript loop on these machines); else in the JavaScript loop below, in
 * float64 with the stored moments and values rounded to float32, and the bias corrections as
 * multiplications by their reciprocals. In JavaScript, rounding
 * after every operation as wasm's kernels do would give tfjs's values bit for bit, but three float32
 * divisions per element made the loop as slow as the kernels it replaces (1.4 ms against 0.45 ms
 * for 50K parameters); this way each value is within a unit in the last place of tfjs's per step
 * (test/train/fused-adam.test.ts: within 1e-6 after several steps). The optimizer keeps tfjs's own
 * state (its moment variables and accBeta1/2), so getWeights, setWeights and dispose are tfjs's.
 * Off wasm, or for a tensor that is not float32, tfjs's applyGradients runs instead.
 */
import { tf } from '../tf.js';
import { allocate, view } from '../kernels/heap.js';
import { loops, type AdamConstants } from './wasm-loops.js';

type Moment = { originalName: string; variable: tf.Variable };

/** The AdamOptimizer fields this class works with (protected in tfjs's typings, public at runtime). */
interface AdamState {
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  incrementIterations(): void;
}

const f = Math.fround;

export class FusedAdam extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const entries: ReadonlyArray<readonly [string, tf.Tensor | null | undefined]> = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor] as const)
      : Object.entries(variableGradients);
    const registered = tf.engine().registeredVariables;
    const state = this as unknown as AdamState;
    const backend = tf.backend();
    if (!canFuse(backend, state, entries, registered)) {
      super.applyGradients(variableGradients);
      return;
    }
    const beta1 = f(this.beta1);
    const beta2 = f(this.beta2);
    // Views die when the heap grows, so the scalars are read now and written back through new views.
    const accBeta1 = view(backend, state.accBeta1)[0] as number;
    const accBeta2 = view(backend, state.accBeta2)[0] as number;
    const constants: Constants = {
      beta1,
      beta2,
      oneMinusBeta1: f(1 - this.beta1),
      oneMinusBeta2: f(1 - this.beta2),
      epsilon: f(this.epsilon),
      step: f(-this.learningRate),
      inverse1: 1 / f(1 - accBeta1),
      inverse2: 1 / f(1 - accBeta2),
    };
    const simd = loops(backend);
    const simdConstants = {
      beta1,
      beta2,
      oneMinusBeta1: constants.oneMinusBeta1,
      oneMinusBeta2: constants.oneMinusBeta2,
      epsilon: constants.epsilon,
      step: constants.step,
      correction1: f(1 - accBeta1),
      correction2: f(1 - accBeta2),
    };
    entries.forEach(([name, gradient], i) => {
      const value = registered[name] as tf.Variable;
      state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      if (gradient === null || gradient === undefined) return;
      const firstMoment = (state.accumulatedFirstMoment[i] as Moment).variable;
      const secondMoment = (state.accumulatedSecondMoment[i] as Moment).variable;
      // The moments are the optimizer's own, updated in place; the value gets a new buffer, since a
      // clone of it (fineTune's best-epoch copy) shares its data.
      const out = allocate(backend, value.shape);
      if (simd !== undefined) {
        // The same update in float32 SIMD, each operation as tfjs's (wasm-loops.ts).
        const at = (info: tf.TensorInfo): number => view(backend, info).byteOffset;
        simd.adam(at(value), at(gradient), at(firstMoment), at(secondMoment), at(out), value.size, simdConstants);
      } else update(view(backend, value), view(backend, gradient), view(backend, firstMoment), view(backend, secondMoment), view(backend, out), constants);
      const updated = tf.engine().makeTensorFromTensorInfo(out);
      value.assign(updated);
      updated.dispose();
    });
    view(backend, state.accBeta1)[0] = f(accBeta1 * beta1);
    view(backend, state.accBeta2)[0] = f(accBeta2 * beta2);
    state.incrementIterations();
  }
}

/** The SIMD loop's constants, with the bias corrections as 1 / (1 − β^t) (multiplied, not divided). */
type Constants = Omit<AdamConstants, 'correction1' | 'correction2'> & {
  inverse1: number;
  inverse2: number;
};

/**
 * One variable's Adam step: moments m, v in place, the new value into `next`. Its own function so
 * that V8 optimizes the loop alone (inside the caller it was deoptimized after every loop, at the
 * engine calls that follow, and ran at a third of this speed).
 */
function update(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, next: Float32Array, c: Constants): void {
  const { beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, step, inverse1, inverse2 } = c;
  for (let k = 0; k < next.length; k++) {
    const gk = g[k] as number;
    const mk = f((m[k] as number) * beta1 + gk * oneMinusBeta1);
    const vk = f((v[k] as number) * beta2 + gk * gk * oneMinusBeta2);
    m[k] = mk;
    v[k] = vk;
    next[k] = (w[k] as number) + (step * (mk * inverse1)) / (Math.sqrt(vk * inverse2) + epsilon);
  }
}

/**
 * On wasm, with float32 values and gradients, and state nobody else holds: the moments and accBeta
 * are updated in place, which a tensor sharing their data (after setWeights) must not see.
 */
function canFuse(
  backend: tf.KernelBackend,
  state: AdamState,
  entries: ReadonlyArray<readonly [string, tf.Tensor | null | undefined]>,
  registered: Record<string, tf.Variable>,
): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const owned = (t: tf.Tensor | undefined): boolean => t === undefined || backend.refCount(t.dataId) === 1;
  if (!owned(state.accBeta1) || !owned(state.accBeta2)) return false;
  return entries.every(([name, g], i) => {
    if (g === null || g === undefined) return true;
    return (
      g.dtype === 'float32' &&
      registered[name]?.dtype === 'float32' &&
      owned(state.accumulatedFirstMoment[i]?.variable) &&
      owned(state.accumulatedSecondMoment[i]?.variable)
    );
  });
}
