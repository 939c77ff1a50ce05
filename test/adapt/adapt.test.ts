/**
 * `adapt()`: the adapted model starts exactly at the base (B = 0), training moves only the factors
 * (the base's weights stay bit-identical, the input files untouched), and the adapter folder holds
 * the factors with a valid adapter.json whose hash is the base's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { adapt } from '../../src/adapt/adapt.js';
import { readAdapterFolder } from '../../src/adapt/folder.js';
import { AdapterJsonSchema, baseHash } from '../../src/adapt/format.js';
import { adapterLayers, initialFactors } from '../../src/adapt/layers.js';
import { buildAdaptedModel, planAdapters, takenNames, type FactorValues } from '../../src/adapt/model.js';
import { createRng } from '../../src/data/random.js';
import { OutputExistsError, UnsupportedLayerError } from '../../src/errors.js';
import { decodeWeight, loadModel, readModel } from '../../src/io/index.js';
import { tf } from '../../src/tf.js';
import { DIGITS_CNN, DIGITS_MLP, FIXTURES, SHIFTED_TEST, SHIFTED_TRAIN, TEXT_EMBEDDING, hashFolder, useTempDirAndLeakCheck } from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();
const TEXT_TEST = path.join(FIXTURES, 'text', 'test.csv');

/** The first `rows` feature rows of a CSV with a header and the label last, as numbers. */
async function csvFeatures(file: string, rows: number): Promise<number[][]> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n').slice(1, rows + 1);
  return lines.map((l) => l.split(',').slice(0, -1).map(Number));
}

