/**
 * CPU fallbacks for the kernels that @tensorflow/tfjs-backend-wasm (4.22) does not implement.
 *
 * wasm has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input or UnsortedSegmentSum,
 * so the backward pass of Conv2D, Conv1D (a conv2d underneath), SeparableConv2D, DepthwiseConv2D and
 * Embedding (whose gather gradient is an unsorted segment sum) throws "Kernel ... not registered for
 * backend 'wasm'" on the first training step. Rather than write those kernels again, we run the cpu
 * backend's own implementation: copy the inputs out of the wasm heap into the cpu backend, call the
 * cpu kernel there, copy the outputs back into the wasm heap and free every cpu-side buffer. The
 * result is the cpu backend's answer bit for bit, and the active backend never changes.
 *
 * The mechanism is general: every kernel the cpu backend registers and wasm lacks gets a fallback,
 * so a kernel a future tfjs version adds to cpu first is covered without a hand-kept list. The same
 * bridge also replaces the few wasm kernels that exist but compute wrong answers (WRONG_ON_WASM).
 * Some of the cpu kernels are too slow to train with (seconds to minutes per step); those get a
 * fast path first (FAST_PATHS) and keep the cpu kernel for the calls the fast path does not handle.
 * A few wasm kernels are right but slow in the paths training takes; they get a fast path in front
 * of them the same way (SLOW_ON_WASM). LOWRANK_REFERENCE_KERNELS=1 registers the kernels as they
 * were before issue 11's fast paths, so that bench/train.ts can measure both in one run.
 */
