/**
 * A Conv2D layer's two gradients on wasm, as wasm's own fast kernels plus flat loops over typed
 * arrays for the patch bookkeeping.
 *
 * With P [N×K] the input's patches (N = batch·outH·outW output positions, K = kh·kw·cin, zero where
 * a window leaves the input) the convolution is y = P·W for W [K×cout], the kernel as stored. So
 *   dW = Pᵀ·dy, one BatchMatMul (for a 1×1 stride-1 convolution P is x itself), and
 *   dx = dy·Wᵀ added back where each patch came from (col2im); with stride 1 that is itself a
 *        convolution of dy with the flipped kernel, which wasm's Conv2D (XNNPACK) runs directly.
 * Products and convolutions sum in float32, col2im's ≤ kh·kw overlapping terms in float64; the cpu
 * kernels sum everything in float64, so results agree to float32 rounding of a sum, not bit for bit
 * (tests: within 1e-5 of the gradient's scale).
 *
 * With stride 1 and fewer filters than K, dW is rather a convolution of x with dy as the filter
 * (filterByConvolution), which needs no P at all.
 *
 * Where the filters are a multiple of 4 (every layer of the CNN), dW is neither: conv-simd.ts
 * sums x ⊗ dy tap by tap in a wasm SIMD loop on the heap (filterByTaps), with no P, no transposition
 * and none of XNNPACK's per-step packing; on the CNN's three layers 1.5–2× less CPU than the routes
 * above (same process), and within float32 rounding of per-image sums.
 *
 * Measured on the CNN (batch 32, 3×3 over 13×13×32 → 11×11×16): wasm's own
 * Conv2DBackpropInput is a naive loop at ~0.2 GFLOP/s and took 31% of a training step; the
 * per-tap products the filter gradient used before took 30%. Variants measured and dropped (same
 * run, alternating): Pᵀ written directly instead of transposed by wasm, and a product per filter
 * tap with dy as the shared second operand, were both no faster.
 */
import * as tf from '../../lib/tfjs.mjs';
import type { KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { allocate, view } from './heap.js';
import { convLoops, tileFor, type ConvLoops } from './conv-simd.js';

type Args = Parameters<KernelFunc>[0];
type Shape4 = [number, number, number, number];
type PadAttr = Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
type ConvInfo = tf.backend_util.Conv2DInfo;

function convInfo(xShape: number[], filterShape: number[], attrs: NonNullable<Args['attrs']>): ConvInfo | undefined {
  const format = attrs['dataFormat'];
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') return undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs['strides'] as number | [number, number],
    1,
    attrs['pad'] as PadAttr,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/** A 1×1 convolution with stride 1 and no padding: its patches are the input itself. */
function pointwise(info: ConvInfo): boolean {
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  return filterHeight === 1 && filterWidth === 1 && strideHeight === 1 && strideWidth === 1 && padInfo.top + padInfo.left + padInfo.bottom + padInfo.right === 0;
}

/** True when some window reaches into the padding (then patches have zeros to write). */
function padded(info: ConvInfo): boolean {
  const { padInfo } = info;
  return padInfo.top + padInfo.left + padInfo.bottom + padInfo.right > 0;
}

/**
 * The taps of one filter row that fall inside x for output column yc: [first, end), and the input
 * column of the first. Taps of one row are neighbours in x and in a patch, so a patch row is one run
 * of (end − first)·cin values, copied as a run rather than tap by tap.
 */
function tapSpan(info: ConvInfo, yc: number): [first: number, end: number, xc: number] {
  const left = yc * info.strideWidth - info.padInfo.left;
  const first = Math.max(0, -left);
  const end = Math.min(info.filterWidth, info.inWidth - left);
  return [first, end, left + first];
}

/** Runs at least this long are copied with copyWithin (a memmove), shorter ones by a loop (measured). */
const COPY_RUN = 16;

/**
 * P [N×K] written at `outAt` in `heap` (the whole wasm heap as float32, x at `xAt`): row n holds
 * output position n's window, zero outside x. Both live in one buffer, so a patch row is one
 * copyWithin: 4× faster than an element loop for the 96-value rows of a 3×3 over 32 channels.
 */
function im2col(heap: Float32Array, xAt: number, info: ConvInfo, outAt: number): void {
  const { batchSize, inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth, strideHeight } = info;
  const k = filterHeight * filterWidth * cin;
  if (padded(info)) heap.fill(0, outAt, outAt + batchSize * outHeight * outWidth * k);
  let n = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      for (let yc = 0; yc < outWidth; yc++, n++) {
        const [first, end, xc] = tapSpan(info, yc);
        if (end <= first) continue;
        const length = (end - first) * cin;
        for (let r = 0; r < filterHeight; r++) {
          const xr = yr * strideHeight + r - info.padInfo.top;
          if (xr < 0 || xr >= inHeight) continue;
          const from = xAt + ((b * inHeight + xr) * inWidth + xc) * cin;
          const to = outAt + n * k + (r * filterWidth + first) * cin;
          if (length >= COPY_RUN) heap.copyWithin(to, from, from + length);
          else for (let i = 0; i < length; i++) heap[to + i] = heap[from + i] as number;
        }
      }
    }
  }
}

