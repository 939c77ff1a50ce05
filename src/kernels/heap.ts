/**
 * Direct access to the wasm backend's heap for the fast paths: allocate an output there and read or
 * write tensors through views, instead of readSync's copy in and write's copy out.
 *
 * A view dies when the heap grows (the memory's ArrayBuffer is replaced), and any allocation may grow
 * it: so allocate every output first, then take the views, then compute, with no allocation between.
 */
import type { DataType, KernelBackend, TensorInfo } from '@tensorflow/tfjs';

/** The two BackendWasm methods used here (public on the class, absent from KernelBackend). */
interface WasmBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A new float32 tensor of `shape` in the wasm heap (contents undefined until written). */
export function allocate(backend: KernelBackend, shape: readonly number[]): TensorInfo {
  return (backend as WasmBackend).makeOutput([...shape], 'float32');
}

/** A float32 tensor's values in place in the heap; valid until the next allocation. */
export function view(backend: KernelBackend, info: TensorInfo): Float32Array {
  return (backend as WasmBackend).typedArrayFromHeap(info) as Float32Array;
}

/** A new tensor of `shape` and `dtype` in the wasm heap (contents undefined until written). */
export function allocateOf(backend: KernelBackend, shape: readonly number[], dtype: DataType): TensorInfo {
  return (backend as WasmBackend).makeOutput([...shape], dtype);
}

/** A tensor's values of any numeric dtype in place in the heap; valid until the next allocation. */
export function typedView(backend: KernelBackend, info: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return (backend as WasmBackend).typedArrayFromHeap(info);
}
