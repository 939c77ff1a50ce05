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
 * so a kernel a future tfjs version adds to cpu first is covered without a hand-kept list.
 */
import { tf } from '../tf.js';
import type {
  DataId,
  KernelBackend,
  KernelFunc,
  NamedTensorInfoMap,
  TensorInfo,
} from '@tensorflow/tfjs';

/**
 * Kernels that cannot be bridged by copying buffers, with the reason. Each of them takes or makes
 * complex64 tensors: the cpu backend keeps those as a pair of float32 tensors, while the wasm
 * backend has no complex64 storage at all (its readSync and typedArrayFromHeap throw "Unknown dtype
 * complex64", and none of its kernels would understand one). No layer's backward pass uses them.
 */
const EXCLUDED: ReadonlyMap<string, string> = new Map([
  ['Complex', 'makes complex64, which wasm cannot store'],
  ['ComplexAbs', 'reads complex64, which wasm cannot store'],
  ['Real', 'reads complex64, which wasm cannot store'],
  ['Imag', 'reads complex64, which wasm cannot store'],
  ['FFT', 'reads and makes complex64, which wasm cannot store'],
  ['IFFT', 'reads and makes complex64, which wasm cannot store'],
]);

/** Names of the kernels this module has registered for wasm, in registration order. */
const registered: string[] = [];

/**
 * Register a wasm kernel for every kernel the cpu backend has and wasm lacks (except those in
 * EXCLUDED) that runs the cpu implementation on copies of the data. Safe to call more than once:
 * later calls add only kernels that appeared since. Returns every kernel name this module has
 * registered so far.
 */
export function registerCpuFallbacks(): string[] {
  for (const config of tf.getKernelsForBackend('cpu')) {
    const name = config.kernelName;
    if (EXCLUDED.has(name) || tf.getKernel(name, 'wasm') !== undefined) continue;
    // No cpu kernel has a setupFunc/disposeFunc today; one that did would expect the cpu backend
    // and could not be run from here unchanged, so such a kernel is left alone.
    if (config.setupFunc !== undefined || config.disposeFunc !== undefined) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: runOnCpu(name, config.kernelFunc) });
    registered.push(name);
  }
  return [...registered];
}

/** Kernels left without a wasm implementation on purpose, with the reason for each. */
export function excludedFallbacks(): ReadonlyMap<string, string> {
  return EXCLUDED;
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
        copy = { dataId, shape: info.shape, dtype: info.dtype };
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
        // The cpu backend's readSync hands back the typed array that matches the dtype (converting
        // the plain or mistyped arrays some cpu kernels store), which matters because wasm's write
        // copies raw bytes. Strings stay an array of encoded byte strings in both backends.
        const values = cpu.readSync(out.dataId);
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
