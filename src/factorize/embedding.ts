/**
 * Embedding: a table [vocab, d] factorizes as [vocab, k]·[k, d], which is
 *   Embedding(vocab, k)            (looks up rows of A; keeps mask_zero and input_length)
 *   Dense(d, no bias, linear)      (·B; original name)
 * Dense supports masking, so a mask from mask_zero passes through to later layers as before. The
 * table's regularizer and constraint are the kernel's in graph/keras-format.ts's rule: on neither factor.
 */
import { EmbeddingConfigSchema, layerConfig, without } from '../graph/keras-format.js';
import type { LayerFactorizer, LayerWeights } from './types.js';

export const embeddingFactorizer: LayerFactorizer = {
  className: 'Embedding',
  matrix(weights) {
    const table = weights[0];
    if (table === undefined || table.shape.length !== 2) throw new Error('Embedding layer without a 2-D table');
    const [m, n] = table.shape as [number, number];
    return { values: table.values, m, n };
  },
  split(layer, rank, firstName) {
    const config = layerConfig(EmbeddingConfigSchema, layer);
    const first = { ...without(config, ['embeddings_regularizer', 'embeddings_constraint', 'activity_regularizer']), name: firstName, output_dim: rank };
    const second = {
      name: config.name,
      trainable: config['trainable'] ?? true,
      ...(config['dtype'] !== undefined ? { dtype: config['dtype'] } : {}),
      units: config.output_dim,
      activation: 'linear',
      use_bias: false,
      kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
      kernel_regularizer: null,
      kernel_constraint: null,
      activity_regularizer: config.activity_regularizer ?? null,
    };
    return { first: { ...layer, config: first }, second: { ...layer, class_name: 'Dense', config: second } };
  },
  weights(factors, original) {
    const table = original[0] as LayerWeights;
    const [vocab, d] = table.shape as [number, number];
    return {
      first: [{ values: factors.a, shape: [vocab, factors.rank] }],
      second: [{ values: factors.b, shape: [factors.rank, d] }],
    };
  },
};
