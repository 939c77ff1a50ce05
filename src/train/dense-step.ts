/**
 * The training step of a chain of Dense layers, without tfjs-layers and the gradient tape.
 *
 * For a small factorized MLP nearly all of a step's time is machinery, not arithmetic (issue 11: a
 * 784-512-256-10 model at rank 24 does ~10 MFLOP a step): Layers' apply, the tape recording each
 * op, the engine's dispatch of ~60 kernels and the backward functions' reshapes and transposes. A
 * chain of Dense layers needs none of it: the forward is one fused product per layer (with bias and
 * relu, as Dense.call computes it), and the backward is written out here: each activation's
 * derivative and the bias gradients as loops over the wasm heap, the products in wasm-matmul.ts's
 * SIMD loops, which read the operands in place (no packing, no transposes; the forward's bias and
 * relu and the backward's relu derivative in their epilogues). Where the runtime lacks wasm SIMD, or
 * with LOWRANK_XNNPACK_PRODUCTS=1, the products are direct calls of the backend's kernels instead:
 * the forward the same wasm `_FusedMatMul` Dense.call runs, the backward arranged so that XNNPACK
 * packs the small operand (dW = Xᵀ·dZ, dXᵀ = W·dZᵀ). The loss stays tfjs's: its gradient with
 * respect to the model's output comes from tf.valueAndGrad of the objective, a few kernels on a
 * [batch, outputs] tensor, so every objective (distillation, temperatures, every loss kind) is
 * exactly the general path's.
 *
 * `denseChain` decides whether a model is such a chain; anything else (other layer classes,
 * branches, nested models, regularizers, inputs of rank > 2, another backend) keeps the general path
 * in fine-tune.ts. LOWRANK_GENERAL_STEP=1 (and LOWRANK_REFERENCE_KERNELS=1, the benchmark's
 * "before") turn this path off.
 */
import { tf } from '../tf.js';
import type { TensorInfo } from '@tensorflow/tfjs';
import { allocate, view } from '../kernels/heap.js';
import { referenceKernels } from '../kernels/wasm-fallbacks.js';
import { loops } from './wasm-loops.js';
import { products } from './wasm-matmul.js';

/** The activations this path differentiates; relu and linear are fused into the product as Dense does. */
type Activation = 'linear' | 'relu' | 'softmax' | 'sigmoid' | 'tanh';
const ACTIVATIONS: ReadonlySet<string> = new Set<Activation>(['linear', 'relu', 'softmax', 'sigmoid', 'tanh']);
/** The wasm kernel of each activation Dense does not fuse. */
const ACTIVATION_KERNEL: Partial<Record<Activation, string>> = { softmax: 'Softmax', sigmoid: 'Sigmoid', tanh: 'Tanh' };

interface Stage {
  kernel: tf.Variable;
  bias: tf.Variable | undefined;
  activation: Activation;
  trainKernel: boolean;
  trainBias: boolean;
}

/** A model this path trains: its Dense layers from input to output. */
export interface DenseChain {
  stages: Stage[];
  /**
   * Whether the products run in wasm-matmul.ts's SIMD loops (where the runtime has them) rather than
   * the backend's XNNPACK kernels; LOWRANK_XNNPACK_PRODUCTS=1 (the benchmark's comparison) says no.
   */
  simdProducts: boolean;
}

/** Whether the environment asks for the general step (the benchmark's comparison). */
function generalStepForced(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.['LOWRANK_GENERAL_STEP'] === '1' || referenceKernels();
}

/** Whether the environment asks for the backend's products in this step (the benchmark's comparison). */
function xnnpackProductsForced(): boolean {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['LOWRANK_XNNPACK_PRODUCTS'] === '1';
}

/**
 * The model as a chain of Dense layers, or undefined when it is anything else (then the general step
 * runs). `trained` are the variables the step updates; the others still pass gradients through.
 */