// Kernels sit below src/tf.ts (which registers them), so they take tfjs itself, not that module.
import * as tf from '../../lib/tfjs.mjs';
import { maxPool3d, maxPool3dGrad, maxPoolGrad } from './pooling.js';
import { conv2dBackpropFilter as convFilterGradient, conv2dBackpropInput as convInputGradient } from './conv.js';
import { depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput } from './depthwise.js';
import { cast, identity, sumLeadingAxes } from './plumbing.js';
import type {
  BackendValues,
  DataId,
  DataType,
  KernelBackend,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';

/**
 * Kernels that cannot be bridged by copying buffers, with the reason. Each of them takes or makes
 * complex64 tensors: the cpu backend keeps those as a pair of float32 tensors, while the wasm
 * backend has no complex64 storage at all (its readSync and typedArrayFromHeap throw "Unknown dtype
 * complex64", and none of its kernels would understand one). No layer's backward pass uses them.
 * Draw is bridged like the rest: it only reads its image and paints the canvas passed in its attrs,
 * which the cpu kernel can do from here wherever a canvas exists (a browser; Node has none).
 */
const EXCLUDED: ReadonlyMap<string, string> = new Map([
  ['Complex', 'makes complex64, which wasm cannot store'],
  ['ComplexAbs', 'reads complex64, which wasm cannot store'],
  ['Real', 'reads complex64, which wasm cannot store'],
  ['Imag', 'reads complex64, which wasm cannot store'],
  ['FFT', 'reads and makes complex64, which wasm cannot store'],
  ['IFFT', 'reads and makes complex64, which wasm cannot store'],
]);

/**
 * wasm kernels that exist but are wrong, replaced by the cpu kernel all the same. Each of these
 * seeds its running maximum with `std::numeric_limits<float>::min()`, which is the smallest
 * *positive* float, not the lowest one, so a window whose values are all <= 0 comes out wrong:
 * MaxPool3D and Dilation2D return 1.2e-38 instead of the maximum, MaxPoolWithArgmax returns index 0,
 * and the gradients (MaxPoolGrad, MaxPool3DGrad, Dilation2D's backprops) drop or misplace that
 * window's gradient. A MaxPooling2D layer after a linear or batch-normalised convolution then trains
 * with silently wrong gradients (checked against finite differences; the cpu kernels are exact).
 * wasm's 2-D MaxPool forward goes through XNNPACK and is right. Drop an entry once tfjs fixes it.
 */
const WRONG_ON_WASM: ReadonlyMap<string, string> = new Map([
  ['MaxPoolGrad', 'drops the gradient of pooling windows whose values are all <= 0'],
  ['MaxPool3D', 'returns 1.2e-38 for pooling windows whose values are all <= 0'],
  ['MaxPool3DGrad', 'drops the gradient of pooling windows whose values are all <= 0'],
  ['MaxPoolWithArgmax', 'returns index 0 for pooling windows whose values are all <= 0'],
  ['Dilation2D', 'returns 1.2e-38 where every sum in the window is <= 0'],
  ['Dilation2DBackpropInput', 'misplaces the gradient where every sum in the window is <= 0'],
  ['Dilation2DBackpropFilter', 'misplaces the gradient where every sum in the window is <= 0'],
]);

/**
 * A faster way to compute a kernel on wasm, or undefined when the call is outside what it handles
 * (the cpu fallback then runs). Only where the cpu kernel is far too slow to train with:
 * - UnsortedSegmentSum: the cpu kernel loops over every segment and masks the whole input each
 *   time, O(segments × ids × width). An Embedding's gradient has one segment per vocabulary entry:
 *   vocabulary 5000, 1600 tokens, width 64 took 107 s per step. A scatter-add is O(ids × width).
 * - Conv2DBackpropFilter: the cpu kernel reads every element through TensorBuffer.get with rest
 *   arguments, about 3M multiply-adds/s: 7 s for a 3×3 16→32-channel layer on 26×26 inputs at
 *   batch 8. Here it becomes one matrix product per filter tap on wasm's own kernels (0.14 s for the
 *   same layer at batch 64).
 * - DepthwiseConv2dNativeBackpropFilter: the same TensorBuffer-bound loop. A flat loop over typed
 *   arrays adds the same products in the same order into a float64 accumulator, as the cpu kernel
 *   does, so the result is bit-identical and about 30x faster.
 * - MaxPoolGrad (and the 3-D pool): TensorBuffer-bound, ~45% of a CNN's training step; pooling.ts
 *   is bit-identical to the cpu kernels, 3 s → 6 ms for a 2×2 pool over 32×26×26×32.
 * - DepthwiseConv2dNativeBackpropInput: a flat loop already, slowed by the copies across backends;
 *   depthwise.ts is the same loop in place in the wasm heap.
 */
type FastKernel = (args: Parameters<KernelFunc>[0]) => TensorInfo | undefined;

const FAST_PATHS: ReadonlyMap<string, FastKernel> = new Map<string, FastKernel>([
  ['UnsortedSegmentSum', unsortedSegmentSum],
  // One im2col product (conv.ts), faster again than the product per filter tap below, which
  // LOWRANK_REFERENCE_KERNELS=1 still selects.
  ['Conv2DBackpropFilter', convFilterGradient],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseConv2dBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseConv2dBackpropInput],
  ['MaxPoolGrad', maxPoolGrad],
  ['MaxPool3D', maxPool3d],
  ['MaxPool3DGrad', maxPool3dGrad],
]);

/**
 * wasm kernels that are right but too slow to train with, replaced by a fast path, which is also
 * given the wasm kernel; the wasm kernel still answers the calls the fast path does not handle.
 */
type FasterKernel = (args: Parameters<KernelFunc>[0], wasmKernel: KernelFunc) => TensorInfo | undefined;

const SLOW_ON_WASM: ReadonlyMap<string, FasterKernel> = new Map<string, FasterKernel>([
  // A naive loop at ~0.2 GFLOP/s, 31% of the issue's CNN step (conv.ts: XNNPACK's Conv2D or a
  // product).
  ['Conv2DBackpropInput', convInputGradient],
  // Copies where sharing the buffer is enough, and a bias gradient's Sum through a slow 4-D
  // transposition (plumbing.ts). A float64 JS loop for that Sum was tried and dropped: 6.2 ms against
  // wasm's 1.2 ms for [21632, 32] in the same run.
  ['Identity', identity],
  ['Cast', cast],
  ['Sum', sumLeadingAxes],
]);

