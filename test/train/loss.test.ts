/**
 * Which loss a model gets (training config names, Keras 2 and Keras 3 serialized losses, from_logits,
 * Softmax and Activation output layers) and how a loss from logits is computed and scored.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { evaluate } from '../../src/evaluate.js';
import { loadModel } from '../../src/io/index.js';
import { tf } from '../../src/tf.js';
import { scorePredictions } from '../../src/train/evaluate.js';
import { chooseLoss, meanLoss, perSampleDistillLoss, type Loss } from '../../src/train/loss.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, predictArrays, randomFloat32, readDigits, useTempDirAndLeakCheck } from '../helpers.js';
import { copyDigits, editJson, type Json } from '../hostile/harness.js';

const tempDir = useTempDirAndLeakCheck();

/** A one-layer model on 4 inputs with `units` outputs, followed by `tail` layers. */
function denseModel(units: number, activation: 'linear' | 'softmax' | 'sigmoid', tail: tf.layers.Layer[] = []): tf.Sequential {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units, activation }), ...tail] });
}

/** chooseLoss on a freshly built model, which is disposed afterwards. */
function lossFor(trainingLoss: unknown, build: () => tf.LayersModel, labelSize: number): Loss {
  const model = build();
  try {
    const outputs = (model.outputs[0]?.shape[1] ?? 1) as number;
    return chooseLoss(trainingLoss, model, labelSize, outputs);
  } finally {
    model.dispose();
  }
}

const linear10 = (): tf.LayersModel => denseModel(10, 'linear');
const softmax10 = (): tf.LayersModel => denseModel(10, 'softmax');
const linear1 = (): tf.LayersModel => denseModel(1, 'linear');

