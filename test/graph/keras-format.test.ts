/**
 * The on-disk configs of the layers lowrank rewrites, and the one rule for what each factor keeps:
 * no kernel penalty on either factor, bias and output extras on the second, input keys on the first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conv2dFactorizer } from '../../src/factorize/conv2d.js';
import { denseFactorizer } from '../../src/factorize/dense.js';
import { embeddingFactorizer } from '../../src/factorize/embedding.js';
import type { LayerJson } from '../../src/graph/topology.js';
import { UnsupportedLayerError } from '../../src/errors.js';

const l2 = { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } };
const maxNorm = { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } };
const extras = {
  kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
  kernel_regularizer: l2,
  kernel_constraint: maxNorm,
  bias_initializer: { class_name: 'Zeros', config: {} },
  bias_regularizer: l2,
  bias_constraint: maxNorm,
  activity_regularizer: l2,
  batch_input_shape: [null, 64],
  trainable: true,
};

function keys(config: Record<string, unknown>): string[] {
  return Object.keys(config).sort();
}

describe('factor configs', () => {
  it('Dense: kernel penalties on neither factor, bias and activity extras on the second, input keys on the first', () => {
    const layer: LayerJson = { class_name: 'Dense', config: { name: 'd', units: 32, activation: 'relu', use_bias: true, ...extras } };
    const { first, second } = denseFactorizer.split(layer, 4, 'd_lowrank');
    for (const f of [first, second]) {
      assert.equal(f.config['kernel_regularizer'], undefined);
      assert.equal(f.config['kernel_constraint'], undefined);
    }
    assert.deepEqual(keys(first.config), ['activation', 'batch_input_shape', 'kernel_initializer', 'name', 'trainable', 'units', 'use_bias']);
    assert.deepEqual([first.config.name, first.config['units'], first.config['use_bias'], first.config['activation']], ['d_lowrank', 4, false, 'linear']);
    assert.deepEqual([second.config.name, second.config['units'], second.config['activation']], ['d', 32, 'relu']);
    for (const key of ['bias_initializer', 'bias_regularizer', 'bias_constraint', 'activity_regularizer']) assert.deepEqual(second.config[key], extras[key as keyof typeof extras]);
    assert.equal(second.config['batch_input_shape'], undefined);
    assert.equal(layer.config['kernel_regularizer'], l2, 'the input config is not changed');
  });

  it('Conv2D: the same rule; the second factor is a 1×1 convolution', () => {
    const layer: LayerJson = { class_name: 'Conv2D', config: { name: 'c', filters: 16, kernel_size: [3, 3], strides: [2, 2], padding: 'same', dilation_rate: [1, 1], ...extras } };
    const { first, second } = conv2dFactorizer.split(layer, 3, 'c_lowrank');
    for (const f of [first, second]) assert.equal(f.config['kernel_regularizer'] ?? f.config['kernel_constraint'], undefined);
    assert.deepEqual([first.config['filters'], first.config['kernel_size'], first.config['strides'], first.config['padding']], [3, [3, 3], [2, 2], 'same']);
    assert.deepEqual([second.config['filters'], second.config['kernel_size'], second.config['strides'], second.config['padding']], [16, [1, 1], [1, 1], 'valid']);
    assert.deepEqual(second.config['bias_constraint'], maxNorm);
    assert.equal(first.config['bias_constraint'], undefined);
  });

  it('Embedding: the table\'s penalties on neither factor, the activity regularizer on the Dense', () => {
    const layer: LayerJson = { class_name: 'Embedding', config: { name: 'e', input_dim: 100, output_dim: 8, embeddings_regularizer: l2, embeddings_constraint: maxNorm, activity_regularizer: l2, mask_zero: true } };
    const { first, second } = embeddingFactorizer.split(layer, 2, 'e_lowrank');
    assert.equal(first.config['embeddings_regularizer'] ?? first.config['embeddings_constraint'] ?? first.config['activity_regularizer'], undefined);
    assert.deepEqual([first.config['output_dim'], first.config['mask_zero']], [2, true]);
    assert.equal(second.class_name, 'Dense');
    assert.deepEqual([second.config['units'], second.config['kernel_regularizer'], second.config['kernel_constraint'], second.config['activity_regularizer']], [8, null, null, l2]);
  });

  it('a config that does not fit its schema names the layer', () => {
    const layer: LayerJson = { class_name: 'Dense', config: { name: 'broken', units: 'many' } };
    assert.throws(() => denseFactorizer.split(layer, 2, 'x'), (err: unknown) => err instanceof UnsupportedLayerError && /layer broken \(Dense\): units: /.test(err.message));
  });
});