export function denseChain(model: tf.LayersModel, trained: readonly tf.Variable[]): DenseChain | undefined {
  if (tf.getBackend() !== 'wasm' || generalStepForced()) return undefined;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const input = model.inputs[0] as tf.SymbolicTensor;
  if (input.shape.length !== 2 || input.dtype !== 'float32') return undefined;
  // Walk back from the output: each layer must be a Dense called once, on the previous one's output.
  const layers: tf.layers.Layer[] = [];
  let tensor = model.outputs[0] as tf.SymbolicTensor;
  while (tensor !== input) {
    const layer = tensor.sourceLayer;
    if (layer.getClassName() !== 'Dense' || layer.inboundNodes.length !== 1) return undefined;
    const inputs = layer.inboundNodes[0]?.inputTensors ?? [];
    if (inputs.length !== 1) return undefined;
    layers.unshift(layer);
    tensor = inputs[0] as tf.SymbolicTensor;
  }
  // No layer off the chain (a branch whose output is unused would still run in the general path).
  const others = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  if (layers.length === 0 || others.length !== layers.length || others.some((l, i) => l !== layers[i])) return undefined;
  const names = new Set(trained.map((v) => v.name));
  const stages: Stage[] = [];
  for (const layer of layers) {
    const config = layer.getConfig();
    const activation = String(config['activation'] ?? 'linear');
    if (!ACTIVATIONS.has(activation)) return undefined;
    if (config['kernelRegularizer'] != null || config['biasRegularizer'] != null || config['activityRegularizer'] != null) return undefined;
    const { kernel, bias } = layer as unknown as { kernel: tf.LayerVariable; bias: tf.LayerVariable | null };
    const kernelValue = kernel.read() as tf.Variable;
    const biasValue = bias === null || bias === undefined ? undefined : (bias.read() as tf.Variable);
    if (kernelValue.rank !== 2 || kernelValue.dtype !== 'float32' || (biasValue !== undefined && biasValue.dtype !== 'float32')) return undefined;
    stages.push({
      kernel: kernelValue,
      bias: biasValue,
      activation: activation as Activation,
      trainKernel: names.has(kernelValue.name),
      trainBias: biasValue !== undefined && names.has(biasValue.name),
    });
  }
  // Every trained variable must be one of the chain's (a model's own extra variables are not).
  const covered = new Set(stages.flatMap((s) => [s.kernel.name, ...(s.bias ? [s.bias.name] : [])]));
  if (trained.some((v) => !covered.has(v.name))) return undefined;
  return { stages, simdProducts: !xnnpackProductsForced() };
}

type KernelFunc = (params: { inputs: Record<string, TensorInfo>; backend: tf.KernelBackend; attrs?: Record<string, unknown> }) => TensorInfo;

function kernel(name: string): KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (config === undefined) throw new Error(`wasm kernel ${name} is not registered`);
  return config.kernelFunc as unknown as KernelFunc;
}

/**
 * The objective's value and the gradient of every trained variable, in `variables`' order (the
 * order the optimizer's per-variable state follows). `loss` maps the model's output to the objective;
 * `head`, when given, computes the same objective's value and its gradient into `grad` instead.
 * Call inside tf.tidy: the returned tensors belong to the caller's scope.
 */