/**
 * The kernels as they were before issue 11's fast paths, which `LOWRANK_REFERENCE_KERNELS=1` brings
 * back (undefined: the cpu or wasm kernel alone) so that a benchmark can measure both, one process each.
 */
const BEFORE_ISSUE_11: ReadonlyMap<string, FastKernel | undefined> = new Map<string, FastKernel | undefined>([
  ['Conv2DBackpropFilter', conv2dBackpropFilter],
  ['MaxPoolGrad', undefined],
  ['MaxPool3D', undefined],
  ['MaxPool3DGrad', undefined],
  ['Conv2DBackpropInput', undefined],
  ['DepthwiseConv2dNativeBackpropInput', undefined],
  ['Identity', undefined],
  ['Cast', undefined],
  ['Sum', undefined],
]);

/** Whether LOWRANK_REFERENCE_KERNELS=1 asks for the kernels (and optimizer) as before issue 11. */
export function referenceKernels(): boolean {
  // Not `process.env` alone: the library also runs where there is no `process`.
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['LOWRANK_REFERENCE_KERNELS'] === '1';
}

/** The fast path for a kernel, unless the environment asks for the reference kernels. */
function fastPathFor<K extends FastKernel | FasterKernel>(name: string, table: ReadonlyMap<string, K>): K | FastKernel | undefined {
  if (referenceKernels() && BEFORE_ISSUE_11.has(name)) return BEFORE_ISSUE_11.get(name);
  return table.get(name);
}

/** Names of the kernels this module has registered for wasm, in registration order. */
const registered: string[] = [];

/**
 * Register a wasm kernel that runs the cpu implementation on copies of the data for every kernel
 * the cpu backend has and wasm lacks (except those in EXCLUDED), and for the wasm kernels known to be
 * wrong (WRONG_ON_WASM). Safe to call more than once: later calls add only kernels that appeared
 * since. Returns every kernel name this module has registered so far.
 */
export function registerCpuFallbacks(): string[] {
  for (const config of tf.getKernelsForBackend('cpu')) {
    const name = config.kernelName;
    if (EXCLUDED.has(name) || registered.includes(name)) continue;
    const replace = WRONG_ON_WASM.has(name);
    if (!replace && tf.getKernel(name, 'wasm') !== undefined) continue;
    // No cpu kernel has a setupFunc/disposeFunc today; one that did would expect the cpu backend
    // and could not be run from here unchanged, so such a kernel is left alone.
    if (config.setupFunc !== undefined || config.disposeFunc !== undefined) continue;
    // registerKernel refuses to overwrite silently (it warns), so a replaced kernel goes first.
    if (replace && tf.getKernel(name, 'wasm') !== undefined) tf.unregisterKernel(name, 'wasm');
    const fallback = runOnCpu(name, config.kernelFunc);
    const fast = fastPathFor(name, FAST_PATHS);
    const kernelFunc: KernelFunc = fast === undefined ? fallback : (args) => fast(args) ?? fallback(args);
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
    registered.push(name);
  }
  return [...registered];
}

/**
 * Put the fast paths in front of the slow wasm kernels (SLOW_ON_WASM). Safe to call more than once;
 * returns the names it replaced in this call.
 */
export function registerFasterWasmKernels(): string[] {
  const replaced: string[] = [];
  for (const name of SLOW_ON_WASM.keys()) {
    const fast = fastPathFor(name, SLOW_ON_WASM);
    const original = tf.getKernel(name, 'wasm');
    if (fast === undefined || original === undefined || registered.includes(name)) continue;
    tf.unregisterKernel(name, 'wasm');
    const slow = original.kernelFunc;
    tf.registerKernel({ ...original, kernelFunc: (args) => fast(args, slow) ?? slow(args) });
    registered.push(name);
    replaced.push(name);
  }
  return replaced;
}

