/**
 * Reading the Keras 3 form of model.json: one test per construct the converter writes for TF ≥ 2.16
 * (issue 15's list), each on a tiny model built here in that form, loaded through loadModel and
 * checked for what tfjs built from it (shapes, weights in the right places, predictions).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelFormatError, UnsupportedLayerError } from '../../src/errors.js';
import { loadModel, type OpenedModel } from '../../src/io/index.js';
import { matchWeightNames, normalizeTopology, type Change } from '../../src/io/keras3.js';
import { tfjsClassLookup } from '../../src/io/layers-model.js';
import { tf } from '../../src/tf.js';
import { FIXTURES, randomFloat32, useTempDirAndLeakCheck } from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();

type Json = Record<string, unknown>;

// The Keras 3 serialization, as `serialize_keras_object` and `Functional.get_config` write it.
const policy = (name = 'float32'): Json => ({ module: 'keras', class_name: 'DTypePolicy', config: { name }, registered_name: null });
const init = (className: string, config: Json = {}): Json => ({ module: 'keras.initializers', class_name: className, config, registered_name: null });
function layer(className: string, config: Json, extra: Json = {}): Json {
  return { module: 'keras.layers', class_name: className, config: { trainable: true, dtype: policy(), ...config }, registered_name: null, ...extra };
}
function dense(name: string, units: number, extra: Json = {}, config: Json = {}): Json {
  return layer(
    'Dense',
    {
      name,
      units,
      activation: 'linear',
      use_bias: true,
      kernel_initializer: init('GlorotUniform', { seed: null }),
      bias_initializer: init('Zeros'),
      kernel_regularizer: null,
      bias_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      ...config,
    },
    extra,
  );
}
const inputLayer = (name: string, batchShape: Array<number | null>): Json => ({
  module: 'keras.layers',
  class_name: 'InputLayer',
  config: { batch_shape: batchShape, dtype: 'float32', sparse: false, name },
  registered_name: null,
  name,
  inbound_nodes: [],
});
const tensor = (layerName: string, node = 0, index = 0): Json => ({
  class_name: '__keras_tensor__',
  config: { shape: null, dtype: 'float32', keras_history: [layerName, node, index] },
});
const call = (args: unknown[], kwargs: Json = {}): Json => ({ args, kwargs });
const COMPILE_CONFIG = { optimizer: init('Adam', { learning_rate: 0.001 }), loss: 'mean_squared_error', metrics: null };

function functional(name: string, layers: Json[], inputs: unknown, outputs: unknown): Json {
  return {
    module: 'keras.src.models.functional',
    class_name: 'Functional',
    config: { name, trainable: true, layers, input_layers: inputs, output_layers: outputs },
    registered_name: 'Functional',
    build_config: { input_shape: null },
    compile_config: COMPILE_CONFIG,
    keras_version: '3.3.3',
    backend: 'tensorflow',
  };
}

function sequential(name: string, layers: Json[], extra: Json = {}): Json {
  return {
    module: 'keras',
    class_name: 'Sequential',
    config: { name, trainable: true, dtype: policy(), layers },
    registered_name: null,
    compile_config: COMPILE_CONFIG,
    keras_version: '3.3.3',
    backend: 'tensorflow',
    ...extra,
  };
}

/** A weight to store: its manifest name, shape and seeded values. */
interface Weight {
  name: string;
  shape: number[];
  values: Float32Array;
}

function weight(name: string, shape: number[], seed: number): Weight {
  return { name, shape, values: randomFloat32(shape.reduce((a, b) => a * b, 1), seed) };
}

let folders = 0;
/** Write model.json + one shard into a fresh folder and return model.json's path. */
async function writeModel(topology: Json, weights: readonly Weight[]): Promise<string> {
  const dir = path.join(tempDir(), `model-${++folders}`);
  await mkdir(dir);
  const bytes = Buffer.concat(weights.map((w) => Buffer.from(w.values.buffer, w.values.byteOffset, w.values.byteLength)));
  await writeFile(path.join(dir, 'group1-shard1of1.bin'), bytes);
  const manifest = [{ paths: ['group1-shard1of1.bin'], weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }];
  await writeFile(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
  return path.join(dir, 'model.json');
}

/** Load, run `check` on the opened model, and free it. */
async function withModel(file: string, check: (opened: OpenedModel) => void | Promise<void>): Promise<void> {
  const opened = await loadModel(file);
  try {
    await check(opened);
  } finally {
    opened.model.dispose();
  }
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

function assertSameValues(actual: tf.Tensor, expected: Float32Array, what: string): void {
  assert.deepEqual(Array.from(values(actual)), Array.from(expected), what);
}

/** Any key named like a Keras 3-only field, anywhere in the JSON. */
function keras3Keys(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keras3Keys(v, found));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (['module', 'registered_name', 'build_config', 'compile_config', 'batch_shape', '__keras_tensor__'].includes(k)) found.push(k);
      if (v === '__keras_tensor__' || v === 'DTypePolicy') found.push(String(v));
      keras3Keys(v, found);
    }
  }
  return found;
}

