/**
 * Max pooling's gradients as flat loops over typed arrays, for the wasm backend, where the stock
 * kernels are wrong (see WRONG_ON_WASM in wasm-fallbacks.ts) and the cpu kernels they fall back to
 * read every element through TensorBuffer.get: MaxPoolGrad alone took ~45% of a CNN's training step
 * (3 s per batch of 32 for a 2×2 pool over 26×26×32).
 *
 * The cpu kernels define the answer. A window's maximum is its first element, in row-major window
 * order, strictly greater than every one before it, starting from −∞: ties go to the earliest, NaN is
 * never a maximum, and a window of −∞ (or NaN) has none and passes no gradient. Each input element's
 * gradient is the sum of dy over the windows whose maximum it is, added in float64 and rounded to
 * float32 once, as the cpu kernel's `dotProd` does. The windows here are visited in output order
 * rather than the cpu's input order; a sum of at most (window/stride)² float32 terms in float64 is
 * exact whenever their exponents lie within 29 binary orders of each other, so the bits agree (the
 * tests compare them on the fixtures' shapes and on adversarial ties, zeros and negative windows).
 *
 * Windows that do not overlap, over a multiple of four channels (the CNN's 2×2 stride-2 pools), take
 * pooling-simd.ts's wasm SIMD loop instead, the same rule four lanes at a time (~4× faster than the
 * loop below on the issue's 26×26×32 pool); the loop below answers everything else.
 */
import * as tf from '../../lib/tfjs.mjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { allocate, view } from './heap.js';
import { poolingLoops } from './pooling-simd.js';

type Args = Parameters<KernelFunc>[0];
type Shape4 = [number, number, number, number];
type Shape5 = [number, number, number, number, number];
type PadAttr = Parameters<typeof tf.backend_util.computePool2DInfo>[4];

