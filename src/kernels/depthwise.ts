/**
 * DepthwiseConv2dNativeBackpropInput on wasm, which has no such kernel. The cpu kernel is already a
 * loop over flat arrays; what made it slow from wasm was the bridge (every input copied out of the
 * wasm heap into the cpu backend, the output copied back). This is the same loop reading and writing
 * the wasm heap in place: each dx element is the same float64 sum, over the same terms in the same
 * order (output row, output column, channel multiplier), so the bits are the cpu kernel's. Only the
 * order in which dx elements are visited changes (pixel-major, as NHWC lays them out).
 */
import * as tf from '../../lib/tfjs.mjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { allocate, view } from './heap.js';

type Args = Parameters<KernelFunc>[0];
type Shape4 = [number, number, number, number];

export function depthwiseConv2dBackpropInput({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const dy = inputs['dy'];
  const filter = inputs['filter'];
  if (dy === undefined || filter === undefined || attrs === undefined) return undefined;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  const inputShape = attrs['inputShape'] as Shape4;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as Shape4,
    attrs['strides'] as number | [number, number],
    attrs['dilations'] as number | [number, number],
    attrs['pad'] as Parameters<typeof tf.backend_util.computeConv2DInfo>[4],
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') return undefined;
  const { batchSize, filterHeight, filterWidth, inChannels, inHeight, inWidth, outChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const topPad = filterHeight - 1 - info.padInfo.top;
  const leftPad = filterWidth - 1 - info.padInfo.left;
  const multiplier = outChannels / inChannels;
  const wasm = backend as KernelBackend;
  const out = allocate(wasm, inputShape);
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