/** dx: each row of `cols` [N×K] added back where im2col took its patch from, summed in float64. */
function col2im(cols: Float32Array, info: ConvInfo, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: cin, outHeight, outWidth, filterHeight, filterWidth, strideHeight } = info;
  const k = filterHeight * filterWidth * cin;
  const sums = new Float64Array(dx.length);
  let n = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      for (let yc = 0; yc < outWidth; yc++, n++) {
        const [first, end, xc] = tapSpan(info, yc);
        if (end <= first) continue;
        const length = (end - first) * cin;
        for (let r = 0; r < filterHeight; r++) {
          const xr = yr * strideHeight + r - info.padInfo.top;
          if (xr < 0 || xr >= inHeight) continue;
          const to = ((b * inHeight + xr) * inWidth + xc) * cin;
          const from = n * k + (r * filterWidth + first) * cin;
          for (let i = 0; i < length; i++) sums[to + i] = (sums[to + i] as number) + (cols[from + i] as number);
        }
      }
    }
  }
  dx.set(sums);
}

/** dW for an NHWC Conv2D (the cpu kernel answers other layouts). */
export function conv2dBackpropFilter({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined || attrs === undefined) return undefined;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const filterShape = attrs['filterShape'] as number[];
  const info = convInfo(x.shape, filterShape, attrs);
  if (info === undefined) return undefined;
  const n = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const cout = info.outChannels;
  if (n === 0) return undefined;
  const direct = tileFor(info.inChannels, cout) === undefined ? undefined : convLoops(backend as KernelBackend);
  if (direct !== undefined) return filterByTaps(backend as KernelBackend, direct, x, dy, filterShape, info);
  const ops = new WasmOps(backend as KernelBackend);
  try {
    if (!pointwise(info) && cout < k && info.strideHeight === 1 && info.strideWidth === 1) return ops.keep(filterByConvolution(ops, x, dy, info));
    const grads = ops.reshape(dy, [1, n, cout]);
    // Pointwise: P is x itself. Otherwise im2col writes P in runs of kw·cin values.
    let patches: TensorInfo;
    if (pointwise(info)) {
      patches = ops.reshape(x, [1, n, k]);
    } else {
      patches = ops.allocate([1, n, k]);
      const [heap, xAt] = ops.heap(x);
      im2col(heap, xAt, info, ops.heap(patches)[1]);
    }
    // dW = Pᵀ·dy [K×cout]. wasm's BatchMatMul packs its second operand anew for every new tensor
    // (XNNPACK caches the packed copy by tensor, and dy is new each step), and packing costs more
    // than transposing: so the smaller of P and dy goes second and the larger is transposed. With
    // K < cout, (dyᵀ·P)ᵀ. Measured with a new dy every call (same process, alternating): for the
    // CNN's 3×3 1→32 and 1×1 16→64 layers, dy second took 16.8 and 7.7 ms against 13.6 and 2.8 this
    // way. (A product per filter tap, dy second in each, measured slower: 20 ms against 12 ms for the
    // issue's 3×3 32→16, which now takes filterByConvolution.)
    if (k < cout) {
      const product = ops.matmul(grads, patches, true, false);
      return ops.keep(ops.reshape(ops.run('Transpose', { x: product }, { perm: [0, 2, 1] }), filterShape));
    }
    return ops.keep(ops.reshape(ops.matmul(patches, grads, true, false), filterShape));
  } finally {
    ops.dispose();
  }
}