const details = (changes: readonly Change[]): string[] => changes.map((c) => `${c.layer ?? '-'}: ${c.detail}`);

/** A two-Dense functional model on a [3] input, weights named as `names` says. */
async function twoDense(names: (layer: string, weight: string) => string): Promise<{ file: string; weights: Weight[] }> {
  const topology = functional(
    'functional',
    [inputLayer('input_layer', [null, 3]), dense('dense', 4, { name: 'dense', inbound_nodes: [call([tensor('input_layer')])] }), dense('dense_1', 2, { name: 'dense_1', inbound_nodes: [call([tensor('dense')])] })],
    [['input_layer', 0, 0]],
    [['dense_1', 0, 0]],
  );
  const weights = [
    weight(names('dense', 'kernel'), [3, 4], 1),
    weight(names('dense', 'bias'), [4], 2),
    weight(names('dense_1', 'kernel'), [4, 2], 3),
    weight(names('dense_1', 'bias'), [2], 4),
  ];
  return { file: await writeModel(topology, weights), weights };
}

/** Each stored weight is where its layer's Dense kernel/bias is (weights in the order twoDense writes them). */
function assertWeightsInPlace(model: tf.LayersModel, weights: readonly Weight[]): void {
  const live = ['dense', 'dense_1'].flatMap((name) => model.getLayer(name).getWeights());
  live.forEach((t, i) => assertSameValues(t, (weights[i] as Weight).values, `weight ${i} (${(weights[i] as Weight).name})`));
}

describe('Keras 3 InputLayer', () => {
  it('batch_shape becomes batch_input_shape, and the model takes that shape', async () => {
    const { file } = await twoDense((l, w) => `${l}/${w}`);
    await withModel(file, ({ model, stored }) => {
      assert.deepEqual(model.inputs[0]?.shape, [null, 3]);
      assert.ok(details(stored.conversion.changes).includes('input_layer: InputLayer batch_shape → batch_input_shape'));
    });
  });

  it('shape (with batch_size) becomes batch_input_shape', () => {
    const topology = functional('f', [{ ...inputLayer('in', [null, 3]), config: { shape: [5, 3], batch_size: 8, dtype: 'float32', sparse: false, name: 'in' } }], [['in', 0, 0]], [['in', 0, 0]]);
    const { topology: out } = normalizeTopology('m.json', topology);
    const config = ((out['config'] as Json)['layers'] as Json[])[0]?.['config'] as Json;
    assert.deepEqual(config['batch_input_shape'], [8, 5, 3]);
    assert.equal('shape' in config || 'batch_size' in config, false, 'tfjs refuses batch_size next to batch_input_shape');
  });

  it('sparse or ragged inputs are refused, naming the layer', () => {
    for (const flag of ['sparse', 'ragged']) {
      const bad = functional('f', [{ ...inputLayer('tokens', [null, 3]), config: { batch_shape: [null, 3], [flag]: true, name: 'tokens' } }], [['tokens', 0, 0]], [['tokens', 0, 0]]);
      assert.throws(() => normalizeTopology('m.json', bad), (err: unknown) => err instanceof UnsupportedLayerError && err.message.includes('"tokens"') && err.message.includes(flag));
    }
  });
});

describe('Keras 3 Sequential', () => {
  const weights = [weight('dense/kernel', [3, 2], 5), weight('dense/bias', [2], 6)];

  it('with an InputLayer first loads with its shape', async () => {
    const file = await writeModel(sequential('sequential', [inputLayer('input_layer', [null, 3]), dense('dense', 2)]), weights);
    await withModel(file, ({ model }) => {
      assert.deepEqual(model.inputs[0]?.shape, [null, 3]);
      assertSameValues(model.getLayer('dense').getWeights()[0] as tf.Tensor, (weights[0] as Weight).values, 'kernel');
    });
  });

  it('with the input shape only in the first layer\'s build_config loads with that shape', async () => {
    const file = await writeModel(sequential('sequential', [dense('dense', 2, { build_config: { input_shape: [null, 3] } })]), weights);
    await withModel(file, ({ model, stored }) => {
      assert.deepEqual(model.inputs[0]?.shape, [null, 3]);
      assert.ok(details(stored.conversion.changes).some((d) => d === 'dense: input shape [null, 3] from the first layer\'s build_config → batch_input_shape'));
    });
  });

  it('with the input shape only in the model\'s build_config or build_input_shape loads with that shape', async () => {
    const viaBuildConfig = sequential('sequential', [dense('dense', 2)], { build_config: { input_shape: [null, 3] } });
    const viaBuildInputShape = sequential('sequential', [dense('dense', 2)]);
    (viaBuildInputShape['config'] as Json)['build_input_shape'] = [null, 3];
    for (const topology of [viaBuildConfig, viaBuildInputShape]) {
      await withModel(await writeModel(topology, weights), ({ model }) => assert.deepEqual(model.inputs[0]?.shape, [null, 3]));
    }
  });
});