function predictValues(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

describe('adapted model at the start', () => {
  const cases = [
    { name: 'digits-mlp (Sequential, Dense)', model: DIGITS_MLP, data: SHIFTED_TEST, shape: [64] },
    { name: 'digits-cnn (functional, Conv2D with a residual Add)', model: DIGITS_CNN, data: SHIFTED_TEST, shape: [8, 8, 1] },
    { name: 'text-embedding (Embedding)', model: TEXT_EMBEDDING, data: TEXT_TEST, shape: [13] },
  ];
  for (const c of cases) {
    for (const alpha of [undefined, 3]) {
      it(`predicts exactly what the base predicts: ${c.name}, scale ${alpha === undefined ? 1 : alpha / 4}`, async () => {
        const { stored, model: base } = await loadModel(c.model);
        const names = base.layers.filter((l) => ['Dense', 'Conv2D', 'Embedding'].includes(l.getClassName())).map((l) => l.name);
        const adapters = planAdapters(c.model, stored, base, names, 4, alpha ?? 4, takenNames(c.model, stored));
        const rng = createRng(7);
        const values = new Map<string, FactorValues>(adapters.map((a) => [a.layer.name, initialFactors(a.layer, rng)]));
        const adapted = await buildAdaptedModel(c.model, stored, adapters, values, { scaleLayer: true });
        try {
          // Every adapted layer got its branch, and A is not zero (so the equality below is B's doing).
          for (const a of adapters) {
            assert.ok(adapted.getLayer(a.aJson.config.name));
            assert.ok((values.get(a.layer.name) as FactorValues).a.some((v) => v !== 0));
          }
          if (alpha !== undefined) assert.ok(adapted.layers.some((l) => l.getClassName() === 'Rescaling'), 'scale ≠ 1 goes through a Rescaling layer');
          const rows = await csvFeatures(c.data, 64);
          const x = tf.tensor(rows.flat(), [rows.length, ...c.shape]);
          const expected = predictValues(base, x);
          const got = predictValues(adapted, x);
          x.dispose();
          assert.equal(got.length, expected.length);
          for (let i = 0; i < got.length; i++) assert.ok(Object.is(got[i], expected[i]), `output ${i}: ${got[i]} vs ${expected[i]}`);
        } finally {
          adapted.dispose();
          base.dispose();
        }
      });
    }
  }
});

describe('adapterLayers', () => {
  it('refuses an Embedding with mask_zero, naming how to leave it out', () => {
    const layer = { class_name: 'Embedding', config: { name: 'tokens', input_dim: 10, output_dim: 4, mask_zero: true } };
    assert.throws(() => adapterLayers(layer, [10, 4], 2, 2, new Set(['tokens'])), (err: unknown) => err instanceof UnsupportedLayerError && /mask_zero.*--layers '!tokens'/.test(err.message));
    const plain = adapterLayers({ ...layer, config: { ...layer.config, mask_zero: false } }, [10, 4], 2, 2, new Set(['tokens']));
    assert.deepEqual([plain.layer.a.shape, plain.layer.b.shape, plain.aJson.class_name, plain.bJson.class_name], [[10, 2], [2, 4], 'Embedding', 'Dense']);
  });
});

describe('adapt()', () => {
  it('trains only the factors: base weights bit-identical, inputs untouched, B moved off zero', async () => {
    const modelDir = path.dirname(DIGITS_MLP);
    const before = { model: await hashFolder(modelDir), data: await hashFolder(path.dirname(SHIFTED_TRAIN)) };
    const out = path.join(tempDir(), 'adapter-mlp');
    const result = await adapt({ model: DIGITS_MLP, data: SHIFTED_TRAIN, rank: 2, epochs: 2, learningRate: 0.003, out, backend: 'wasm', keepModel: true });
    const model = result.model as tf.LayersModel;
    try {
      const stored = await readModel(DIGITS_MLP);
      for (const w of stored.weights) {
        const layer = w.entry.name.split('/')[0] as string;
        const variable = model.getLayer(layer).weights.find((v) => v.originalName === w.entry.name);
        assert.ok(variable, `${w.entry.name} is in the adapted model`);
        const now = variable.read().dataSync() as Float32Array;
        const then = decodeWeight(w) as Float32Array;
        assert.deepEqual(new Uint8Array(now.buffer, now.byteOffset, now.byteLength), new Uint8Array(then.buffer, then.byteOffset, then.byteLength), `${w.entry.name} is bit-identical`);
      }
      for (const layer of result.adapter.layers) {
        const b = model.getLayer(layer.b.weight.split('/')[0] as string).getWeights()[0] as tf.Tensor;
        assert.ok((b.dataSync() as Float32Array).some((v) => v !== 0), `${layer.name}: B trained`);
      }
    } finally {
      model.dispose();
    }
    assert.deepEqual(await hashFolder(modelDir), before.model, 'the model folder is untouched');
    assert.deepEqual(await hashFolder(path.dirname(SHIFTED_TRAIN)), before.data, 'the data is untouched');

    // The folder: adapter.json (schema-valid) and the shards its manifest names, nothing else.
    const folder = await readAdapterFolder(out);
    AdapterJsonSchema.parse(JSON.parse(await readFile(path.join(out, 'adapter.json'), 'utf8')));
    const stored = await readModel(DIGITS_MLP);
    assert.equal(folder.json.base.hash, baseHash(stored.json.modelTopology, stored.weights));
    assert.deepEqual(folder.json.layers.map((l) => [l.name, l.kernelShape, l.a.shape, l.b.shape, l.scale]), [
      ['dense_1', [64, 256], [64, 2], [2, 256], 1],
      ['dense_2', [256, 128], [256, 2], [2, 128], 1],
      ['dense_3', [128, 10], [128, 2], [2, 10], 1],
    ]);
    const report = folder.json.report;
    assert.ok(report !== null);
    assert.equal(report.bytes.adapter, 4 * (64 * 2 + 2 * 256 + 256 * 2 + 2 * 128 + 128 * 2 + 2 * 10));
    assert.equal(report.bytes.base, 203_304);
    assert.equal(report.training.history.length, 2);
    // The shifted digits are a new domain: the base is near chance on them, the adapter helps.
    assert.ok((report.evaluation.base.accuracy as number) < 0.2, `base ${report.evaluation.base.accuracy}`);
    assert.ok((report.evaluation.adapted.accuracy as number) > (report.evaluation.base.accuracy as number) + 0.3, `adapted ${report.evaluation.adapted.accuracy}`);
  });

  it('with --epochs 0 writes a zero adapter that scores exactly as the base', async () => {
    const out = path.join(tempDir(), 'adapter-zero');
    const { adapter } = await adapt({ model: DIGITS_CNN, data: SHIFTED_TRAIN, rank: 2, alpha: 8, epochs: 0, layers: 'conv_*,dense_2', out, backend: 'wasm' });
    assert.deepEqual(adapter.layers.map((l) => [l.name, l.className, l.a.shape, l.b.shape, l.scale]), [
      ['conv_1', 'Conv2D', [3, 3, 1, 2], [1, 1, 2, 32], 4],
      ['conv_2', 'Conv2D', [3, 3, 32, 2], [1, 1, 2, 32], 4],
      ['dense_2', 'Dense', [64, 2], [2, 10], 4],
    ]);
    const report = adapter.report;
    assert.ok(report !== null);
    assert.equal(report.evaluation.adapted.accuracy, report.evaluation.base.accuracy);
    assert.equal(report.evaluation.adapted.loss, report.evaluation.base.loss);
    assert.equal(report.evaluation.adapted.relativeOutputError, 0);

    // The folder is lowrank's: refused without --force, replaced with it; a folder of anything else never.
    const again = { model: DIGITS_CNN, data: SHIFTED_TRAIN, rank: 1, epochs: 0, layers: 'dense_2', out, backend: 'wasm' as const };
    await assert.rejects(adapt(again), (err: unknown) => err instanceof OutputExistsError && /use --force/.test(err.message));
    const replaced = await adapt({ ...again, force: true });
    assert.deepEqual((await readAdapterFolder(out)).json.layers.map((l) => l.name), replaced.adapter.layers.map((l) => l.name));
    const other = path.join(tempDir(), 'not-lowrank');
    await mkdir(other);
    await writeFile(path.join(other, 'notes.txt'), 'mine');
    await assert.rejects(adapt({ ...again, out: other, force: true }), (err: unknown) => err instanceof OutputExistsError && /not a lowrank output folder/.test(err.message));
    assert.equal(await readFile(path.join(other, 'notes.txt'), 'utf8'), 'mine');
  });
});
