/**
 * Conv2D: a kernel [kh, kw, cin, cout] is a (kh·kw·cin)×cout matrix in row-major order, because each
 * output channel is a dot product over one kh×kw×cin patch. Its rank-k factors become
 *   Conv2D(k filters, kh×kw, the original strides/padding/dilation, no bias, linear)
 *   Conv2D(cout, 1×1, the original bias and activation, original name)
 * All spatial work happens in the first; the second only mixes channels, so outputs match exactly at
 * full rank whatever the padding or strides. What each factor keeps of the original's config follows
 * the rule in graph/keras-format.ts.
 */
import { BIAS_AND_OUTPUT_KEYS, Conv2DConfigSchema, INPUT_KEYS, KERNEL_PENALTIES, layerConfig, without } from '../graph/keras-format.js';
import type { LayerFactorizer, LayerWeights } from './types.js';

export const conv2dFactorizer: LayerFactorizer = {
  className: 'Conv2D',
  matrix(weights) {
    const kernel = weights[0];
    if (kernel === undefined || kernel.shape.length !== 4) throw new Error('Conv2D layer without a 4-D kernel');
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    return { values: kernel.values, m: kh * kw * cin, n: cout };
  },
  split(layer, rank, firstName) {
    const config = layerConfig(Conv2DConfigSchema, layer);
    const first = { ...without(config, [...KERNEL_PENALTIES, ...BIAS_AND_OUTPUT_KEYS]), name: firstName, filters: rank, use_bias: false, activation: 'linear' };
    const second = {
      ...without(config, [...KERNEL_PENALTIES, ...INPUT_KEYS]),
      name: config.name,
      kernel_size: [1, 1],
      strides: [1, 1],
      padding: 'valid',
      dilation_rate: [1, 1],
    };
    return { first: { ...layer, config: first }, second: { ...layer, config: second } };
  },
  weights(factors, original) {
    const kernel = original[0] as LayerWeights;
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    return {
      first: [{ values: factors.a, shape: [kh, kw, cin, factors.rank] }],
      second: [{ values: factors.b, shape: [1, 1, factors.rank, cout] }, ...original.slice(1)],
    };
  },
};
