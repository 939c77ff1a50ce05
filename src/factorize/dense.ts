/**
 * Dense: y = act(x·W + b) with W [in, out] becomes
 *   Dense(k, use_bias=false, linear)  (x·A, A = U_k √Σ_k)
 *   Dense(out, original bias and activation, original name)  (·B + b, B = √Σ_k V_kᵀ)
 * Both act on the last axis, so inputs of any rank ([batch, time, features] too) work as before.
 */
import type { LayerJson } from '../graph/topology.js';
import type { LayerFactorizer, LayerWeights } from './types.js';

/** Config keys that only make sense on the layer that receives the model's input. */
export const INPUT_KEYS = ['batch_input_shape', 'input_shape', 'input_dim', 'batch_size'];
const BIAS_KEYS = ['bias_initializer', 'bias_regularizer', 'bias_constraint'];

export const denseFactorizer: LayerFactorizer = {
  className: 'Dense',

  matrix(weights) {
    const kernel = weights[0];
    if (kernel === undefined || kernel.shape.length !== 2) throw new Error('Dense layer without a 2-D kernel');
    const [m, n] = kernel.shape as [number, number];
    return { values: kernel.values, m, n };
  },

  split(layer, rank, firstName) {
    const config = layer.config;
    const firstConfig: Record<string, unknown> = { ...config, name: firstName, units: rank, use_bias: false, activation: 'linear' };
    for (const key of [...BIAS_KEYS, 'activity_regularizer']) delete firstConfig[key];
    const secondConfig: Record<string, unknown> = { ...config };
    for (const key of INPUT_KEYS) delete secondConfig[key];
    // The low-rank inner layer should not be regularised as if it were the full kernel.
    delete firstConfig['kernel_regularizer'];
    return {
      first: { ...layer, config: { ...firstConfig, name: firstName } },
      second: { ...layer, config: { ...secondConfig, name: config.name } },
    };
  },

  weights(factors, original) {
    const kernel = original[0] as LayerWeights;
    const [m, n] = kernel.shape as [number, number];
    const first: LayerWeights[] = [{ values: factors.a, shape: [m, factors.rank] }];
    const second: LayerWeights[] = [{ values: factors.b, shape: [factors.rank, n] }, ...original.slice(1)];
    return { first, second };
  },
};