export function denseGradients(
  chain: DenseChain,
  x: tf.Tensor,
  variables: readonly tf.Variable[],
  loss: (output: tf.Tensor) => tf.Scalar,
  head?: (output: Float32Array, grad: Float32Array) => number,
): { value: number; grads: tf.NamedTensorMap } {
  const backend = tf.backend();
  const engine = tf.engine();
  const fusedKernel = kernel('_FusedMatMul');
  const matMulKernel = kernel('BatchMatMul');
  const transposeKernel = kernel('Transpose');
  // The wasm products take [batch, rows, cols]: a 2-D operand is viewed with a batch of one (what
  // tf.matMul's reshape does), and the product viewed back as 2-D. Views share the data, no copy.
  const as3d = (info: TensorInfo): TensorInfo => ({ dataId: info.dataId, shape: [1, ...info.shape], dtype: info.dtype });
  const as2d = (info: TensorInfo): TensorInfo => ({ dataId: info.dataId, shape: info.shape.slice(1), dtype: info.dtype });
  const attrs = { transposeA: false, transposeB: false };
  const matMul = (a: TensorInfo, b: TensorInfo): TensorInfo => as2d(matMulKernel({ inputs: { a: as3d(a), b: as3d(b) }, backend, attrs }));
  const fused = (a: TensorInfo, b: TensorInfo, bias: TensorInfo | undefined, activation: string): TensorInfo =>
    as2d(fusedKernel({ inputs: bias === undefined ? { a: as3d(a), b: as3d(b) } : { a: as3d(a), b: as3d(b), bias }, backend, attrs: { ...attrs, activation, leakyreluAlpha: 0.2 } }));
  const transpose = (info: TensorInfo): TensorInfo => transposeKernel({ inputs: { x: info }, backend, attrs: { perm: [1, 0] } });
  const simd = loops(backend);
  const mm = chain.simdProducts ? products(backend) : undefined;
  /** A tensor's byte offset in the heap (stable until it is freed, unlike a view). */
  const at = (info: TensorInfo): number => view(backend, info).byteOffset;
  const temporaries: TensorInfo[] = [];
  const temporary = (info: TensorInfo): TensorInfo => {
    temporaries.push(info);
    return info;
  };
  const grads = new Map<string, tf.Tensor>();
  const keep = (variable: tf.Variable, info: TensorInfo): void => {
    grads.set(variable.name, engine.makeTensorFromTensorInfo(info));
  };
  const rows = x.shape[0] as number;
  try {
    // Forward: each layer's input and output, kept for the backward.
    const inputs: TensorInfo[] = [];
    const outputs: TensorInfo[] = [];
    let current: TensorInfo = x;
    for (const stage of chain.stages) {
      inputs.push(current);
      const fusable = stage.activation === 'relu' || stage.activation === 'linear';
      let product: TensorInfo;
      if (mm !== undefined) {
        product = allocate(backend, [rows, stage.kernel.shape[1] as number]);
        mm.ab(at(current), at(stage.kernel), stage.bias === undefined ? 0 : at(stage.bias), at(product), rows, stage.kernel.shape[0] as number, stage.kernel.shape[1] as number, stage.activation === 'relu');
      } else product = fused(current, stage.kernel, stage.bias, fusable ? stage.activation : 'linear');
      if (fusable) current = temporary(product);
      else {
        temporary(product);
        const name = ACTIVATION_KERNEL[stage.activation] as string;
        current = temporary(kernel(name)({ inputs: { [name === 'Softmax' ? 'logits' : 'x']: product }, backend, attrs: { dim: 1 } }));
      }
      outputs.push(current);
    }
    // The loss and its gradient with respect to the output: in loops for the cross-entropies
    // (dense-loss.ts), else through tfjs's tape on the output alone.
    let value: number;
    let upstream: TensorInfo;
    if (head !== undefined) {
      upstream = temporary(allocate(backend, current.shape));
      value = head(view(backend, current), view(backend, upstream));
    } else {
      const output = engine.makeTensorFromTensorInfo(current);
      temporaries.splice(temporaries.indexOf(current), 1); // the tensor owns it now
      const result = tf.valueAndGrad(loss)(output);
      value = result.value.dataSync()[0] as number;
      upstream = result.grad;
    }
    // Backward, last layer first. `upstream` is the gradient with respect to the layer's output.
    const lastNeeded = firstTrainedStage(chain);
    // Whether `upstream` already is dZ: the SIMD product dX = dZ·Wᵀ applies the previous layer's
    // relu derivative as it stores.
    let masked = false;
    for (let i = chain.stages.length - 1; i >= lastNeeded; i--) {
      const stage = chain.stages[i] as Stage;
      const units = stage.kernel.shape[1] as number;
      const db = stage.trainBias ? allocate(backend, [units]) : undefined;
      const y = outputs[i] as TensorInfo;
      let dz = upstream;
      if (!masked) {
        dz = temporary(allocate(backend, [rows, units]));
        // relu's derivative and the bias sums in wasm SIMD where there is (wasm-loops.ts), else here.
        if (simd !== undefined && stage.activation === 'relu') simd.reluBackward(at(y), at(upstream), at(dz), rows * units);
        else activationBackward(stage.activation, view(backend, y), view(backend, upstream), view(backend, dz), rows, units);
      }
      if (db !== undefined) {
        if (simd !== undefined) {
          view(backend, db).fill(0);
          simd.addRows(at(dz), rows, units, at(db));
        } else columnSums(view(backend, dz), rows, units, view(backend, db));
        keep(stage.bias as tf.Variable, db);
      }
      const fanIn = stage.kernel.shape[0] as number;
      if (mm !== undefined) {
        // The SIMD products read every operand in place: dW = Xᵀ·dZ, dX = dZ·Wᵀ (wasm-matmul.ts).
        if (stage.trainKernel) {
          const dw = allocate(backend, [fanIn, units]);
          mm.atb(at(inputs[i] as TensorInfo), at(dz), at(dw), fanIn, rows, units);
          keep(stage.kernel, dw);
        }
        if (i > lastNeeded) {
          const below = chain.stages[i - 1] as Stage;
          masked = below.activation === 'relu';
          upstream = temporary(allocate(backend, [rows, fanIn]));
          mm.abt(at(dz), at(stage.kernel), masked ? at(outputs[i - 1] as TensorInfo) : 0, at(upstream), rows, units, fanIn);
        }
        continue;
      }
      // XNNPACK packs a product's second operand anew for every new tensor (~8 ns an element here,
      // more than the product itself at these sizes), so each product is arranged to pack the
      // smaller of the two: the layer's input X (rows × fan-in) or dZ (rows × units).
      let dzt: TensorInfo | undefined;
      if (stage.trainKernel) {
        if (fanIn < units) {
          // dW = (dZᵀ·X)ᵀ, packing X (a factor's narrow input).
          dzt = temporary(transpose(dz));
          keep(stage.kernel, transpose(temporary(matMul(dzt, inputs[i] as TensorInfo))));
        } else {
          // dW = Xᵀ·dZ, packing dZ.
          keep(stage.kernel, matMul(temporary(transpose(inputs[i] as TensorInfo)), dz));
        }
      }
      if (i > lastNeeded) {
        // dX = (W·dZᵀ)ᵀ, packing dZᵀ.
        dzt ??= temporary(transpose(dz));
        upstream = temporary(transpose(temporary(matMul(stage.kernel, dzt))));
      }
    }
    const ordered: tf.NamedTensorMap = {};
    for (const v of variables) {
      const g = grads.get(v.name);
      if (g === undefined) throw new Error(`dense step: no gradient for ${v.name}`);
      ordered[v.name] = g;
    }
    return { value, grads: ordered };
  } finally {
    for (const info of temporaries) backend.disposeData(info.dataId);
  }
}

