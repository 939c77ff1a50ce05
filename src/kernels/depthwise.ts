/**
 * The depthwise convolution's gradients on wasm, which has neither kernel.
 *
 * DepthwiseConv2dNativeBackpropInput: each dx element is the cpu kernel's float64 sum over the same
 * terms in the same order (output row, output column, channel multiplier), rounded once, so the bits
 * are the cpu kernel's. The cpu kernel is a flat loop whose time went to the bridge (every input
 * copied out of the wasm heap and back) and to its per-element range arithmetic; here the taps are
 * outermost (in reverse, which is that order) and a wasm SIMD sweep adds each tap's terms into float64
 * sums on the heap, two channels at a time (inputGradientSimd). Without SIMD, the cpu kernel's loop
 * runs in place on the heap.
 *
 * DepthwiseConv2dNativeBackpropFilter: each filter element is the cpu kernel's float64 sum over
 * (batch, output row, output column) in that order, rounded once. The cpu kernel, and the loop here
 * before, walked the output pixels outermost and added into every filter element from each: ~30M
 * multiply-adds a second, 46% of a depthwise-separable CNN's step (bench/profile-paths.ts). Here
 * the filter tap is outermost, its valid output range is computed once, and the inner loop runs over
 * the contiguous channels of one pixel into a float64 row that stays in cache (wasm SIMD, two outputs
 * at a time; a JavaScript loop without it). Every element's terms are the same, added in the same
 * order: the bits are the cpu kernel's.
 */
import * as tf from '../../lib/tfjs.mjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { allocate, view } from './heap.js';
import { depthwiseSweeps } from './depthwise-simd.js';

type Args = Parameters<KernelFunc>[0];
type Shape4 = [number, number, number, number];

/** The depthwise convolution's geometry, or undefined for what these loops do not handle (dilation, NCHW). */
function convInfo(inputShape: Shape4, filterShape: Shape4, attrs: NonNullable<Args['attrs']>): tf.backend_util.Conv2DInfo | undefined {
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs['strides'] as number | [number, number],
    attrs['dilations'] as number | [number, number],
    attrs['pad'] as Parameters<typeof tf.backend_util.computeConv2DInfo>[4],
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  return info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast' ? undefined : info;
}

