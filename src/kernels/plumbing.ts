/**
 * wasm kernels that only move data, or reduce it in an order that costs a copy, replaced where a
 * training step pays for it (issue 11's CNN, batch 32; measured in one process, alternating):
 *
 * - Identity: wasm copies the tensor. The engine clones every tensor a gradient saves for the
 *   backward pass (`saveTensorsForBackwardMode`), so a step copied each large activation up to three
 *   times (~9% of the CNN's step). Here the output shares the input's buffer, as the cpu and webgl
 *   backends' Identity and wasm's own Reshape do: tensors are immutable, and the one place lowrank
 *   writes into a buffer in place (fused Adam's moments) first checks that nothing shares it.
 * - Cast to the tensor's own dtype (ReLU's gradient casts Step's float32 mask to float32): the same.
 *   And Cast to bool, which wasm gets wrong: it converts the number to a byte (−2.5 → 254, 0.3 → 0,
 *   300 → 44, NaN → 0) where tfjs's other backends give x ≠ 0 (NaN included) as 0 or 1.
 * - Sum over leading axes (a convolution's bias gradient sums dy [B, H, W, C] over B, H, W): wasm
 *   first transposes the input so that the reduced axes come last, and its 4-D transposition is slow
 *   (8.7 ms for [32, 26, 26, 32] against 2.4 ms seen as [21632, 32]). Seen as 2-D, the same
 *   kernel transposes [rows, cols] and sums each column in the same order: the bits are the same.
 *   Where wasm SIMD is available, column-sums.ts adds the same terms in the same order in one pass
 *   with no transposition (1.3 → 0.3 ms of CPU for [21632, 32]).
 */
import * as tf from '../../lib/tfjs.mjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { columnSumLoop } from './column-sums.js';
import { allocate, allocateOf, typedView, view } from './heap.js';

type Args = Parameters<KernelFunc>[0];

/** A kernel output that is the input's buffer under another shape (the backend counts the share). */
function share(backend: KernelBackend, x: TensorInfo, shape: readonly number[]): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...shape], dtype: x.dtype };
}

/** Identity without the copy (strings keep wasm's kernel). */
export function identity({ inputs, backend }: Args): TensorInfo | undefined {
  const x = inputs['x'];
  if (x === undefined || x.dtype === 'string') return undefined;
  return share(backend as KernelBackend, x, x.shape);
}

/**
 * Cast to the dtype the tensor already has, without the copy; to bool as x ≠ 0 (the cpu backend's
 * rule); other casts keep wasm's kernel.
 */
export function cast({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const x = inputs['x'];
  if (x === undefined || x.dtype === 'string') return undefined;
  const wasm = backend as KernelBackend;
  if (attrs?.['dtype'] === x.dtype) return share(wasm, x, x.shape);
  if (attrs?.['dtype'] !== 'bool') return undefined;
  const out = allocateOf(wasm, x.shape, 'bool');
  // Views after the allocation (it may grow the heap and detach earlier ones).
  const values = typedView(wasm, x);
  const truth = typedView(wasm, out);
  for (let i = 0; i < values.length; i++) truth[i] = values[i] !== 0 ? 1 : 0;
  return out;
}

const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Sum over the leading axes 0…a−1, given in that order (a ≥ 2, some axis left), as wasm's Sum over
 * axis 0 of the 2-D view [rows, cols]; undefined for any other reduction (wasm's kernel then runs).
 */
export function sumLeadingAxes({ inputs, backend, attrs }: Args, wasmSum: KernelFunc): TensorInfo | undefined {
  const x = inputs['x'];
  if (x === undefined || attrs === undefined || x.dtype !== 'float32') return undefined;
  // In the order given: wasm sums over the reduced axes in that order, so only 0, 1, … is this order.
  const axes = tf.util.parseAxisParam(attrs['axis'] as number | number[], x.shape);
  const rank = x.shape.length;
  if (axes.length < 2 || axes.length >= rank || axes.some((axis, i) => axis !== i)) return undefined;
  const kept = x.shape.slice(axes.length);
  const wasm = backend as KernelBackend;
  const shape = attrs['keepDims'] === true ? [...axes.map(() => 1), ...kept] : kept;
  const columnSums = columnSumLoop(wasm);
  if (columnSums !== undefined) {
    // The same sums in the same order, in one pass and without the transposition.
    const out = allocate(wasm, shape);
    columnSums(view(wasm, x).byteOffset, product(x.shape.slice(0, axes.length)), product(kept), view(wasm, out).byteOffset);
    return out;
  }
  const flat = share(wasm, x, [product(x.shape.slice(0, axes.length)), product(kept)]);
  try {
    const summed = wasmSum({ inputs: { x: flat }, backend, attrs: { axis: [0], keepDims: false } }) as TensorInfo;
    // [cols] back to what Sum promises: the kept axes, after as many 1s as were reduced if keepDims.
    return { ...summed, shape };
  } finally {
    wasm.disposeData(flat.dataId);
  }
}
