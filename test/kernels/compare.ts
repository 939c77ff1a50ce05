/**
 * Running the same computation on wasm and on the cpu backend (the reference kernels) and comparing.
 */
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { randomFloat32 } from '../helpers.js';

/** Run `fn` on the cpu backend (awaiting it), then go back to wasm. Data crosses as plain arrays. */
export async function onCpu<T>(fn: () => T | Promise<T>): Promise<T> {
  assert.ok(await tf.setBackend('cpu'));
  try {
    return await fn();
  } finally {
    assert.ok(await tf.setBackend('wasm'));
  }
}

/** Run `fn` on wasm and on cpu; returns [wasm, cpu]. */
export async function onBoth<T>(fn: () => T): Promise<[T, T]> {
  assert.equal(tf.getBackend(), 'wasm');
  const wasm = fn();
  assert.equal(tf.getBackend(), 'wasm', 'a fallback switched the active backend');
  return [wasm, await onCpu(fn)];
}

export function cpuBackend(): tf.KernelBackend {
  return tf.engine().findBackend('cpu');
}

/** Elementwise |x − y| ≤ tol·max(|y|, floor), floor = 1e-3·max|y| so that entries near zero do not demand exact zeros. */
export function assertRelClose(x: ArrayLike<number>, y: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(x.length, y.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i] as number));
  assert.ok(scale > 0, `${label}: all zeros`);
  for (let i = 0; i < x.length; i++) {
    const a = x[i] as number;
    const b = y[i] as number;
    assert.ok(Math.abs(a - b) <= tol * Math.max(Math.abs(b), 1e-3 * scale), `${label}[${i}]: ${a} vs ${b}`);
  }
}

/** Gradients of sum(f(inputs) · weights) with respect to every input, as plain arrays. */
export function gradsOf(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: Array<{ values: ArrayLike<number>; shape: number[]; dtype?: 'float32' | 'int32' }>,
  wrt: number[],
): number[][] {
  return tf.tidy(() => {
    const xs = inputs.map((i) => tf.tensor(Array.from(i.values), i.shape, i.dtype ?? 'float32'));
    const outShape = f(...xs).shape;
    const weights = tf.tensor(randomFloat32(tf.util.sizeFromShape(outShape), 99), outShape);
    const loss = (...vs: tf.Tensor[]): tf.Scalar => {
      const all = xs.map((x, i) => (wrt.includes(i) ? (vs[wrt.indexOf(i)] as tf.Tensor) : x));
      return tf.sum(tf.mul(f(...all), weights));
    };
    return tf.grads(loss)(wrt.map((i) => xs[i] as tf.Tensor)).map((g) => Array.from(g.dataSync()));
  });
}

/**
 * Elementwise |x − y| ≤ tol·max|y|: agreement to `tol` of the tensor's scale. Float32 kernels that
 * sum in a different order than the float64 reference differ by rounding relative to the terms, not
 * to each (possibly cancelled) sum, so this is the tolerance their results can meet.
 */
export function assertCloseToScale(x: ArrayLike<number>, y: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(x.length, y.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i] as number));
  assert.ok(scale > 0, `${label}: all zeros`);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] as number) - (y[i] as number));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert.ok(worst <= tol * scale, `${label}[${at}]: ${x[at]} vs ${y[at]}, |Δ| = ${worst} > ${tol} × ${scale}`);
}