/** dx of a 2-D max pool (NHWC), or undefined for calls outside it (the cpu kernel then runs). */
export function maxPoolGrad({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const dy = inputs['dy'];
  const x = inputs['input'];
  if (dy === undefined || x === undefined || attrs === undefined) return undefined;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    attrs['filterSize'] as [number, number] | number,
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as PadAttr,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  // Windows that do not overlap give each input at most one term: no sum, so float32 is exact.
  const overlapping = info.strideHeight < info.effectiveFilterHeight || info.strideWidth < info.effectiveFilterWidth;
  const wasm = backend as KernelBackend;
  const out = allocate(wasm, x.shape);
  if (!overlapping && channels % 4 === 0) {
    const simdLoops = poolingLoops(wasm);
    if (simdLoops !== undefined) {
      const result = view(wasm, out);
      // Pixels no window covers (an odd last row or column, say) get no write from the module.
      const tiled = outHeight * info.strideHeight === inHeight && outWidth * info.strideWidth === inWidth && info.strideHeight === info.effectiveFilterHeight && info.strideWidth === info.effectiveFilterWidth && info.padInfo.top === 0 && info.padInfo.left === 0;
      if (!tiled) result.fill(0);
      simdLoops.maxPoolGrad(view(wasm, x).byteOffset, view(wasm, dy).byteOffset, result.byteOffset, {
        batch: batchSize, inHeight, inWidth, channels, outHeight, outWidth,
        filterHeight: info.effectiveFilterHeight, filterWidth: info.effectiveFilterWidth,
        strideHeight: info.strideHeight, strideWidth: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left,
      });
      return out;
    }
  }
  const xs = view(wasm, x);
  const dys = view(wasm, dy);
  const result = view(wasm, out);
  // The forward pool's output, when given as it is by tfjs's gradient: each window's maximum.
  const y = inputs['output'];
  const ys = y !== undefined && y.dtype === 'float32' && tf.util.arraysEqual(y.shape, info.outShape) ? view(wasm, y) : undefined;
  result.fill(0);
  const dx = overlapping ? new Float64Array(result.length) : result;
  // The window's pixels as offsets into x, rebuilt per output position; channels run innermost in
  // memory, so each channel reads the same few offsets shifted by d.
  const window = new Int32Array(info.effectiveFilterHeight * info.effectiveFilterWidth);
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      const corner = yr * info.strideHeight - info.padInfo.top;
      const rowMin = Math.max(0, corner);
      const rowMax = Math.min(inHeight, info.effectiveFilterHeight + corner);
      for (let yc = 0; yc < outWidth; yc++) {
        const cornerC = yc * info.strideWidth - info.padInfo.left;
        const colMin = Math.max(0, cornerC);
        const colMax = Math.min(inWidth, info.effectiveFilterWidth + cornerC);
        let pixels = 0;
        for (let xr = rowMin; xr < rowMax; xr++) {
          for (let xc = colMin; xc < colMax; xc++) window[pixels++] = ((b * inHeight + xr) * inWidth + xc) * channels;
        }
        if (pixels === 4) {
          // 2×2 windows (the common pool), unrolled: the same comparisons in the same order.
          const o = ((b * outHeight + yr) * outWidth + yc) * channels;
          if (ys !== undefined) accumulate4Known(xs, ys, dys, dx, window, o, channels);
          else accumulate4(xs, dys, dx, window, o, channels);
          continue;
        }
        const o = ((b * outHeight + yr) * outWidth + yc) * channels;
        for (let d = 0; d < channels; d++) {
          // From −∞, strictly greater: the first maximum wins, NaN never does, −∞ passes nothing.
          let best = -Infinity;
          let at = -1;
          for (let p = 0; p < pixels; p++) {
            const i = (window[p] as number) + d;
            const v = xs[i] as number;
            if (v > best) {
              best = v;
              at = i;
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (dys[o + d] as number);
        }
      }
    }
  }
  if (overlapping) result.set(dx);
  return out;
}

/**
 * accumulate4 knowing each window's maximum m (the forward pool's output): the gradient goes to the
 * first pixel equal to m, which is the first strictly greater than all before it. Equality tests
 * instead of a running maximum mispredict fewer branches: the kernel ran 5–20% faster on the issue's
 * CNN shapes (uniform and ReLU-like values, same process, alternating). Where m is NaN or −∞ (the cpu's rule then differs: NaN never wins,
 * −∞ passes nothing) or no pixel equals it (an `output` that is not the forward's), the channel
 * takes accumulate4's comparisons, so the answer is the cpu kernel's either way.
 */
function accumulate4Known(xs: Float32Array, ys: Float32Array, dys: Float32Array, dx: Float32Array | Float64Array, window: Int32Array, o: number, channels: number): void {
  const p0 = window[0] as number;
  const p1 = window[1] as number;
  const p2 = window[2] as number;
  const p3 = window[3] as number;
  for (let d = 0; d < channels; d++) {
    const m = ys[o + d] as number;
    let at = -1;
    if (m > -Infinity) {
      if (xs[p0 + d] === m) at = p0 + d;
      else if (xs[p1 + d] === m) at = p1 + d;
      else if (xs[p2 + d] === m) at = p2 + d;
      else if (xs[p3 + d] === m) at = p3 + d;
    }
    if (at < 0) at = firstMaximum4(xs, p0 + d, p1 + d, p2 + d, p3 + d);
    if (at >= 0) dx[at] = (dx[at] as number) + (dys[o + d] as number);
  }
}

/** The cpu kernel's pick among four pixels: the first strictly greater than all before it, from −∞ (−1: none). */
function firstMaximum4(xs: Float32Array, i0: number, i1: number, i2: number, i3: number): number {
  let best = xs[i0] as number;
  let at = i0;
  if (!(best > -Infinity)) {
    best = -Infinity;
    at = -1;
  }
  let v = xs[i1] as number;
  if (v > best) {
    best = v;
    at = i1;
  }
  v = xs[i2] as number;
  if (v > best) {
    best = v;
    at = i2;
  }
  v = xs[i3] as number;
  if (v > best) at = i3;
  return at;
}

/** maxPoolGrad's inner loop for a window of four pixels. */
function accumulate4(xs: Float32Array, dys: Float32Array, dx: Float32Array | Float64Array, window: Int32Array, o: number, channels: number): void {
  const p0 = window[0] as number;
  const p1 = window[1] as number;
  const p2 = window[2] as number;
  const p3 = window[3] as number;
  for (let d = 0; d < channels; d++) {
    const at = firstMaximum4(xs, p0 + d, p1 + d, p2 + d, p3 + d);
    if (at >= 0) dx[at] = (dx[at] as number) + (dys[o + d] as number);
  }
}

/**
 * The 3-D forward pool and its gradient share the window walk: per output element, its window's
 * maximum value (the forward pool: first strictly greater, from −∞) and the flat index of the element
 * the gradient goes to. For that the cpu kernel's rule differs from 2-D: the *last* element ≥ the
 * running maximum from −∞ (so a window of −∞ passes its gradient to its last element; NaN never).
 */
function maxPool3dPositions(xs: Float32Array, info: tf.backend_util.Conv3DInfo): { positions: Int32Array; values: Float32Array } {
  const { batchSize, inDepth, inHeight, inWidth, inChannels: channels, outDepth, outHeight, outWidth } = info;
  const count = batchSize * outDepth * outHeight * outWidth * channels;
  const positions = new Int32Array(count).fill(-1);
  const values = new Float32Array(count).fill(-Infinity);
  const last = new Float32Array(count).fill(-Infinity);
  for (let b = 0; b < batchSize; b++) {
    for (let yd = 0; yd < outDepth; yd++) {
      const cornerD = yd * info.strideDepth - info.padInfo.front;
      const dMin = Math.max(0, cornerD);
      const dMax = Math.min(inDepth, info.effectiveFilterDepth + cornerD);
      for (let yr = 0; yr < outHeight; yr++) {
        const cornerR = yr * info.strideHeight - info.padInfo.top;
        const rMin = Math.max(0, cornerR);
        const rMax = Math.min(inHeight, info.effectiveFilterHeight + cornerR);
        for (let yc = 0; yc < outWidth; yc++) {
          const cornerC = yc * info.strideWidth - info.padInfo.left;
          const cMin = Math.max(0, cornerC);
          const cMax = Math.min(inWidth, info.effectiveFilterWidth + cornerC);
          const out = (((b * outDepth + yd) * outHeight + yr) * outWidth + yc) * channels;
          for (let xd = dMin; xd < dMax; xd++) {
            for (let xr = rMin; xr < rMax; xr++) {
              for (let xc = cMin; xc < cMax; xc++) {
                const base = (((b * inDepth + xd) * inHeight + xr) * inWidth + xc) * channels;
                for (let d = 0; d < channels; d++) {
                  const v = xs[base + d] as number;
                  if (v > (values[out + d] as number)) values[out + d] = v;
                  if (v >= (last[out + d] as number)) {
                    last[out + d] = v;
                    positions[out + d] = base + d;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  return { positions, values };
}

function pool3dInfo(x: TensorInfo, attrs: NonNullable<Args['attrs']>): tf.backend_util.Conv3DInfo {
  return tf.backend_util.computePool3DInfo(
    x.shape as Shape5,
    attrs['filterSize'] as [number, number, number] | number,
    attrs['strides'] as [number, number, number] | number,
    1,
    attrs['pad'] as 'valid' | 'same' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/** A 3-D max pool (NDHWC): each window's maximum by the cpu kernel's rule (−∞ where there is none). */
export function maxPool3d({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const x = inputs['x'];
  if (x === undefined || attrs === undefined || x.dtype !== 'float32' || x.shape.length !== 5) return undefined;
  if (attrs['dataFormat'] !== undefined && attrs['dataFormat'] !== 'NDHWC') return undefined;
  const info = pool3dInfo(x, attrs);
  const wasm = backend as KernelBackend;
  const { values } = maxPool3dPositions(wasm.readSync(x.dataId) as Float32Array, info);
  return { dataId: wasm.write(values, info.outShape, 'float32'), shape: [...info.outShape], dtype: 'float32' };
}

/**
 * dx of a 3-D max pool: dy summed into each window's maximum. Only for windows as high as they are
 * wide: the cpu kernel encodes a window position as depth·h·w + row·h + column (h where w belongs),
 * which sends the gradient of a window with h ≠ w to another element; those calls go to it unchanged.
 */
export function maxPool3dGrad({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const dy = inputs['dy'];
  const x = inputs['input'];
  if (dy === undefined || x === undefined || attrs === undefined) return undefined;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 5) return undefined;
  const info = pool3dInfo(x, attrs);
  if (info.effectiveFilterHeight !== info.effectiveFilterWidth) return undefined;
  const wasm = backend as KernelBackend;
  const xs = wasm.readSync(x.dataId) as Float32Array;
  const dys = wasm.readSync(dy.dataId) as Float32Array;
  const { positions } = maxPool3dPositions(xs, info);
  const dx = new Float64Array(xs.length);
  for (let o = 0; o < positions.length; o++) {
    const i = positions[o] as number;
    if (i >= 0) dx[i] = (dx[i] as number) + (dys[o] as number);
  }
  return { dataId: wasm.write(Float32Array.from(dx), x.shape, 'float32'), shape: [...x.shape], dtype: 'float32' };
}
