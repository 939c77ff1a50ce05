/**
 * Conv2D: a kernel [kh, kw, cin, cout] is a (kh·kw·cin)×cout matrix in row-major order, because each
 * output channel is a dot product over one kh×kw×cin patch. Its rank-k factors become
 *   Conv2D(k filters, kh×kw, the original strides/padding/dilation, no bias, linear)
 *   Conv2D(cout, 1×1, the original bias and activation, original name)
 * All spatial work happens in the first; the second only mixes channels, so outputs match exactly at
 * full rank whatever the padding or strides.
 */
import type { LayerJson } from '../graph/topology.js';
import type { LayerFactorizer, LayerWeights } from './types.js';
import { INPUT_KEYS } from './dense.js';

const BIAS_KEYS = ['bias_initializer', 'bias_regularizer', 'bias_constraint'];

export const conv2dFactorizer: LayerFactorizer = {
  className: 'Conv2D',

  matrix(weights) {
    const kernel = weights[0];
    if (kernel === undefined || kernel.shape.length !== 4) throw new Error('Conv2D layer without a 4-D kernel');
    const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
    return { values: kernel.values, m: kh * kw * cin, n: cout };
  },

  split(layer: LayerJson, rank: number, firstName: string) {
    const config = layer.config;
    const first: Record<string, unknown> = { ...config, name: firstName, filters: rank, use_bias: false, activation: 'linear' };
    for (const key of [...BIAS_KEYS, 'activity_regularizer', 'kernel_regularizer']) delete first[key];
    const second: Record<string, unknown> = { ...config, kernel_size: [1, 1], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1] };
    for (const key of INPUT_KEYS) delete second[key];
    return {
      first: { ...layer, config: { ...first, name: firstName } },
      second: { ...layer, config: { ...second, name: config.name } },
    };
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
