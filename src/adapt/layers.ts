/**
 * What each adaptable layer kind needs: the two stock layers that compute B(A(x)) beside it, the
 * factors' shapes, their starting values, and ΔW = scale · A·B folded back into the kernel.
 *
 * - Dense W [in, out]:  A is Dense(r, linear, no bias) [in, r], B is Dense(out, linear, no bias) [r, out].
 * - Conv2D W [kh, kw, cin, cout]: A is Conv2D(r) with the layer's kernel size, strides, padding,
 *   dilation and data format [kh, kw, cin, r]; B is a 1×1 Conv2D(cout) [1, 1, r, cout]. A conv is linear
 *   in its kernel, so B(A(x)) is the conv of x with the kernel A·B (A as the (kh·kw·cin)×r matrix).
 * - Embedding E [inputDim, outputDim]: A is Embedding(inputDim, r), B is Dense(outputDim, no bias):
 *   row i of A·B is B applied to row i of A.
 *
 * A starts small and random, B at zero, so ΔW = 0 and the adapted model starts exactly at the base.
 * Dense and Conv2D draw A uniform in ±1/√fanIn (fanIn = in or kh·kw·cin), which is what PEFT's
 * kaiming_uniform(a=√5) gives; Embedding draws its table N(0, 1/r) (PEFT starts embeddings from the
 * other factor, which B = 0 rules out here).
 */
import { tf } from '../tf.js';
import { UnsupportedLayerError } from '../errors.js';
import type { Rng } from '../data/random.js';
import type { LayerJson } from '../graph/topology.js';
import { freshName } from '../graph/rewrite.js';
import type { AdaptableClass, AdaptedLayer } from './format.js';

/** An adapted layer with the stock layer configs that compute its branch. */
export interface AdapterLayers {
  layer: AdaptedLayer;
  /** The configs of A and B as layer JSON entries (no inbound_nodes yet). */
  aJson: LayerJson;
  bJson: LayerJson;
}

export function isAdaptable(className: string): className is AdaptableClass {
  return className === 'Dense' || className === 'Conv2D' || className === 'Embedding';
}

/** The factors' shapes for a kernel of `kernelShape`. */
export function factorShapes(className: AdaptableClass, kernelShape: readonly number[], rank: number): { a: number[]; b: number[] } {
  const dims = [...kernelShape];
  if (className === 'Conv2D') {
    const [kh, kw, cin, cout] = dims as [number, number, number, number];
    return { a: [kh, kw, cin, rank], b: [1, 1, rank, cout] };
  }
  const [m, n] = dims as [number, number];
  return { a: [m, rank], b: [rank, n] };
}

/** The weight name of a factor layer's single weight, as tfjs names it. */
function weightName(layerName: string, className: string): string {
  return `${layerName}/${className === 'Embedding' ? 'embeddings' : 'kernel'}`;
}

/**
 * Name and describe the adapter of one base layer. `taken` holds every layer name of the model; the
 * factor layers get fresh names `<layer>_lora_a`, `<layer>_lora_b`.
 */
export function adapterLayers(base: LayerJson, kernelShape: readonly number[], rank: number, alpha: number, taken: Set<string>): AdapterLayers {
  const className = base.class_name;
  if (!isAdaptable(className)) throw new UnsupportedLayerError(undefined, `layer ${base.config.name} (${className}) cannot take an adapter: only Dense, Conv2D and Embedding can`);
  const expectedRank = className === 'Conv2D' ? 4 : 2;
  if (kernelShape.length !== expectedRank) throw new UnsupportedLayerError(undefined, `layer ${base.config.name} (${className}) has a kernel of shape [${kernelShape.join(', ')}]; an adapter needs ${expectedRank} dimensions`);
  const name = base.config.name;
  if (className === 'Embedding' && base.config['mask_zero'] === true) {
    // tfjs's Add (Merge.computeMask) hands masks on with an extra leading axis, so the layers after a
    // masked Embedding would see another mask once an adapter's Add stands between them.
    throw new UnsupportedLayerError(undefined, `layer ${name} (Embedding) has mask_zero, and tfjs's Add layer would pass its mask on in another shape; leave it out with --layers '!${name}'`);
  }
  const aName = freshName(`${name}_lora_a`, taken);
  const bName = freshName(`${name}_lora_b`, taken);
  const shapes = factorShapes(className, kernelShape, rank);
  const dtype = base.config['dtype'] !== undefined ? { dtype: base.config['dtype'] } : {};
  const linear = { activation: 'linear', use_bias: false, trainable: true, ...dtype };
  let aJson: LayerJson;
  let bJson: LayerJson;
  if (className === 'Dense') {
    aJson = { class_name: 'Dense', config: { name: aName, units: rank, ...linear } };
    bJson = { class_name: 'Dense', config: { name: bName, units: kernelShape[1], ...linear } };
  } else if (className === 'Conv2D') {
    const c = base.config;
    const dataFormat = c['data_format'] ?? 'channels_last';
    aJson = {
      class_name: 'Conv2D',
      config: { name: aName, filters: rank, kernel_size: c['kernel_size'], strides: c['strides'] ?? [1, 1], padding: c['padding'] ?? 'valid', dilation_rate: c['dilation_rate'] ?? [1, 1], data_format: dataFormat, ...linear },
    };
    bJson = { class_name: 'Conv2D', config: { name: bName, filters: kernelShape[3], kernel_size: [1, 1], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1], data_format: dataFormat, ...linear } };
  } else {
    aJson = { class_name: 'Embedding', config: { name: aName, input_dim: kernelShape[0], output_dim: rank, trainable: true, ...dtype } };
    bJson = { class_name: 'Dense', config: { name: bName, units: kernelShape[1], ...linear } };
  }
  const layer: AdaptedLayer = {
    name,
    className,
    kernelShape: [...kernelShape],
    rank,
    alpha,
    scale: alpha / rank,
    a: { weight: weightName(aName, aJson.class_name), shape: shapes.a },
    b: { weight: weightName(bName, bJson.class_name), shape: shapes.b },
  };
  return { layer, aJson, bJson };
}

/** A's starting values (seeded) and B's (zero): ΔW starts at exactly 0. */
export function initialFactors(layer: AdaptedLayer, rng: Rng): { a: Float32Array; b: Float32Array } {
  const a = new Float32Array(size(layer.a.shape));
  if (layer.className === 'Embedding') {
    const std = 1 / Math.sqrt(layer.rank);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  } else {
    const fanIn = size(layer.kernelShape.slice(0, -1));
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
  }
  return { a, b: new Float32Array(size(layer.b.shape)) };
}

/** W + scale · A·B in the kernel's shape (float32), for merging. */
export function mergedKernel(layer: AdaptedLayer, kernel: tf.Tensor, a: Float32Array, b: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const fan = size(layer.a.shape) / layer.rank;
    const delta = tf.matMul(tf.tensor2d(a, [fan, layer.rank]), tf.tensor2d(b, [layer.rank, size(layer.b.shape) / layer.rank]));
    return kernel.add(delta.mul(layer.scale).reshape(layer.kernelShape));
  });
}

export function size(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}
