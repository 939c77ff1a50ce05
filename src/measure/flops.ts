/**
 * FLOPs per sample, counted from the layer shapes of a live model: 2 per multiply-add of the matrix
 * products and convolutions (Dense: 2·in·out; Conv2D: 2·kh·kw·cin·cout·H_out·W_out). Elementwise work
 * (biases, activations, normalization, pooling, merges) and embedding lookups count 0, as is usual
 * when comparing model cost; layers with matrix work we have no rule for are listed, not guessed.
 *
 * The count walks the model's graph node by node, so a layer shared by two branches counts twice and a
 * nested model counts its own layers. Shapes are propagated from concrete input shapes with each
 * layer's computeOutputShape, so a model whose input sizes are open (an image model of any size) is
 * counted at the sizes it is run at.
 */
import { tf } from '../tf.js';
import type { InputShapes } from '../train/tensors.js';

type Shape = ReadonlyArray<number | null>;

/** A layer the count leaves out, and why. */
export interface UncountedLayer {
  name: string;
  className: string;
  reason: string;
}

export interface FlopCount {
  /** FLOPs per sample of the counted layers. */
  flops: number;
  uncounted: UncountedLayer[];
}

/** Layers without multiply-adds of weights: shape changes, elementwise work, pooling, merges, lookups. */
const ZERO_FLOP_LAYERS = new Set([
  'InputLayer', 'Flatten', 'Reshape', 'Permute', 'RepeatVector', 'Masking',
  'Dropout', 'SpatialDropout1D', 'AlphaDropout', 'GaussianDropout', 'GaussianNoise',
  'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax',
  'Add', 'Average', 'Concatenate', 'Maximum', 'Minimum', 'Multiply',
  'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
  'ZeroPadding2D', 'Cropping2D', 'UpSampling2D',
  'BatchNormalization', 'LayerNormalization', 'Rescaling',
  'Embedding',
]);

/** Recurrent layers: 2 · (kernel + recurrent kernel sizes) per time step. */
const RECURRENT_LAYERS = new Set(['SimpleRNN', 'GRU', 'LSTM']);

/**
 * FLOPs per sample of `model` at `shapes` (the inputs' shapes without the batch dimension; when
 * omitted or null, the model's own input shapes, open sizes included).
 */
export function countFlops(model: tf.LayersModel, shapes?: InputShapes | null): FlopCount {
  const inputs: readonly Shape[] = shapes ?? model.inputs.map((t) => t.shape.slice(1));
  const result: FlopCount = { flops: 0, uncounted: [] };
  walk(model, inputs, '', result);
  return result;
}

/** Count `model`'s graph at `inputs`; returns the shapes of its outputs. */
function walk(model: tf.LayersModel, inputs: readonly Shape[], prefix: string, result: FlopCount): Shape[] {
  // Shapes by symbolic tensor id, batch dimension 1. Nodes whose inputs are not in this map belong to
  // another graph (a nested model's own construction, say) and are skipped.
  const known = new Map<number, Shape>();
  model.inputs.forEach((t, i) => known.set(t.id, [1, ...(inputs[i] ?? t.shape.slice(1))]));
  for (const layer of model.layers) {
    const name = prefix + layer.name;
    for (const node of layer.inboundNodes) {
      const ins = node.inputTensors.map((t) => known.get(t.id));
      if (ins.some((s) => s === undefined)) continue;
      const inShapes = ins as Shape[];
      let outShapes: Shape[];
      if (layer instanceof tf.LayersModel) {
        outShapes = walk(layer, inShapes.map((s) => s.slice(1)), `${name}/`, result);
      } else {
        outShapes = outputShapes(layer, inShapes, node.outputShapes);
        const flops = layerFlops(layer, inShapes, outShapes);
        if (typeof flops === 'number') result.flops += flops;
        else if (!result.uncounted.some((u) => u.name === name)) result.uncounted.push({ name, className: layer.getClassName(), reason: flops.reason });
      }
      node.outputTensors.forEach((t, i) => known.set(t.id, outShapes[i] ?? t.shape));
    }
  }
  return model.outputs.map((t) => known.get(t.id) ?? t.shape);
}