/** The first stage whose variables train: the backward stops there (no gradient for the input). */
function firstTrainedStage(chain: DenseChain): number {
  const i = chain.stages.findIndex((s) => s.trainKernel || s.trainBias);
  return i < 0 ? chain.stages.length : i;
}

/**
 * dZ from the layer's output y and dL/dy, as tfjs's gradients compute it: relu dy·step(y), sigmoid
 * dy·y(1−y), tanh (1−y²)·dy, softmax dy·y − Σ(dy·y)·y per row.
 */
function activationBackward(activation: Activation, y: Float32Array, dy: Float32Array, out: Float32Array, rows: number, cols: number): void {
  const n = rows * cols;
  switch (activation) {
    case 'linear':
      out.set(dy.subarray(0, n));
      return;
    case 'relu':
      for (let k = 0; k < n; k++) out[k] = (y[k] as number) > 0 ? (dy[k] as number) : 0;
      return;
    case 'sigmoid':
      for (let k = 0; k < n; k++) {
        const yk = y[k] as number;
        out[k] = Math.fround((dy[k] as number) * Math.fround(yk * Math.fround(1 - yk)));
      }
      return;
    case 'tanh':
      for (let k = 0; k < n; k++) {
        const yk = y[k] as number;
        out[k] = Math.fround(Math.fround(1 - Math.fround(yk * yk)) * (dy[k] as number));
      }
      return;
    case 'softmax':
      softmaxBackward(y, dy, out, rows, cols);
      return;
  }
}

function softmaxBackward(y: Float32Array, dy: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const p = Math.fround((dy[o + c] as number) * (y[o + c] as number));
      out[o + c] = p;
      sum += p;
    }
    const s = Math.fround(sum);
    for (let c = 0; c < cols; c++) out[o + c] = Math.fround((out[o + c] as number) - Math.fround(s * (y[o + c] as number)));
  }
}

/** Σ over rows of a [rows, cols] matrix: the bias gradient. */
function columnSums(m: Float32Array, rows: number, cols: number, out: Float32Array): void {
  const sums = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) sums[c] = (sums[c] as number) + (m[o + c] as number);
  }
  for (let c = 0; c < cols; c++) out[c] = sums[c] as number;
}
