/**
 * Dense: y = act(x·W + b) with W [in, out] becomes
 *   Dense(k, use_bias=false, linear)  (x·A, A = U_k √Σ_k)
 *   Dense(out, original bias and activation, original name)  (·B + b, B = √Σ_k V_kᵀ)
 * Both act on the last axis, so inputs of any rank ([batch, time, features] too) work as before.
 * What each factor keeps of the original's config follows the rule in graph/keras-format.ts.
 */
import { BIAS_AND_OUTPUT_KEYS, DenseConfigSchema, INPUT_KEYS, KERNEL_PENALTIES, layerConfig, without } from '../graph/keras-format.js';
import type { LayerFactorizer, LayerWeights } from './types.js';

export const denseFactorizer: LayerFactorizer = {
  className: 'Dense',
  matrix(weights) {
    const kernel = weights[0];
    if (kernel === undefined || kernel.shape.length !== 2) throw new Error('Dense layer without a 2-D kernel');
    const [m, n] = kernel.shape as [number, number];
    return { values: kernel.values, m, n };
  },
  split(layer, rank, firstName) {
    const config = layerConfig(DenseConfigSchema, layer);
    const first = { ...without(config, [...KERNEL_PENALTIES, ...BIAS_AND_OUTPUT_KEYS]), name: firstName, units: rank, use_bias: false, activation: 'linear' };
    const second = { ...without(config, [...KERNEL_PENALTIES, ...INPUT_KEYS]), name: config.name };
    return { first: { ...layer, config: first }, second: { ...layer, config: second } };
  },
  weights(factors, original) {
    const kernel = original[0] as LayerWeights;
    const [m, n] = kernel.shape as [number, number];
    const first: LayerWeights[] = [{ values: factors.a, shape: [m, factors.rank] }];
    const second: LayerWeights[] = [{ values: factors.b, shape: [factors.rank, n] }, ...original.slice(1)];
    return { first, second };
  },
};