describe('Keras 3 dtype policies', () => {
  it('a DTypePolicy object becomes its dtype name', async () => {
    const { file } = await twoDense((l, w) => `${l}/${w}`);
    await withModel(file, ({ model, stored }) => {
      const layers = (stored.json.modelTopology['config'] as Json)['layers'] as Json[];
      assert.deepEqual(layers.map((l) => (l['config'] as Json)['dtype']), ['float32', 'float32', 'float32']);
      assert.equal((model.getLayer('dense').output as tf.SymbolicTensor).dtype, 'float32');
      assert.ok(details(stored.conversion.changes).includes('dense: dtype policy "float32" → "float32"'));
    });
  });

  it('mixed precision (mixed_float16, mixed_bfloat16) runs in float32, and says so', () => {
    for (const name of ['mixed_float16', 'mixed_bfloat16']) {
      const topology = sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2, {}, { dtype: policy(name) })]);
      const { topology: out, changes } = normalizeTopology('m.json', topology);
      const config = ((out['config'] as Json)['layers'] as Json[])[1]?.['config'] as Json;
      assert.equal(config['dtype'], 'float32');
      const change = changes.find((c) => c.layer === 'dense' && c.kind === 'dtype');
      assert.match(change?.detail ?? '', new RegExp(`^dtype policy "${name}" → "float32" \\(mixed precision`));
    }
  });

  it('a mixed_float16 model predicts what the same model in float32 predicts', async () => {
    const weights = [weight('dense/kernel', [3, 2], 7), weight('dense/bias', [2], 8)];
    const mixed = await writeModel(sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2, {}, { dtype: policy('mixed_float16') })]), weights);
    const plain = await writeModel(sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2)]), weights);
    const x = tf.tensor2d(randomFloat32(12, 9), [4, 3]);
    const a = await loadModel(mixed);
    const b = await loadModel(plain);
    try {
      const [pa, pb] = [a.model.predict(x) as tf.Tensor, b.model.predict(x) as tf.Tensor];
      assert.deepEqual(Array.from(values(pa)), Array.from(values(pb)));
      tf.dispose([pa, pb]);
    } finally {
      tf.dispose(x);
      a.model.dispose();
      b.model.dispose();
    }
  });

  it('a quantized dtype policy is refused, naming the layer', () => {
    const quantized = { module: 'keras', class_name: 'QuantizedDTypePolicy', config: { mode: 'int8', source_name: 'float32' }, registered_name: null };
    const topology = sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2, {}, { dtype: quantized })]);
    assert.throws(() => normalizeTopology('m.json', topology), (err: unknown) => err instanceof UnsupportedLayerError && /"dense".*quantized/.test(err.message));
  });

  it('integer and 64-bit dtype names become the tfjs dtype', () => {
    const topology = functional('f', [{ ...inputLayer('ids', [null, 3]), config: { batch_shape: [null, 3], dtype: 'int64', name: 'ids' } }], [['ids', 0, 0]], [['ids', 0, 0]]);
    const { topology: out } = normalizeTopology('m.json', topology);
    assert.equal((((out['config'] as Json)['layers'] as Json[])[0]?.['config'] as Json)['dtype'], 'int32');
  });
});