/**
 * dW tap by tap with conv-simd.ts's loop: for each filter tap, the output positions whose input pixel
 * lies inside x (rows [y0, y1), columns [c0, c1)), so the padding's zeros are never visited.
 */
function filterByTaps(backend: KernelBackend, loops: ConvLoops, x: TensorInfo, dy: TensorInfo, filterShape: number[], info: ConvInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: cin, outChannels: cout, outHeight, outWidth, filterHeight, filterWidth, strideHeight: sh, strideWidth: sw, padInfo } = info;
  const out = allocate(backend, filterShape);
  const dw = view(backend, out);
  dw.fill(0);
  const xAt = view(backend, x).byteOffset;
  const dyAt = view(backend, dy).byteOffset;
  // Output positions p with 0 ≤ p·stride + tap − pad < size: [first, end).
  const span = (tap: number, pad: number, stride: number, size: number, outSize: number): [number, number] => {
    const first = Math.max(0, Math.ceil((pad - tap) / stride));
    const end = Math.min(outSize, Math.floor((size - 1 + pad - tap) / stride) + 1);
    return [first, end];
  };
  const f = Float32Array.BYTES_PER_ELEMENT;
  for (let r = 0; r < filterHeight; r++) {
    const [y0, y1] = span(r, padInfo.top, sh, inHeight, outHeight);
    if (y1 <= y0) continue;
    for (let c = 0; c < filterWidth; c++) {
      const [c0, c1] = span(c, padInfo.left, sw, inWidth, outWidth);
      if (c1 <= c0) continue;
      loops.filterTap({
        x: xAt + ((y0 * sh + r - padInfo.top) * inWidth + (c0 * sw + c - padInfo.left)) * cin * f,
        dy: dyAt + (y0 * outWidth + c0) * cout * f,
        dw: dw.byteOffset + (r * filterWidth + c) * cin * cout * f,
        batch: batchSize,
        xImage: inHeight * inWidth * cin * f,
        dyImage: outHeight * outWidth * cout * f,
        rows: y1 - y0,
        cols: c1 - c0,
        xRow: sh * inWidth * cin * f,
        xCol: sw * cin * f,
        dyRow: outWidth * cout * f,
        cin,
        cout,
      });
    }
  }
  return out;
}

/**
 * dW as a convolution, with no patch matrix: dW[r, c, i, o] = Σ_{b, y, x} x[b, y + r − top, x + c − left, i]·dy[b, y, x, o]
 * is, with the batch and channel axes of x swapped (x' [cin, H, W, B]) and dy as the filter
 * (dy' [outH, outW, B, cout]), the stride-1 correlation of x' padded by top/left with dy', whose
 * output [cin, kh, kw, cout] is dW with its first three axes rotated. wasm's Conv2D (XNNPACK) runs it
 * through an indirection buffer, so P [N×K] is neither written nor transposed, and only dy, the
 * smaller operand when cout < K, is packed. For stride 1 only (the padding after is then
 * kh − 1 − top ≥ 0 and no input row is skipped).
 */
function filterByConvolution(ops: WasmOps, x: TensorInfo, dy: TensorInfo, info: ConvInfo): TensorInfo {
  const { padInfo } = info;
  const swapped = ops.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const filter = ops.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const pad = [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]];
  const rotated = ops.run('Conv2D', { x: swapped, filter }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
  return ops.run('Transpose', { x: rotated }, { perm: [1, 2, 0, 3] });
}

