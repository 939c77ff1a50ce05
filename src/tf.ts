/**
 * The one place that imports TensorFlow.js and picks the backend.
 *
 * Order of preference: tfjs-node (native TensorFlow, an optional dependency that only installs where
 * libtensorflow can be downloaded), then wasm, then the pure-JS cpu backend. On wasm we re-register a
 * few kernels, because the stock ones are slow or missing in exactly the paths training uses.
 */
import * as tf from '../lib/tfjs.mjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { registerCpuFallbacks, registerFasterWasmKernels } from './kernels/wasm-fallbacks.js';

export { tf };

/** What `--backend` accepts. */
export type BackendChoice = 'auto' | 'node' | 'wasm' | 'cpu';
/** The backend names tfjs reports. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

let initialized: Promise<BackendName> | undefined;
let initializedChoice: BackendChoice | undefined;

// tfjs prints banners and hints ("install the node backend", CPU feature notes) that must not reach
// the user's stderr; PROD mode silences tfjs's own warnings and the env var the native library's.
process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
tf.enableProdMode();

async function tryNode(): Promise<boolean> {
  try {
    // A string the bundler/tsc cannot resolve statically: the package is optional.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function trySet(name: 'wasm' | 'cpu'): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Choose and initialise the backend once per process. Later calls return the first result; asking for
 * a different explicit backend afterwards switches to it.
 */
export function initBackend(choice: BackendChoice = 'auto'): Promise<BackendName> {
  if (initialized !== undefined && (choice === 'auto' || choice === initializedChoice)) return initialized;
  initializedChoice = choice;
  initialized = (async (): Promise<BackendName> => {
    const order: Array<'node' | 'wasm' | 'cpu'> = choice === 'auto' ? ['node', 'wasm', 'cpu'] : [choice];
    for (const candidate of order) {
      const ok = candidate === 'node' ? await tryNode() : await trySet(candidate);
      if (ok) {
        await tf.ready();
        if (candidate === 'wasm') registerWasmFixes();
        return tf.getBackend() as BackendName;
      }
    }
    throw new Error(`backend ${choice} could not be initialised`);
  })();
  return initialized;
}

let wasmFixed = false;

/**
 * wasm's BatchMatMul (and _FusedMatMul) with transposeA/transposeB runs 10-40x slower than the plain
 * case, and every backward pass of a Dense layer asks for exactly that. Transposing explicitly first
 * and then taking the plain path gives bit-identical results (the same products summed in the same
 * order) much faster.
 */
export function registerWasmFixes(): void {
  if (wasmFixed) return;
  wasmFixed = true;
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose === undefined) return;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const original = tf.getKernel(name, 'wasm');
    if (original === undefined) continue;
    tf.unregisterKernel(name, 'wasm');
    const config: KernelConfig = {
      ...original,
      kernelFunc: transposeFirst(original.kernelFunc, transpose.kernelFunc),
    };
    tf.registerKernel(config);
  }
  registerCpuFallbacks();
  registerFasterWasmKernels();
}

function transposeFirst(matmul: KernelFunc, transpose: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a = inputs['a'] as TensorInfo;
    const b = inputs['b'] as TensorInfo;
    const transposeA = attrs?.['transposeA'] === true;
    const transposeB = attrs?.['transposeB'] === true;
    if (!transposeA && !transposeB) return matmul({ inputs, backend, ...(attrs ? { attrs } : {}) });
    const temporaries: TensorInfo[] = [];
    const swapLastTwo = (x: TensorInfo): TensorInfo => {
      const rank = x.shape.length;
      const perm = [...Array(rank).keys()];
      perm[rank - 2] = rank - 1;
      perm[rank - 1] = rank - 2;
      const out = transpose({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
      temporaries.push(out);
      return out;
    };
    const newInputs: NamedTensorInfoMap = {
      ...inputs,
      a: transposeA ? swapLastTwo(a) : a,
      b: transposeB ? swapLastTwo(b) : b,
    };
    const newAttrs: NamedAttrMap = { ...attrs, transposeA: false, transposeB: false };
    try {
      return matmul({ inputs: newInputs, backend, attrs: newAttrs });
    } finally {
      for (const t of temporaries) (backend as tf.KernelBackend).disposeData(t.dataId);
    }
  };
}