describe('Keras 3 serialization fields and classes', () => {
  it('module, registered_name, build_config and compile_config are gone from the topology, which loads', async () => {
    const { file } = await twoDense((l, w) => `${l}/${w}`);
    await withModel(file, ({ stored }) => {
      assert.deepEqual(keras3Keys(stored.json.modelTopology), []);
      const kinds = stored.conversion.changes.filter((c) => c.kind === 'keras3-fields').map((c) => c.detail);
      assert.ok(kinds.some((d) => /^module, registered_name, build_config removed \(\d+ objects\)$/.test(d)), kinds.join('; '));
      assert.ok(kinds.includes('compile_config removed (training settings tfjs does not read)'));
    });
  });

  it('class Functional is kept (tfjs has it), and the model loads as a functional model', async () => {
    const { file } = await twoDense((l, w) => `${l}/${w}`);
    await withModel(file, ({ model, stored }) => {
      assert.equal(stored.json.modelTopology['class_name'], 'Functional');
      assert.ok(!(model instanceof tf.Sequential));
      assert.deepEqual(model.outputLayers.map((l) => l.name), ['dense_1']);
    });
  });

  it('initializers, regularizers and activations Keras 3 names differently load as their tfjs equivalents', async () => {
    const config = {
      activation: 'silu',
      kernel_initializer: init('LecunNormal', { seed: 3 }),
      bias_initializer: init('VarianceScaling', { scale: 1, mode: 'fan_in', distribution: 'untruncated_normal', seed: null }),
      kernel_regularizer: { module: 'keras.regularizers', class_name: 'L2', config: { l2: 0.02 }, registered_name: null },
    };
    const topology = sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2, {}, config)]);
    const weights = [weight('dense/kernel', [3, 2], 10), weight('dense/bias', [2], 11)];
    await withModel(await writeModel(topology, weights), ({ model, stored }) => {
      const layerConfig = model.getLayer('dense').getConfig();
      assert.equal(layerConfig['activation'], 'swish');
      assert.deepEqual((layerConfig['kernelRegularizer'] as Json)['config'], { l1: 0, l2: 0.02 });
      const stored0 = ((stored.json.modelTopology['config'] as Json)['layers'] as Json[])[1]?.['config'] as Json;
      assert.deepEqual(stored0['kernel_initializer'], { class_name: 'LeCunNormal', config: { seed: 3 } });
      assert.deepEqual(
        stored.conversion.changes.filter((c) => ['activation', 'initializer', 'regularizer'].includes(c.kind)).map((c) => c.detail).sort(),
        ['activation silu → swish', 'bias_initializer distribution untruncated_normal → normal', 'kernel_initializer LecunNormal → LeCunNormal', 'kernel_regularizer L2 → L1L2'],
      );
    });
  });

  it('LeakyReLU negative_slope becomes alpha, and the slope is the one Keras 3 stored', async () => {
    const topology = sequential('s', [inputLayer('in', [null, 2]), layer('LeakyReLU', { name: 'leaky', negative_slope: 0.1 })]);
    await withModel(await writeModel(topology, []), ({ model }) => {
      const x = tf.tensor2d([[-2, 3]]);
      const y = model.predict(x) as tf.Tensor;
      assert.deepEqual(Array.from(values(y)), [Math.fround(-0.2), 3]);
      tf.dispose([x, y]);
    });
  });

  it('Keras 3 options tfjs does not know, at their defaults, load and leave the layer as tfjs would build it', async () => {
    const input = { ...inputLayer('tokens', [null, 4]), config: { batch_shape: [null, 4], dtype: 'float32', sparse: false, ragged: false, optional: false, name: 'tokens' } };
    const embedding = layer('Embedding', { name: 'embed', input_dim: 10, output_dim: 3, embeddings_initializer: init('RandomUniform', { minval: -0.05, maxval: 0.05, seed: null }), mask_zero: false, lora_rank: null }, { name: 'embed', inbound_nodes: [call([tensor('tokens')])] });
    const norm = layer('BatchNormalization', { name: 'norm', axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true, synchronized: false }, { name: 'norm', inbound_nodes: [call([tensor('embed')], { training: false })] });
    const drop = layer('Dropout', { name: 'drop', rate: 0.5, seed: 7, noise_shape: null }, { name: 'drop', inbound_nodes: [call([tensor('norm')])] });
    const pool = layer('GlobalAveragePooling1D', { name: 'pool', data_format: 'channels_last', keepdims: false }, { name: 'pool', inbound_nodes: [call([tensor('drop')], { mask: null })] });
    const topology = functional('f', [input, embedding, norm, drop, pool], [['tokens', 0, 0]], [['pool', 0, 0]]);
    const weights = [
      weight('embed/embeddings', [10, 3], 21),
      ...['gamma', 'beta', 'moving_mean'].map((w, i) => weight(`norm/${w}`, [3], 22 + i)),
      { name: 'norm/moving_variance', shape: [3], values: Float32Array.from([1, 2, 4]) },
    ];
    await withModel(await writeModel(topology, weights), ({ model }) => {
      const x = tf.tensor2d([[1, 2, 3, 0]]);
      const y = model.predict(x) as tf.Tensor;
      // Inference: dropout off, batch norm with the stored statistics, then the mean over the 4 tokens.
      const [table, gamma, beta, mean, variance] = weights.map((w) => Array.from(w.values)) as number[][] as [number[], number[], number[], number[], number[]];
      const expected = [0, 1, 2].map((j) => {
        let sum = 0;
        for (const token of [1, 2, 3, 0]) {
          const v = table[token * 3 + j] as number;
          sum += ((v - (mean[j] as number)) / Math.sqrt((variance[j] as number) + 0.001)) * (gamma[j] as number) + (beta[j] as number);
        }
        return sum / 4;
      });
      const actual = Array.from(values(y));
      actual.forEach((v, j) => assert.ok(Math.abs(v - (expected[j] as number)) < 1e-5, `output ${j}: ${v} vs ${expected[j]}`));
      tf.dispose([x, y]);
    });
  });

  it('options with no TF.js equivalent are refused, naming layer and option', () => {
    const cases: Array<[Json, RegExp]> = [
      [layer('GRU', { name: 'gru', units: 4, reset_after: true }), /layer "gru" \(GRU\): reset_after=true/],
      [layer('ReLU', { name: 'relu', max_value: null, negative_slope: 0.1, threshold: 0 }), /layer "relu" \(ReLU\): negative_slope=0.1/],
      [layer('Conv2D', { name: 'conv', filters: 4, kernel_size: [3, 3], groups: 2 }), /layer "conv" \(Conv2D\): groups=2/],
      [dense('dense', 2, {}, { lora_rank: 4 }), /layer "dense" \(Dense\): lora_rank=4/],
    ];
    for (const [bad, message] of cases) {
      assert.throws(() => normalizeTopology('m.json', sequential('s', [inputLayer('in', [null, 3]), bad])), (err: unknown) => err instanceof UnsupportedLayerError && message.test(err.message));
    }
  });

  it('a Keras 3 layer class tfjs does not have is refused, naming the layer and the class', async () => {
    const attention = layer('MultiHeadAttention', { name: 'attention', num_heads: 2, key_dim: 4 }, { name: 'attention', inbound_nodes: [call([tensor('in'), tensor('in')])] });
    const topology = functional('f', [inputLayer('in', [null, 5, 4]), attention], [['in', 0, 0]], [['attention', 0, 0]]);
    const file = await writeModel(topology, []);
    await assert.rejects(loadModel(file), (err: unknown) => {
      assert.ok(err instanceof UnsupportedLayerError, String(err));
      assert.equal(err.message, 'layer "attention" is a MultiHeadAttention, a Keras 3 layer TF.js has no implementation of');
      assert.equal(err.exitCode, 2);
      return true;
    });
  });

  it('Keras 3\'s Identity layer is refused too, though tfjs has an initializer of that name', () => {
    const identity = layer('Identity', { name: 'same' }, { name: 'same', inbound_nodes: [call([tensor('in')])] });
    const topology = functional('f', [inputLayer('in', [null, 3]), identity], [['in', 0, 0]], [['same', 0, 0]]);
    assert.throws(() => normalizeTopology('m.json', topology, { lookup: tfjsClassLookup }), /layer "same" is a Identity, a Keras 3 layer TF.js has no implementation of/);
  });

  it('a custom layer is named with the name it was registered under', () => {
    const custom = { ...layer('Scale', { name: 'scale' }), registered_name: 'my_package>Scale', name: 'scale', inbound_nodes: [call([tensor('in')])] };
    const topology = functional('f', [inputLayer('in', [null, 3]), custom], [['in', 0, 0]], [['scale', 0, 0]]);
    assert.throws(() => normalizeTopology('m.json', topology, { lookup: tfjsClassLookup }), /layer "scale" is the custom class Scale \(registered as "my_package>Scale"\)/);
  });

  it('an activation tfjs does not have is refused, naming it', () => {
    const topology = sequential('s', [inputLayer('in', [null, 3]), dense('dense', 2, {}, { activation: 'leaky_relu' })]);
    assert.throws(() => normalizeTopology('m.json', topology, { lookup: tfjsClassLookup }), /layer "dense": activation "leaky_relu" has no TF.js implementation/);
  });
});