/** Kernels left without a wasm implementation on purpose, with the reason for each. */
export function excludedFallbacks(): ReadonlyMap<string, string> {
  return EXCLUDED;
}

/** wasm kernels replaced by the cpu ones because they compute wrong answers, with the reason. */
export function replacedWasmKernels(): ReadonlyMap<string, string> {
  return WRONG_ON_WASM;
}

/**
 * The cpu backend instance. `findBackend` creates it on first use (its factory is synchronous) and,
 * unlike `setBackend`, does not make it the active backend, so training stays on wasm.
 */
function cpuBackend(kernelName: string): KernelBackend {
  const cpu = tf.engine().findBackend('cpu');
  if (cpu === null || cpu === undefined) {
    throw new Error(`${kernelName}: the wasm fallback needs the cpu backend, which is not registered`);
  }
  return cpu;
}

/**
 * Inputs arrive in three shapes: a map of TensorInfos (most kernels), an array of them (Concat-like
 * kernels such as Einsum get `inputs` as a bare array, and the cpu kernel calls array methods on it)
 * and a map whose entries are arrays (RaggedGather's paramsNestedSplits, RaggedTensorToTensor's
 * rowPartitionTensors). Copying keeps whichever shape came in.
 */
type InputValue = TensorInfo | TensorInfo[] | undefined;

function runOnCpu(kernelName: string, cpuKernel: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as KernelBackend;
    const cpu = cpuBackend(kernelName);
    // Every cpu-side buffer we create, so that all of them are freed whatever happens; one copy per
    // distinct wasm buffer, since a tensor may be passed as two inputs (x * x).
    const copies = new Map<DataId, TensorInfo>();
    const toCpu = (info: TensorInfo): TensorInfo => {
      let copy = copies.get(info.dataId);
      if (copy === undefined) {
        // readSync on wasm returns a fresh copy of the heap bytes, so the cpu kernel may keep or
        // alias it freely.
        const dataId = cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype);
        copy = tensorLike(dataId, info);
        copies.set(info.dataId, copy);
      }
      return copy;
    };
    const copyInput = (value: InputValue): InputValue =>
      value === undefined ? undefined : Array.isArray(value) ? value.map(toCpu) : toCpu(value);

    const cpuOutputs: TensorInfo[] = [];
    const wasmOutputs: TensorInfo[] = [];
    try {
      const source = inputs as unknown as InputValue[] | Record<string, InputValue>;
      const cpuInputs = Array.isArray(source)
        ? source.map(copyInput)
        : Object.fromEntries(Object.entries(source).map(([key, value]) => [key, copyInput(value)]));
      const result = cpuKernel({
        inputs: cpuInputs as unknown as NamedTensorInfoMap,
        backend: cpu,
        ...(attrs !== undefined ? { attrs } : {}),
      });
      const outputs = Array.isArray(result) ? result : [result];
      cpuOutputs.push(...outputs);
      for (const out of outputs) {
        if (out.dtype === 'complex64') throw new Error(`${kernelName}: wasm cannot store complex64 outputs`);
        const values = asDtype(cpu.readSync(out.dataId), out.dtype);
        wasmOutputs.push({ dataId: wasm.write(values, out.shape, out.dtype), shape: [...out.shape], dtype: out.dtype });
      }
      return Array.isArray(result) ? wasmOutputs : (wasmOutputs[0] as TensorInfo);
    } catch (error) {
      for (const out of wasmOutputs) wasm.disposeData(out.dataId);
      throw error;
    } finally {
      // disposeData honours reference counts: a cpu kernel that returns one of its inputs (Draw does)
      // or the same buffer twice has raised the count, so each release here undoes exactly one hold,
      // and releasing a buffer that is already gone is a no-op.
      for (const out of cpuOutputs) cpu.disposeData(out.dataId);
      for (const copy of copies.values()) cpu.disposeData(copy.dataId);
    }
  };
}