/** dx = col2im(dy·Wᵀ) for an NHWC Conv2D. */
export function conv2dBackpropInput({ inputs, backend, attrs }: Args): TensorInfo | undefined {
  const dy = inputs['dy'];
  const filter = inputs['filter'];
  if (dy === undefined || filter === undefined || attrs === undefined) return undefined;
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  const inputShape = attrs['inputShape'] as number[];
  const info = convInfo(inputShape, filter.shape, attrs);
  if (info === undefined) return undefined;
  const n = info.batchSize * info.outHeight * info.outWidth;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  const cout = info.outChannels;
  if (n === 0) return undefined;
  const ops = new WasmOps(backend as KernelBackend);
  try {
    if (info.strideHeight === 1 && info.strideWidth === 1) return ops.keep(transposedConvolution(ops, dy, filter, info));
    const grads = ops.reshape(dy, [1, n, cout]);
    const kernel = ops.reshape(filter, [1, k, cout]);
    // dy·Wᵀ [N×K]: for a pointwise convolution that is dx itself.
    const cols = ops.matmul(grads, kernel, false, true);
    if (pointwise(info)) return ops.keep(ops.reshape(cols, inputShape));
    const dx = ops.allocate(inputShape);
    col2im(ops.view(cols), info, ops.view(dx));
    return ops.keep(dx);
  } finally {
    ops.dispose();
  }
}

/**
 * With stride 1, dx is itself a convolution, which wasm's Conv2D (XNNPACK) runs without any patch
 * matrix: dx[j] = Σ_r dy[j + top − r]·W[r] = Σ_r' dy[j − (kh−1−top) + r']·W[kh−1−r'], the
 * correlation of dy, padded by kh−1−top before (and what makes the size right after), with the
 * filter flipped in both spatial axes and its channel axes swapped: W'[r', c', o, i] = W[kh−1−r', kw−1−c', i, o].
 */
function transposedConvolution(ops: WasmOps, dy: TensorInfo, filter: TensorInfo, info: ConvInfo): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: cin, outChannels: cout, inHeight, inWidth, outHeight, outWidth, padInfo } = info;
  const flipped = ops.allocate([kh, kw, cout, cin]);
  const w = ops.view(filter);
  const f = ops.view(flipped);
  for (let r = 0; r < kh; r++) {
    for (let c = 0; c < kw; c++) {
      const from = ((kh - 1 - r) * kw + (kw - 1 - c)) * cin * cout;
      const to = (r * kw + c) * cout * cin;
      for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) f[to + o * cin + i] = w[from + i * cout + o] as number;
    }
  }
  const top = kh - 1 - padInfo.top;
  const left = kw - 1 - padInfo.left;
  const pad = [[0, 0], [top, inHeight + kh - 1 - outHeight - top], [left, inWidth + kw - 1 - outWidth - left], [0, 0]];
  return ops.run('Conv2D', { x: dy, filter: flipped }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
}

/**
 * wasm kernels called directly (not through the engine), and heap tensors allocated here; every one
 * is freed at the end except the one kept as the result.
 */
class WasmOps {
  private readonly made: TensorInfo[] = [];
  private kept: TensorInfo | undefined;

  constructor(private readonly backend: KernelBackend) {}

  run(name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo {
    // Looked up per call, so that tf.ts's BatchMatMul (transposes done explicitly) is the one used.
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel === undefined) throw new Error(`wasm has no ${name} kernel`);
    const out = kernel.kernelFunc({ inputs, backend: this.backend, attrs: attrs as NamedAttrMap }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /** The same buffer seen with another shape (wasm's Reshape shares it and raises its count). */
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  matmul(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): TensorInfo {
    return this.run('BatchMatMul', { a, b }, { transposeA, transposeB });
  }

  /** Free intermediates early (each is freed once, here or at the end). */
  release(info: TensorInfo): void {
    const i = this.made.indexOf(info);
    if (i < 0) return;
    this.made.splice(i, 1);
    this.backend.disposeData(info.dataId);
  }

  allocate(shape: number[]): TensorInfo {
    const out = allocate(this.backend, shape);
    this.made.push(out);
    return out;
  }

  /** A float32 view of a tensor's values; valid until the next allocation. */
  view(info: TensorInfo): Float32Array {
    return view(this.backend, info);
  }

  /** The whole heap as float32 and the tensor's offset in it; valid until the next allocation. */
  heap(info: TensorInfo): [heap: Float32Array, offset: number] {
    const values = view(this.backend, info);
    return [new Float32Array(values.buffer), values.byteOffset / Float32Array.BYTES_PER_ELEMENT];
  }

  keep(info: TensorInfo): TensorInfo {
    this.kept = info;
    return info;
  }

  dispose(): void {
    for (const info of this.made) if (info !== this.kept) this.backend.disposeData(info.dataId);
  }
}