describe('Keras 3 call records', () => {
  it('__keras_tensor__ arguments become node arrays, with the call\'s keyword arguments', () => {
    const dropout = layer('Dropout', { name: 'drop', rate: 0.5, seed: null, noise_shape: null }, { name: 'drop', inbound_nodes: [call([tensor('in')], { training: false, mask: null })] });
    const topology = functional('f', [inputLayer('in', [null, 3]), dropout], [['in', 0, 0]], [['drop', 0, 0]]);
    const { topology: out, changes } = normalizeTopology('m.json', topology);
    const nodes = ((out['config'] as Json)['layers'] as Json[])[1]?.['inbound_nodes'];
    // mask: null is the default, so it goes; training: false is what Keras passed and stays.
    assert.deepEqual(nodes, [[['in', 0, 0, { training: false }]]]);
    assert.ok(details(changes).includes('drop: inbound_nodes {args, kwargs} → node arrays'));
  });

  it('a layer called twice has two nodes, each pointing at the right call', async () => {
    const shared = dense('shared', 3, { name: 'shared', inbound_nodes: [call([tensor('a')]), call([tensor('b')])] });
    const add = layer('Add', { name: 'add' }, { name: 'add', inbound_nodes: [call([[tensor('shared', 0), tensor('shared', 1)]])] });
    const topology = functional('f', [inputLayer('a', [null, 3]), inputLayer('b', [null, 3]), shared, add], [['a', 0, 0], ['b', 0, 0]], [['add', 0, 0]]);
    const weights = [weight('shared/kernel', [3, 3], 12), weight('shared/bias', [3], 13)];
    const opened = await loadModel(await writeModel(topology, weights));
    const { model } = opened;
    try {
      const [a, b] = [tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[0, 1, 0]])];
      const y = model.predict([a, b]) as tf.Tensor;
      // shared(a) + shared(b) = (a + b)·W + 2b
      const w = (weights[0] as Weight).values;
      const bias = (weights[1] as Weight).values;
      const expected = [0, 1, 2].map((j) => Math.fround(Math.fround((w[j] as number) + (bias[j] as number)) + Math.fround((w[3 + j] as number) + (bias[j] as number))));
      assert.deepEqual(Array.from(values(y)), expected);
      tf.dispose([a, b, y]);
    } finally {
      model.dispose();
      // tfjs counts one reference per call of a layer but drops one per model.dispose(): free the second.
      model.getLayer('shared').dispose();
    }
  });

  it('a merge layer\'s one list argument becomes one node of all its inputs, and the merge computes on them', async () => {
    const left = dense('left', 2, { name: 'left', inbound_nodes: [call([tensor('in')])] });
    const right = dense('right', 2, { name: 'right', inbound_nodes: [call([tensor('in')])] });
    const concat = layer('Concatenate', { name: 'concat', axis: -1 }, { name: 'concat', inbound_nodes: [call([[tensor('left'), tensor('right')]])] });
    const topology = functional('f', [inputLayer('in', [null, 3]), left, right, concat], [['in', 0, 0]], [['concat', 0, 0]]);
    const weights = [weight('left/kernel', [3, 2], 14), weight('left/bias', [2], 15), weight('right/kernel', [3, 2], 16), weight('right/bias', [2], 17)];
    await withModel(await writeModel(topology, weights), ({ model, stored }) => {
      const layers = (stored.json.modelTopology['config'] as Json)['layers'] as Json[];
      assert.deepEqual(layers[3]?.['inbound_nodes'], [[['left', 0, 0, {}], ['right', 0, 0, {}]]]);
      assert.ok(details(stored.conversion.changes).includes('concat: one list argument of 2 tensors → 2 node inputs'));
      const x = tf.tensor2d([[1, 2, 3]]);
      const y = model.predict(x) as tf.Tensor;
      const l = model.getLayer('left').apply(x) as tf.Tensor;
      const r = model.getLayer('right').apply(x) as tf.Tensor;
      assert.deepEqual(Array.from(values(y)), [...values(l), ...values(r)]);
      tf.dispose([x, y, l, r]);
    });
  });

  it('a mask passed as a tensor is dropped (tfjs propagates masks); any other tensor argument is refused', () => {
    const masked = (kwargs: Json): Json =>
      functional('f', [inputLayer('in', [null, 3]), dense('dense', 2, { name: 'dense', inbound_nodes: [call([tensor('in')], kwargs)] })], [['in', 0, 0]], [['dense', 0, 0]]);
    const { topology, changes } = normalizeTopology('m.json', masked({ mask: tensor('in') }));
    assert.deepEqual(((topology['config'] as Json)['layers'] as Json[])[1]?.['inbound_nodes'], [[['in', 0, 0, {}]]]);
    assert.ok(details(changes).includes('dense: mask argument dropped (TF.js passes masks along from the inputs)'));
    assert.throws(() => normalizeTopology('m.json', masked({ initial_state: tensor('in') })), (err: unknown) => err instanceof UnsupportedLayerError && /passes a tensor as "initial_state"/.test(err.message));
  });

  it('a constant argument or a record without tensors is refused, naming the layer', () => {
    const withArgs = (args: unknown[]): Json =>
      functional('f', [inputLayer('in', [null, 3]), dense('dense', 2, { name: 'dense', inbound_nodes: [call(args)] })], [['in', 0, 0]], [['dense', 0, 0]]);
    assert.throws(() => normalizeTopology('m.json', withArgs([tensor('in'), 2.5])), /layer "dense": inbound_nodes\[0\] passes the constant 2.5/);
    assert.throws(() => normalizeTopology('m.json', withArgs([])), (err: unknown) => err instanceof ModelFormatError && /layer "dense": inbound_nodes\[0\] is called on no tensor/.test(err.message));
  });
});