describe('chooseLoss', () => {
  it('reads loss names as Keras and tfjs write them', () => {
    for (const name of ['sparse_categorical_crossentropy', 'SparseCategoricalCrossentropy', 'sparseCategoricalCrossentropy', 'sparse-categorical-crossentropy']) {
      assert.deepEqual(lossFor(name, softmax10, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false }, name);
    }
    assert.deepEqual(lossFor('categorical_crossentropy', softmax10, 10), { kind: 'categorical-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor('CategoricalCrossentropy', softmax10, 10), { kind: 'categorical-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor('binary_crossentropy', () => denseModel(1, 'sigmoid'), 1), { kind: 'binary-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor('BinaryCrossentropy', () => denseModel(1, 'sigmoid'), 1), { kind: 'binary-crossentropy', fromLogits: false });
    // A stated loss wins over what the output suggests.
    assert.deepEqual(lossFor('mse', softmax10, 10), { kind: 'mse', fromLogits: false });
    assert.deepEqual(lossFor('meanAbsoluteError', linear1, 1), { kind: 'mae', fromLogits: false });
    // A categorical loss follows the labels given (integer labels → sparse).
    assert.deepEqual(lossFor('categorical_crossentropy', softmax10, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
  });

  it('reads Keras 2 serialized losses with their from_logits', () => {
    const keras2 = (className: string, config: Record<string, unknown>): unknown => ({ class_name: className, config });
    assert.deepEqual(
      lossFor(keras2('SparseCategoricalCrossentropy', { reduction: 'auto', name: 'sparse_categorical_crossentropy', from_logits: true }), linear10, 1),
      { kind: 'sparse-categorical-crossentropy', fromLogits: true },
    );
    assert.deepEqual(lossFor(keras2('SparseCategoricalCrossentropy', { from_logits: false }), softmax10, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
    assert.deepEqual(
      lossFor(keras2('CategoricalCrossentropy', { reduction: 'auto', from_logits: true, label_smoothing: 0 }), linear10, 10),
      { kind: 'categorical-crossentropy', fromLogits: true },
    );
    assert.deepEqual(lossFor(keras2('BinaryCrossentropy', { from_logits: true }), linear1, 1), { kind: 'binary-crossentropy', fromLogits: true });
    assert.deepEqual(lossFor(keras2('MeanSquaredError', { reduction: 'auto', name: 'mean_squared_error' }), linear1, 1), { kind: 'mse', fromLogits: false });
  });

  it('reads Keras 3 serialized losses (module, registered_name, function losses, per-output maps)', () => {
    const keras3 = (className: string, config: unknown): unknown => ({ module: 'keras.losses', class_name: className, config, registered_name: null });
    assert.deepEqual(
      lossFor(keras3('SparseCategoricalCrossentropy', { name: 'sparse_categorical_crossentropy', reduction: 'sum_over_batch_size', from_logits: true, ignore_class: null }), linear10, 1),
      { kind: 'sparse-categorical-crossentropy', fromLogits: true },
    );
    assert.deepEqual(
      lossFor(keras3('BinaryCrossentropy', { name: 'binary_crossentropy', reduction: 'sum_over_batch_size', from_logits: true, label_smoothing: 0, axis: -1 }), linear1, 1),
      { kind: 'binary-crossentropy', fromLogits: true },
    );
    // compile(loss=keras.losses.sparse_categorical_crossentropy) serializes the function by name.
    assert.deepEqual(
      lossFor({ module: 'keras.losses', class_name: 'function', config: 'sparse_categorical_crossentropy', registered_name: 'function' }, softmax10, 1),
      { kind: 'sparse-categorical-crossentropy', fromLogits: false },
    );
    // One loss per output, for the one output.
    assert.deepEqual(lossFor({ dense_3: keras3('CategoricalCrossentropy', { from_logits: true }) }, linear10, 10), { kind: 'categorical-crossentropy', fromLogits: true });
    assert.deepEqual(lossFor(['sparse_categorical_crossentropy'], softmax10, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
    // from_logits means nothing to a regression loss.
    assert.deepEqual(lossFor(keras3('MeanSquaredError', { from_logits: true }), linear1, 1), { kind: 'mse', fromLogits: false });
  });

  it('a linear output stays MSE unless from_logits says otherwise, even for a loss it has no formula for', () => {
    assert.deepEqual(lossFor(undefined, linear10, 10), { kind: 'mse', fromLogits: false });
    assert.deepEqual(lossFor({ class_name: 'CategoricalFocalCrossentropy', config: { gamma: 2 } }, linear10, 10), { kind: 'mse', fromLogits: false });
    assert.deepEqual(lossFor({ class_name: 'CategoricalFocalCrossentropy', config: { from_logits: true } }, linear10, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: true });
    assert.deepEqual(lossFor({ class_name: 'BinaryFocalCrossentropy', config: { from_logits: true } }, linear1, 1), { kind: 'binary-crossentropy', fromLogits: true });
  });

  it('takes a Softmax layer, an Activation layer or a nested model at the output for the activation', () => {
    assert.deepEqual(lossFor(undefined, () => denseModel(10, 'linear', [tf.layers.softmax()]), 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor(undefined, () => denseModel(10, 'linear', [tf.layers.softmax()]), 10), { kind: 'categorical-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor(undefined, () => denseModel(10, 'linear', [tf.layers.activation({ activation: 'softmax' })]), 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
    assert.deepEqual(lossFor(undefined, () => denseModel(1, 'linear', [tf.layers.activation({ activation: 'sigmoid' })]), 1), { kind: 'binary-crossentropy', fromLogits: false });
    const nested = (): tf.LayersModel => {
      const x = tf.input({ shape: [4] });
      const head = denseModel(10, 'linear', [tf.layers.softmax()]);
      return tf.model({ inputs: x, outputs: head.apply(x) as tf.SymbolicTensor });
    };
    assert.deepEqual(lossFor(undefined, nested, 1), { kind: 'sparse-categorical-crossentropy', fromLogits: false });
  });
});

/** Float64 reference: mean over rows of −log softmax(z)[label] for row-major [rows×classes] logits. */
function crossEntropyOfLogits(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let total = 0;
  for (let r = 0; r < labels.length; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c] as number);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp((logits[r * classes + c] as number) - max);
    total += -((logits[r * classes + (labels[r] as number)] as number) - max - Math.log(sum));
  }
  return total / labels.length;
}

const SPARSE_LOGITS: Loss = { kind: 'sparse-categorical-crossentropy', fromLogits: true };
const SPARSE_PROBS: Loss = { kind: 'sparse-categorical-crossentropy', fromLogits: false };

describe('losses from logits', () => {
  it('sparse and categorical cross-entropy of logits equal −log softmax(z)[label], also for large logits', () => {
    const rows = 12;
    const classes = 5;
    const logits = randomFloat32(rows * classes, 31, 8); // some far beyond exp's float32 range once scaled
    logits[0] = 120;
    const labels = Float32Array.from({ length: rows }, (_, i) => i % classes);
    const expected = crossEntropyOfLogits(logits, labels, classes);
    tf.tidy(() => {
      const z = tf.tensor2d(logits, [rows, classes]);
      const sparse = meanLoss(SPARSE_LOGITS, tf.tensor2d(labels, [rows, 1]), z);
      const categorical = meanLoss({ kind: 'categorical-crossentropy', fromLogits: true }, tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat(), z);
      assert.ok(Number.isFinite(sparse));
      assert.ok(Math.abs(sparse - expected) <= 1e-5 * Math.max(1, expected), `${sparse} vs ${expected}`);
      assert.ok(Math.abs(categorical - expected) <= 1e-5 * Math.max(1, expected), `${categorical} vs ${expected}`);
    });
  });

  it('binary cross-entropy of logits equals −y·log σ(z) − (1−y)·log(1−σ(z))', () => {
    const z = [-3, -0.5, 0, 0.25, 2, 4.5];
    const y = [0, 1, 1, 0, 1, 0];
    let expected = 0;
    z.forEach((v, i) => {
      const p = 1 / (1 + Math.exp(-v));
      expected += -((y[i] as number) * Math.log(p) + (1 - (y[i] as number)) * Math.log(1 - p));
    });
    expected /= z.length;
    const value = tf.tidy(() => meanLoss({ kind: 'binary-crossentropy', fromLogits: true }, tf.tensor2d(y, [6, 1]), tf.tensor2d(z, [6, 1])));
    assert.ok(Math.abs(value - expected) < 1e-6, `${value} vs ${expected}`);
  });

  it('distillation from logits softens softmax(z / T), the same loss as from the probabilities', () => {
    const rows = 7;
    const classes = 4;
    for (const temperature of [1, 2, 5]) {
      const [fromLogits, fromProbabilities] = tf.tidy(() => {
        const teacher = tf.tensor2d(randomFloat32(rows * classes, 41, 3), [rows, classes]);
        const student = tf.tensor2d(randomFloat32(rows * classes, 42, 3), [rows, classes]);
        return [
          perSampleDistillLoss(SPARSE_LOGITS, teacher, student, temperature).dataSync(),
          perSampleDistillLoss(SPARSE_PROBS, tf.softmax(teacher), tf.softmax(student), temperature).dataSync(),
        ];
      });
      for (let i = 0; i < rows; i++) assert.ok(Math.abs((fromLogits[i] as number) - (fromProbabilities[i] as number)) < 1e-4, `T=${temperature} row ${i}: ${fromLogits[i]} vs ${fromProbabilities[i]}`);
    }
    const [binaryLogits, binaryProbabilities] = tf.tidy(() => {
      const teacher = tf.tensor2d(randomFloat32(rows, 43, 2), [rows, 1]);
      const student = tf.tensor2d(randomFloat32(rows, 44, 2), [rows, 1]);
      const binary = (fromLogits: boolean): Loss => ({ kind: 'binary-crossentropy', fromLogits });
      return [
        perSampleDistillLoss(binary(true), teacher, student, 2).dataSync(),
        perSampleDistillLoss(binary(false), tf.sigmoid(teacher), tf.sigmoid(student), 2).dataSync(),
      ];
    });
    for (let i = 0; i < rows; i++) assert.ok(Math.abs((binaryLogits[i] as number) - (binaryProbabilities[i] as number)) < 1e-4, `binary row ${i}`);
  });

  it('scores logits as probabilities: a sigmoid logit is a class at 0, and a shift per sample changes nothing', () => {
    const ds = (y: number[], labelSize: number) => ({ file: 'mem', count: y.length / labelSize, featureSize: 1, x: new Float32Array(y.length / labelSize), y: Float32Array.from(y), labelSize });
    const binary = tf.tensor2d([0.3, -0.2, 2, -1], [4, 1]);
    const metrics = scorePredictions({ kind: 'binary-crossentropy', fromLogits: true }, ds([1, 0, 1, 1], 1), binary);
    assert.equal(metrics.accuracy, 0.75);
    binary.dispose();

    const logits = tf.tensor2d(randomFloat32(6 * 3, 51, 2), [6, 3]);
    const shifted = tf.tidy(() => logits.add(tf.tensor2d([5, -3, 0.5, 10, -7, 2], [6, 1])));
    const labels = Array.from(tf.tidy(() => logits.argMax(-1).dataSync()));
    const scored = scorePredictions(SPARSE_LOGITS, ds(labels, 1), shifted, logits);
    assert.equal(scored.accuracy, 1);
    assert.equal(scored.agreement, 1);
    assert.ok((scored.relativeOutputError as number) < 1e-6, `output error ${scored.relativeOutputError}`);
    tf.dispose([logits, shifted]);
  });
});

/**
 * A copy of the digits MLP under `name`/ with its model.json changed by `edit` (same weights shard):
 * its last Dense made linear gives the trained model's logits.
 */
async function digitsVariant(name: string, edit: (json: Json) => void): Promise<string> {
  const dir = await copyDigits(path.join(tempDir(), name));
  await editJson(dir, edit);
  return path.join(dir, 'model.json');
}

function linearHead(json: Json): Json[] {
  const layers = json['modelTopology']['config']['layers'] as Json[];
  const head = layers.find((l) => l['config']['name'] === 'dense_3') as Json;
  head['config']['activation'] = 'linear';
  return layers;
}

describe('models whose outputs are logits, or whose softmax is a layer, end to end', () => {
  it('a linear output with a Keras 3 from_logits loss: cross-entropy of softmax(logits), accuracy and fine-tuning as the softmax model', async () => {
    const model = await digitsVariant('logits', (json) => {
      linearHead(json);
      json['trainingConfig']['loss'] = {
        module: 'keras.losses',
        class_name: 'SparseCategoricalCrossentropy',
        config: { name: 'sparse_categorical_crossentropy', reduction: 'sum_over_batch_size', from_logits: true, ignore_class: null },
        registered_name: null,
      };
    });
    const reference = await evaluate({ model: DIGITS_MLP, data: DIGITS_TEST });
    const measured = await evaluate({ model, data: DIGITS_TEST });
    assert.equal(measured.loss, 'sparse-categorical-crossentropy');
    assert.equal(measured.lossFromLogits, true);
    assert.equal(reference.lossFromLogits, undefined);

    // The loss is the cross-entropy of softmax(logits), computed here in float64 from the logits.
    const digits = await readDigits(DIGITS_TEST);
    const { model: live } = await loadModel(model);
    const x = tf.tensor2d(digits.x, [digits.count, digits.features]);
    const [logits] = predictArrays(live, x);
    tf.dispose([x]);
    live.dispose();
    const expected = crossEntropyOfLogits(logits as Float32Array, digits.labels, 10);
    const loss = measured.metrics.loss as number;
    assert.ok(Math.abs(loss - expected) <= 1e-5 * Math.max(1, expected), `loss ${loss} vs ${expected}`);
    // ... which is what the same network with its softmax scores (up to tfjs's clipping at 1e-7).
    assert.ok(Math.abs(loss - (reference.metrics.loss as number)) < 1e-4, `logits ${loss} vs softmax ${reference.metrics.loss}`);
    assert.equal(measured.metrics.accuracy, reference.metrics.accuracy);

    // Plain SVD: the recovery below is measured against its large truncation loss.
    const { report } = await compress({ model, rank: '16', method: 'svd', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 2, out: path.join(tempDir(), 'logits-out') });
    assert.equal(report?.loss, 'sparse-categorical-crossentropy');
    assert.equal(report?.lossFromLogits, true);
    const e = report?.evaluation;
    assert.ok(e?.fineTuned);
    assert.ok(Math.abs((e.original.loss as number) - loss) < 1e-6);
    assert.equal(e.original.accuracy, reference.metrics.accuracy);
    assert.ok((e.fineTuned.accuracy as number) > (e.factorized.accuracy as number) + 0.2, `fine-tuning on logits recovers: ${e.factorized.accuracy} → ${e.fineTuned.accuracy}`);
    assert.ok((e.fineTuned.loss as number) < (e.factorized.loss as number));
  });

  for (const [what, layer] of [
    ['a Softmax layer', { class_name: 'Softmax', config: { name: 'probs', trainable: true, dtype: 'float32', axis: -1 } }],
    ['an Activation layer', { class_name: 'Activation', config: { name: 'probs', trainable: true, dtype: 'float32', activation: 'softmax' } }],
  ] as const) {
    it(`${what} as the output, no training config: sparse cross-entropy, the softmax model's numbers`, async () => {
      const model = await digitsVariant(`${layer.class_name}-output`, (json) => {
        linearHead(json).push(layer);
        delete json['trainingConfig'];
      });
      const reference = await evaluate({ model: DIGITS_MLP, data: DIGITS_TEST });
      const measured = await evaluate({ model, data: DIGITS_TEST });
      assert.equal(measured.loss, 'sparse-categorical-crossentropy');
      assert.equal(measured.lossFromLogits, undefined);
      assert.ok(Math.abs((measured.metrics.loss as number) - (reference.metrics.loss as number)) < 1e-6, `${measured.metrics.loss} vs ${reference.metrics.loss}`);
      assert.equal(measured.metrics.accuracy, reference.metrics.accuracy);
    });
  }
});