export function depthwiseConv2dBackpropInput({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const dy = inputs['dy'];
  const filter = inputs['filter'];
  if (dy === undefined || filter === undefined || attrs === undefined) return undefined;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  const inputShape = attrs['inputShape'] as Shape4;
  const info = convInfo(inputShape, filter.shape as Shape4, attrs);
  if (info === undefined) return undefined;
  const { batchSize, filterHeight, filterWidth, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const topPad = filterHeight - 1 - info.padInfo.top;
  const leftPad = filterWidth - 1 - info.padInfo.left;
  const multiplier = outChannels / inChannels;
  const wasm = backend as KernelBackend;
  const out = allocate(wasm, inputShape);
  if (inputGradientSimd(wasm, info, dy, filter, out)) return out;
  const dys = view(wasm, dy);
  const w = view(wasm, filter);
  const dx = view(wasm, out);
  for (let b = 0; b < batchSize; b++) {
    for (let xR = 0; xR < inHeight; xR++) {
      const xRCorner = xR - topPad;
      const yRMin = Math.max(0, Math.ceil(xRCorner / strideHeight));
      const yRMax = Math.min(outHeight, (filterHeight + xRCorner) / strideHeight);
      for (let xC = 0; xC < inWidth; xC++) {
        const xCCorner = xC - leftPad;
        const yCMin = Math.max(0, Math.ceil(xCCorner / strideWidth));
        const yCMax = Math.min(outWidth, (filterWidth + xCCorner) / strideWidth);
        const dxBase = ((b * inHeight + xR) * inWidth + xC) * inChannels;
        for (let d1 = 0; d1 < inChannels; d1++) {
          let dotProd = 0;
          for (let yR = yRMin; yR < yRMax; yR++) {
            const wR = yR * strideHeight - xRCorner;
            for (let yC = yCMin; yC < yCMax; yC++) {
              const wC = yC * strideWidth - xCCorner;
              const dyOffset = ((b * outHeight + yR) * outWidth + yC) * outChannels + d1 * multiplier;
              const wOffset = (((filterHeight - 1 - wR) * filterWidth + (filterWidth - 1 - wC)) * inChannels + d1) * multiplier;
              for (let m = 0; m < multiplier; m++) dotProd += (dys[dyOffset + m] as number) * (w[wOffset + m] as number);
            }
          }
          dx[dxBase + d1] = dotProd;
        }
      }
    }
  }
  return out;
}

/**
 * dx through the SIMD sweeps, tap by tap into float64 sums, rounded once into `out`. The cpu kernel
 * adds each dx element's terms over output rows, then columns, ascending (then the multiplier): the
 * tap that meets output row y is r = x + pad − y·stride, so ascending rows are descending taps, and
 * visiting the taps from the last row and column of the filter back gives every element its terms in
 * the cpu kernel's order. False (nothing written) without SIMD or an 8-byte aligned scratch buffer.
 */
function inputGradientSimd(wasm: KernelBackend, info: tf.backend_util.Conv2DInfo, dy: TensorInfo, filter: TensorInfo, out: TensorInfo): boolean {
  const simd = depthwiseSweeps(wasm);
  if (simd === undefined) return false;
  const { batchSize, filterHeight, filterWidth, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  const size = batchSize * inHeight * inWidth * inChannels;
  const sumsInfo = allocate(wasm, [2 * size]);
  try {
    const at = (t: TensorInfo): number => view(wasm, t).byteOffset;
    const sums = at(sumsInfo);
    if (sums % 8 !== 0) return false;
    view(wasm, sumsInfo).fill(0);
    const [dyAt, wAt, dxAt] = [at(dy), at(filter), at(out)];
    for (let r = filterHeight - 1; r >= 0; r--) {
      const [yrMin, yrMax] = validOutputs(r, padInfo.top, strideHeight, inHeight, outHeight);
      for (let c = filterWidth - 1; c >= 0; c--) {
        const [ycMin, ycMax] = validOutputs(c, padInfo.left, strideWidth, inWidth, outWidth);
        if (yrMax <= yrMin || ycMax <= ycMin) continue;
        const xr = yrMin * strideHeight + r - padInfo.top;
        const xc = ycMin * strideWidth + c - padInfo.left;
        simd.input({
          sums: sums + (xr * inWidth + xc) * inChannels * 8,
          dy: dyAt + (yrMin * outWidth + ycMin) * outChannels * 4,
          w: wAt + (r * filterWidth + c) * outChannels * 4,
          batch: batchSize,
          rows: yrMax - yrMin,
          cols: ycMax - ycMin,
          channels: outChannels,
          sCol: strideWidth * inChannels * 8,
          sRow: strideHeight * inWidth * inChannels * 8,
          sBatch: inHeight * inWidth * inChannels * 8,
          dyRow: outWidth * outChannels * 4,
          dyBatch: outHeight * outWidth * outChannels * 4,
        }, outChannels / inChannels);
      }
    }
    const heap = view(wasm, out).buffer;
    new Float32Array(heap, dxAt, size).set(new Float64Array(heap, sums, size));
    return true;
  } finally {
    wasm.disposeData(sumsInfo.dataId);
  }
}

export function depthwiseConv2dBackpropFilter({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined || attrs === undefined) return undefined;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const info = convInfo(x.shape as Shape4, attrs['filterShape'] as Shape4, attrs);
  if (info === undefined) return undefined;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth, padInfo } = info;
  const multiplier = outChannels / inChannels;
  const wasm = backend as KernelBackend;
  const shape = [filterHeight, filterWidth, inChannels, multiplier];
  const out = allocate(wasm, shape);
  const simd = depthwiseSweeps(wasm);
  if (simd !== undefined) {
    // The float64 sums in the heap too, beside x and dy: 8 bytes per channel.
    const accInfo = allocate(wasm, [2 * outChannels]);
    try {
      const at = (info: TensorInfo): number => view(wasm, info).byteOffset;
      const acc = at(accInfo);
      if (acc % 8 === 0) {
        const [xAt, dyAt, dwAt] = [at(x), at(dy), at(out)];
        for (let r = 0; r < filterHeight; r++) {
          const [yrMin, yrMax] = validOutputs(r, padInfo.top, strideHeight, inHeight, outHeight);
          for (let c = 0; c < filterWidth; c++) {
            const [ycMin, ycMax] = validOutputs(c, padInfo.left, strideWidth, inWidth, outWidth);
            view(wasm, accInfo).fill(0);
            if (yrMax > yrMin && ycMax > ycMin) {
              const xr = yrMin * strideHeight + r - padInfo.top;
              const xc = ycMin * strideWidth + c - padInfo.left;
              simd.filter({
                x: xAt + (xr * inWidth + xc) * inChannels * 4,
                dy: dyAt + (yrMin * outWidth + ycMin) * outChannels * 4,
                acc,
                batch: batchSize,
                rows: yrMax - yrMin,
                cols: ycMax - ycMin,
                channels: outChannels,
                xCol: strideWidth * inChannels * 4,
                xRow: strideHeight * inWidth * inChannels * 4,
                xBatch: inHeight * inWidth * inChannels * 4,
                dyRow: outWidth * outChannels * 4,
                dyBatch: outHeight * outWidth * outChannels * 4,
              }, multiplier);
            }
            const heap = view(wasm, out).buffer;
            new Float32Array(heap, dwAt + (r * filterWidth + c) * outChannels * 4, outChannels).set(new Float64Array(heap, acc, outChannels));
          }
        }
        return out;
      }
    } finally {
      wasm.disposeData(accInfo.dataId);
    }
  }
  const xs = view(wasm, x);
  const dys = view(wasm, dy);
  const dw = view(wasm, out);
  // One tap's sums in float64, like the cpu kernel's running `dotProd`.
  const sums = new Float64Array(outChannels);
  for (let r = 0; r < filterHeight; r++) {
    const [yrMin, yrMax] = validOutputs(r, padInfo.top, strideHeight, inHeight, outHeight);
    for (let c = 0; c < filterWidth; c++) {
      const [ycMin, ycMax] = validOutputs(c, padInfo.left, strideWidth, inWidth, outWidth);
      sums.fill(0);
      for (let b = 0; b < batchSize; b++) {
        for (let yr = yrMin; yr < yrMax; yr++) {
          const xr = yr * strideHeight + r - padInfo.top;
          for (let yc = ycMin; yc < ycMax; yc++) {
            const xc = yc * strideWidth + c - padInfo.left;
            const xBase = ((b * inHeight + xr) * inWidth + xc) * inChannels;
            const dyBase = ((b * outHeight + yr) * outWidth + yc) * outChannels;
            for (let ch = 0, k = 0; ch < inChannels; ch++) {
              const xv = xs[xBase + ch] as number;
              for (let m = 0; m < multiplier; m++, k++) sums[k] = (sums[k] as number) + xv * (dys[dyBase + k] as number);
            }
          }
        }
      }
      dw.set(sums, (r * filterWidth + c) * outChannels);
    }
  }
  return out;
}

/**
 * The output positions [min, max) whose input position, for filter tap `tap`, lies inside the input:
 * 0 ≤ y·stride + tap − pad < inSize.
 */
function validOutputs(tap: number, pad: number, stride: number, inSize: number, outSize: number): [number, number] {
  return [Math.max(0, Math.ceil((pad - tap) / stride)), Math.min(outSize, Math.ceil((inSize + pad - tap) / stride))];
}