describe('Keras 3 input_layers and output_layers', () => {
  it('one bare [layer, node, tensor], a list of them and a dict all become a list, and the model loads', async () => {
    const layers = (): Json[] => [
      inputLayer('b_input', [null, 2]),
      inputLayer('a_input', [null, 2]),
      layer('Add', { name: 'sum' }, { name: 'sum', inbound_nodes: [call([[tensor('a_input'), tensor('b_input')]])] }),
      layer('Multiply', { name: 'product' }, { name: 'product', inbound_nodes: [call([[tensor('a_input'), tensor('b_input')]])] }),
    ];
    const cases: Array<[unknown, unknown, string[], string[]]> = [
      [[['a_input', 0, 0], ['b_input', 0, 0]], ['sum', 0, 0], ['a_input', 'b_input'], ['sum']],
      [{ second: ['b_input', 0, 0], first: ['a_input', 0, 0] }, [['sum', 0, 0], ['product', 0, 0]], ['a_input', 'b_input'], ['sum', 'product']],
    ];
    for (const [inputs, outputs, inputNames, outputNames] of cases) {
      await withModel(await writeModel(functional('f', layers(), inputs, outputs), []), ({ model }) => {
        assert.deepEqual(model.inputLayers.map((l) => l.name), inputNames);
        assert.deepEqual(model.outputLayers.map((l) => l.name), outputNames);
      });
    }
    const { changes } = normalizeTopology('m.json', functional('f', layers(), { second: ['b_input', 0, 0], first: ['a_input', 0, 0] }, ['sum', 0, 0]));
    assert.deepEqual(
      changes.filter((c) => c.kind === 'model-ends').map((c) => c.detail),
      ['input_layers dict (keys sorted) → a list of 2', 'output_layers [layer, node, tensor] → a list of 1'],
    );
  });
});