/**
 * The engine hands kernels real Tensors, and a few cpu kernels read Tensor getters rather than plain
 * TensorInfo fields (Dilation2D's backprops assert on `dy.rank`), so the cpu-side copies carry the
 * derived fields too.
 */
function tensorLike(dataId: DataId, info: TensorInfo): TensorInfo {
  const derived = {
    rank: info.shape.length,
    size: tf.util.sizeFromShape(info.shape),
    strides: tf.util.computeStrides(info.shape),
  };
  return Object.assign({ dataId, shape: info.shape, dtype: info.dtype }, derived);
}

/**
 * wasm's write copies the raw bytes of the typed array it is given, so the array must have the
 * element type wasm uses for the output's dtype. The cpu backend's readSync converts by the dtype it
 * *stored*, which is not always the dtype of the TensorInfo a kernel returns: MaxPoolWithArgmax
 * stores its int32 indexes as float32. Copying those bytes unconverted would turn index 1 into
 * 1065353216.
 */
function asDtype(values: BackendValues, dtype: DataType): BackendValues {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case 'int32':
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    case 'bool':
      return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>);
    default:
      // 'string': both backends hold an array of encoded byte strings, which wasm keeps by reference.
      return values;
  }
}

// ---- fast paths -------------------------------------------------------------------------------