function outputShapes(layer: tf.layers.Layer, ins: Shape[], declared: tf.Shape | tf.Shape[]): Shape[] {
  if (layer.getClassName() === 'InputLayer') return ins;
  try {
    const out = layer.computeOutputShape((ins.length === 1 ? ins[0] : ins) as tf.Shape | tf.Shape[]);
    return Array.isArray(out[0]) || out.length === 0 ? (out as tf.Shape[]) : [out as tf.Shape];
  } catch {
    // Fall back to the shapes recorded when the model was built (open sizes stay open).
    const list = Array.isArray(declared[0]) ? (declared as tf.Shape[]) : [declared as tf.Shape];
    return list.map((s) => [1, ...s.slice(1)]);
  }
}

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** A layer's weight shapes by their last name part (kernel, recurrent_kernel, depthwise_kernel, ...). */
function weightShape(layer: tf.layers.Layer, kind: string): number[] | undefined {
  const w = layer.weights.find((v) => v.originalName.split('/').pop() === kind);
  return w?.shape.map((d) => d ?? 0);
}

/** Sizes of the dimensions other than batch and channels, or null when one is open. */
function spatial(shape: Shape, channelsFirst: boolean): number[] | null {
  const dims = channelsFirst ? shape.slice(2) : shape.slice(1, -1);
  return dims.some((d) => d === null) ? null : (dims as number[]);
}

function layerFlops(layer: tf.layers.Layer, ins: Shape[], outs: Shape[]): number | { reason: string } {
  const cls = layer.getClassName();
  if (ZERO_FLOP_LAYERS.has(cls)) return 0;
  const config = layer.getConfig();
  const channelsFirst = config['dataFormat'] === 'channelsFirst';
  const input = ins[0] ?? [];
  const output = outs[0] ?? [];
  const open = { reason: 'open input size' };
  switch (cls) {
    case 'Dense': {
      const kernel = weightShape(layer, 'kernel');
      // A Dense on [batch, ..., in] applies the same matrix at every leading position.
      const positions = input.slice(1, -1);
      if (kernel === undefined) return { reason: 'no kernel' };
      if (positions.some((d) => d === null)) return open;
      return 2 * product(kernel) * product(positions as number[]);
    }
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D': {
      const kernel = weightShape(layer, 'kernel');
      const at = spatial(output, channelsFirst);
      if (kernel === undefined) return { reason: 'no kernel' };
      return at === null ? open : 2 * product(kernel) * product(at);
    }
    case 'Conv2DTranspose': {
      // Each input position scatters kh·kw·cin·cout multiply-adds.
      const kernel = weightShape(layer, 'kernel');
      const at = spatial(input, channelsFirst);
      if (kernel === undefined) return { reason: 'no kernel' };
      return at === null ? open : 2 * product(kernel) * product(at);
    }
    case 'DepthwiseConv2D': {
      const kernel = weightShape(layer, 'depthwise_kernel');
      const at = spatial(output, channelsFirst);
      if (kernel === undefined) return { reason: 'no kernel' };
      return at === null ? open : 2 * product(kernel) * product(at);
    }
    case 'SeparableConv1D':
    case 'SeparableConv2D': {
      const depthwise = weightShape(layer, 'depthwise_kernel');
      const pointwise = weightShape(layer, 'pointwise_kernel');
      const at = spatial(output, channelsFirst);
      if (depthwise === undefined || pointwise === undefined) return { reason: 'no kernel' };
      return at === null ? open : 2 * (product(depthwise) + product(pointwise)) * product(at);
    }
    default:
      if (RECURRENT_LAYERS.has(cls)) {
        const kernel = weightShape(layer, 'kernel');
        const recurrent = weightShape(layer, 'recurrent_kernel');
        const steps = input[1];
        if (kernel === undefined || recurrent === undefined) return { reason: 'no kernel' };
        if (steps === null || steps === undefined) return { reason: 'open number of time steps' };
        return 2 * (product(kernel) + product(recurrent)) * steps;
      }
      return { reason: `no FLOP rule for ${cls}` };
  }
}