describe('Keras 3 weight names', () => {
  it('names prefixed with the model\'s name are matched by name, and each weight lands in its layer', async () => {
    const { file, weights } = await twoDense((l, w) => `functional/${l}/${w}`);
    await withModel(file, ({ model, stored }) => {
      assertWeightsInPlace(model, weights);
      assert.deepEqual(
        stored.conversion.renames,
        weights.map((w) => ({ from: w.name, to: w.name.replace('functional/', ''), by: 'name' })),
      );
      assert.deepEqual(stored.json.weightsManifest[0]?.weights.map((w) => w.name), ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias']);
    });
  });

  it('names that match no weight are matched by their layer\'s weight order, and reported as such', async () => {
    // The layout of a .keras archive's weights: layers/<layer>/vars/<index>.
    const { file, weights } = await twoDense((l, w) => `layers/${l}/vars/${w === 'kernel' ? 0 : 1}`);
    await withModel(file, ({ model, stored }) => {
      assertWeightsInPlace(model, weights);
      assert.deepEqual(stored.conversion.renames.map((r) => [r.to, r.by]), [
        ['dense/kernel', 'order'],
        ['dense/bias', 'order'],
        ['dense_1/kernel', 'order'],
        ['dense_1/bias', 'order'],
      ]);
    });
  });

  it('names that mention no layer are matched in the topology\'s weight order', async () => {
    const { file, weights } = await twoDense((l, w) => `variable_${l === 'dense' ? 0 : 2}${w === 'kernel' ? '' : '_1'}`);
    await withModel(file, ({ model, stored }) => {
      assertWeightsInPlace(model, weights);
      assert.ok(stored.conversion.renames.every((r) => r.by === 'order'));
    });
  });

  it('an LSTM\'s cell-scoped names are matched by name, and its initializers are kept as stored', async () => {
    const lstm = layer('LSTM', {
      name: 'lstm',
      units: 2,
      activation: 'tanh',
      recurrent_activation: 'sigmoid',
      use_bias: true,
      kernel_initializer: init('GlorotUniform', { seed: null }),
      recurrent_initializer: init('Orthogonal', { gain: 1, seed: null }),
      bias_initializer: init('Zeros'),
      unit_forget_bias: true,
      return_sequences: false,
      use_cudnn: 'auto',
    });
    const topology = sequential('sequential', [inputLayer('in', [null, 5, 3]), lstm]);
    const weights = [weight('sequential/lstm/lstm_cell/kernel', [3, 8], 18), weight('sequential/lstm/lstm_cell/recurrent_kernel', [2, 8], 19), weight('sequential/lstm/lstm_cell/bias', [8], 20)];
    await withModel(await writeModel(topology, weights), ({ model, stored }) => {
      assert.deepEqual(stored.conversion.renames.map((r) => `${r.to} (${r.by})`), ['lstm/kernel (name)', 'lstm/recurrent_kernel (name)', 'lstm/bias (name)']);
      model.getLayer('lstm').getWeights().forEach((t, i) => assertSameValues(t, (weights[i] as Weight).values, (weights[i] as Weight).name));
      // Names are found on a Zeros-initialized build; the model itself keeps the stored initializers.
      assert.equal((model.getLayer('lstm').getConfig()['recurrentInitializer'] as Json)['className'], 'Orthogonal');
    });
  });

  it('a Keras 2 model whose names already match is read without renaming or rebuilding', async () => {
    const opened = await loadModel(path.join(FIXTURES, 'digits-mlp', 'model.json'));
    opened.model.dispose();
    assert.deepEqual(opened.stored.conversion, { changes: [], renames: [] });
  });

  it('pairs that differ in shape, or a weight too many or too few, are a ModelFormatError naming the weight', () => {
    const expected = [
      { name: 'dense/kernel', shape: [3, 4], layer: 'dense' },
      { name: 'dense/bias', shape: [4], layer: 'dense' },
    ];
    const entry = (name: string, shape: number[]) => ({ name, shape, dtype: 'float32' as const });
    assert.throws(() => matchWeightNames('m.json', expected, [entry('w0', [3, 4]), entry('w1', [5])]), /weight "w1" \[5\] matches no weight of the topology by name, and the next one in order, "dense\/bias", is \[4\]/);
    assert.throws(() => matchWeightNames('m.json', expected, [entry('w0', [3, 4])]), /weightsManifest has no weight for dense\/bias/);
    assert.throws(
      () => matchWeightNames('m.json', expected, [entry('w0', [3, 4]), entry('w1', [4]), entry('w2', [4])]),
      (err: unknown) => err instanceof ModelFormatError && /weight "w2" in weightsManifest belongs to no layer/.test(err.message),
    );
  });

  it('a name matched by name wins over order, and equal shapes in one layer keep their order', () => {
    const expected = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => ({ name: `bn/${w}`, shape: [4], layer: 'bn' }));
    const entries = ['model/bn/moving_mean', 'layers/bn/vars/0', 'layers/bn/vars/1', 'layers/bn/vars/3'].map((name) => ({ name, shape: [4], dtype: 'float32' as const }));
    assert.deepEqual(
      matchWeightNames('m.json', expected, entries).map((r) => `${r.from} → ${r.to} (${r.by})`),
      ['model/bn/moving_mean → bn/moving_mean (name)', 'layers/bn/vars/0 → bn/gamma (order)', 'layers/bn/vars/1 → bn/beta (order)', 'layers/bn/vars/3 → bn/moving_variance (order)'],
    );
  });
});