/** Scatter-add of data rows into their segments; ids outside [0, numSegments) are dropped, as on cpu. */
function unsortedSegmentSum({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo | undefined {
  const x = inputs['x'];
  const ids = inputs['segmentIds'];
  const numSegments = attrs?.['numSegments'];
  if (x === undefined || ids === undefined || typeof numSegments !== 'number') return undefined;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || ids.dtype !== 'int32') return undefined;
  const wasm = backend as KernelBackend;
  const numIds = tf.util.sizeFromShape(ids.shape);
  const outShape = [numSegments, ...x.shape.slice(ids.shape.length)];
  const width = tf.util.sizeFromShape(outShape.slice(1));
  const data = wasm.readSync(x.dataId) as Float32Array | Int32Array;
  const segment = wasm.readSync(ids.dataId) as Int32Array;
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * width) : new Float32Array(numSegments * width);
  for (let i = 0; i < numIds; i++) {
    const s = segment[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const from = i * width;
    const to = s * width;
    for (let j = 0; j < width; j++) out[to + j] = (out[to + j] as number) + (data[from + j] as number);
  }
  return { dataId: wasm.write(out, outShape, x.dtype), shape: outShape, dtype: x.dtype };
}

type Shape4 = [number, number, number, number];

/**
 * dW[r, c, :, :] = Σ over batch and output positions of x[b, y·s + r − pad, x·s + c − pad, :]ᵀ ·
 * dy[b, y, x, :]. For each filter tap (r, c) the x values it touches are one strided slice of the
 * zero-padded input, [B, OH, OW, Cin] = an [N, Cin] matrix, so the tap's weights are dyᵀ[Cout, N]
 * times that matrix: kh·kw products on wasm's BatchMatMul, all in the wasm heap. NHWC only.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: Parameters<KernelFunc>[0]): TensorInfo | undefined {
  const x = inputs['x'];
  const dy = inputs['dy'];
  if (x === undefined || dy === undefined || attrs === undefined || attrs['dataFormat'] === 'NCHW') return undefined;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
  const kernels = wasmKernels('PadV2', 'StridedSlice', 'Reshape', 'Transpose', 'BatchMatMul', 'Concat');
  if (kernels === undefined) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    attrs['filterShape'] as Shape4,
    attrs['strides'] as number | [number, number],
    1,
    attrs['pad'] as Parameters<typeof tf.backend_util.computeConv2DInfo>[4],
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth, padInfo } = info;
  const n = batchSize * outHeight * outWidth;
  if (n === 0) return undefined;

  const ops = new WasmOps(backend as KernelBackend, kernels);
  try {
    // Zero padding: wherever the cpu kernel skips an out-of-range x, the padded slice holds a 0.
    const padBottom = Math.max(0, (outHeight - 1) * strideHeight + filterHeight - inHeight - padInfo.top);
    const padRight = Math.max(0, (outWidth - 1) * strideWidth + filterWidth - inWidth - padInfo.left);
    const padded =
      padInfo.top + padBottom + padInfo.left + padRight === 0
        ? x
        : ops.run('PadV2', { x }, { paddings: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]], constantValue: 0 });
    const dyT = ops.run('Transpose', { x: ops.run('Reshape', { x: dy }, { shape: [1, n, outChannels] }) }, { perm: [0, 2, 1] });
    const taps: TensorInfo[] = [];
    for (let r = 0; r < filterHeight; r++) {
      for (let c = 0; c < filterWidth; c++) {
        const patch = ops.run('StridedSlice', { x: padded }, {
          begin: [0, r, c, 0],
          end: [batchSize, r + (outHeight - 1) * strideHeight + 1, c + (outWidth - 1) * strideWidth + 1, inChannels],
          strides: [1, strideHeight, strideWidth, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        });
        const matrix = ops.run('Reshape', { x: patch }, { shape: [1, n, inChannels] });
        taps.push(ops.run('BatchMatMul', { a: dyT, b: matrix }, { transposeA: false, transposeB: false }));
        // One patch is as large as the input; free it now rather than holding kh·kw of them.
        ops.release(matrix, patch);
      }
    }
    // [kh·kw, Cout, Cin] → [kh·kw, Cin, Cout] → the filter's [kh, kw, Cin, Cout].
    const stacked = taps.length === 1 ? (taps[0] as TensorInfo) : ops.run('Concat', taps, { axis: 0 });
    const swapped = ops.run('Transpose', { x: stacked }, { perm: [0, 2, 1] });
    return ops.keep(ops.run('Reshape', { x: swapped }, { shape: [filterHeight, filterWidth, inChannels, outChannels] }));
  } finally {
    ops.dispose();
  }
}

/** The wasm kernel functions by name, looked up per call so that tf.ts's BatchMatMul fix is the one used. */
function wasmKernels(...names: string[]): Map<string, KernelFunc> | undefined {
  const found = new Map<string, KernelFunc>();
  for (const name of names) {
    const kernel = tf.getKernel(name, 'wasm');
    if (kernel === undefined) return undefined;
    found.set(name, kernel.kernelFunc);
  }
  return found;
}

/** Runs wasm kernels directly (not through the engine) and frees every intermediate except the kept result. */
class WasmOps {
  private readonly made: TensorInfo[] = [];
  private kept: TensorInfo | undefined;

  constructor(
    private readonly backend: KernelBackend,
    private readonly kernels: Map<string, KernelFunc>,
  ) {}

  run(name: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: NamedAttrMap): TensorInfo {
    const kernel = this.kernels.get(name) as KernelFunc;
    const out = kernel({ inputs: inputs as NamedTensorInfoMap, backend: this.backend, attrs }) as TensorInfo;
    this.made.push(out);
    return out;
  }

  /** Free intermediates early; each is released once, here or in dispose. */
  release(...infos: TensorInfo[]): void {
    for (const info of infos) {
      const i = this.made.indexOf(info);
      if (i < 0) continue;
      this.made.splice(i, 1);
      this.backend.disposeData(info.dataId);
    }
  }

  keep(info: TensorInfo): TensorInfo {
    this.kept = info;
    return info;
  }

  /** Reshape outputs share their input's buffer with a raised count, so each release drops one hold. */
  dispose(): void {
    for (const info of this.made) if (info !== this.kept) this.backend.disposeData(info.dataId);
  }
}