describe('normalization on models already in the form tfjs reads', () => {
  it('changes nothing in any bundled Keras 2 fixture', async () => {
    for (const name of ['digits-mlp', 'digits-mlp-quantized', 'digits-cnn', 'two-input', 'text-embedding']) {
      const json = JSON.parse(await readFile(path.join(FIXTURES, name, 'model.json'), 'utf8')) as { modelTopology: Json };
      const { topology, changes } = normalizeTopology('m.json', json.modelTopology, { lookup: tfjsClassLookup });
      assert.deepEqual(changes, [], name);
      assert.deepEqual(topology, json.modelTopology, name);
    }
  });

  it('is idempotent: a normalized Keras 3 topology normalizes to itself with no changes', async () => {
    for (const name of ['keras3-mlp', 'keras3-cnn', 'keras3-two-input']) {
      const json = JSON.parse(await readFile(path.join(FIXTURES, name, 'model.json'), 'utf8')) as { modelTopology: Json };
      const once = normalizeTopology('m.json', json.modelTopology, { lookup: tfjsClassLookup });
      assert.ok(once.changes.length > 0, name);
      const twice = normalizeTopology('m.json', once.topology, { lookup: tfjsClassLookup });
      assert.deepEqual(twice.changes, [], name);
      assert.deepEqual(twice.topology, once.topology, name);
    }
  });
});
