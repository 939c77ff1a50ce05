import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { loadModel, readModel, saveModel, SHARD_BYTES, type LoadedModel, type ModelJson, type OpenedModel } from '../../src/io/index.js';
import { decodeWeight } from '../../src/io/layers-model.js';
import { readTopology } from '../../src/graph/topology.js';
import { LowrankError, ModelFormatError, OutputExistsError } from '../../src/errors.js';
import {
  argmaxRows,
  DIGITS_MLP,
  DIGITS_MLP_QUANTIZED,
  DIGITS_TEST,
  hashFolder,
  makeTempDir,
  maxAbsDiff,
  readDigits,
  removeTempDir,
} from '../helpers.js';

const FLOAT_DIR = path.dirname(DIGITS_MLP);
const QUANTIZED_DIR = path.dirname(DIGITS_MLP_QUANTIZED);
const SHARD_NAME = /^group1-shard(\d+)of(\d+)\.bin$/;

let tmp: string;
let inputHashes: Array<[string, Record<string, string>]>;

before(async () => {
  await initBackend('wasm');
  tmp = await makeTempDir();
  inputHashes = [
    [FLOAT_DIR, await hashFolder(FLOAT_DIR)],
    [QUANTIZED_DIR, await hashFolder(QUANTIZED_DIR)],
  ];
});

after(async () => {
  // Inputs are byte-identical after every operation of this file.
  for (const [dir, hashes] of inputHashes) assert.deepEqual(await hashFolder(dir), hashes, `${dir} changed`);
  await removeTempDir(tmp);
});

let counter = 0;
function freshDir(label: string): string {
  counter += 1;
  return path.join(tmp, `${label}-${counter}`);
}

function layerJson(json: ModelJson): unknown {
  return readTopology('model.json', json.modelTopology).layers.map((l) => ({ class_name: l.class_name, config: l.config }));
}

function bytesByName(stored: LoadedModel): Map<string, Uint8Array> {
  return new Map(stored.weights.map((w) => [w.entry.name, w.bytes]));
}

/** Shard files of a saved folder, checked against the manifest and the naming scheme. */
async function checkShards(dir: string, json: ModelJson): Promise<string[]> {
  const files = (await readdir(dir)).sort();
  const shards = files.filter((f) => f !== 'model.json');
  assert.deepEqual(files, ['model.json', ...shards].sort());
  assert.equal(json.weightsManifest.length, 1);
  assert.deepEqual([...(json.weightsManifest[0]?.paths ?? [])].sort(), shards);
  for (const name of shards) {
    const match = SHARD_NAME.exec(name);
    assert.ok(match, `shard name ${name}`);
    assert.equal(Number(match[2]), shards.length);
  }
  // Paths are listed in order 1..M.
  assert.deepEqual(json.weightsManifest[0]?.paths, shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`));
  return shards;
}

function predict(model: tf.LayersModel, x: Float32Array): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor2d(x, [x.length / 64, 64])) as tf.Tensor).dataSync() as Float32Array).slice();
}

describe('loadModel → saveModel → loadModel', () => {
  let first: OpenedModel;
  let dir: string;
  let second: OpenedModel;

  before(async () => {
    first = await loadModel(DIGITS_MLP);
    dir = freshDir('digits');
    await saveModel(first.model, dir, { base: { trainingConfig: first.stored.json.trainingConfig } });
    second = await loadModel(path.join(dir, 'model.json'));
  });

  after(() => {
    first.model.dispose();
    second.model.dispose();
  });

  it('keeps every weight bit for bit, in the same order and with the same manifest entries', () => {
    assert.deepEqual(second.stored.weights.map((w) => w.entry), first.stored.weights.map((w) => w.entry));
    const want = bytesByName(first.stored);
    for (const w of second.stored.weights) assert.deepEqual(w.bytes, want.get(w.entry.name), w.entry.name);
    // And the live models hold the same values.
    const a = first.model.getWeights().map((t) => t.dataSync());
    const b = second.model.getWeights().map((t) => t.dataSync());
    assert.deepEqual(b, a);
  });

  it('keeps the topology (layer classes and configs) and the fields passed as base', () => {
    assert.deepEqual(layerJson(second.stored.json), layerJson(first.stored.json));
    assert.equal(second.stored.json.format, 'layers-model');
    assert.deepEqual(second.stored.json.trainingConfig, first.stored.json.trainingConfig);
  });

  it('writes a single shard named group1-shard1of1.bin holding exactly the weight bytes', async () => {
    const shards = await checkShards(dir, second.stored.json);
    assert.deepEqual(shards, ['group1-shard1of1.bin']);
    const saved = await readFile(path.join(dir, 'group1-shard1of1.bin'));
    const original = await readFile(path.join(FLOAT_DIR, 'group1-shard1of1.bin'));
    assert.ok(saved.equals(original), 'the re-saved shard differs from the fixture shard');
  });

  it('predicts exactly as before', async () => {
    const { x } = await readDigits(DIGITS_TEST);
    assert.equal(maxAbsDiff(predict(second.model, x), predict(first.model, x)), 0);
  });

  it('refuses to write into a non-empty folder, and --force replaces only a lowrank output (with its report.json)', async () => {
    await assert.rejects(saveModel(first.model, dir), (err: unknown) => err instanceof OutputExistsError && err.code === 'OUTPUT_EXISTS');
    // A bare model folder is not a lowrank output: it may be someone's input, so force does not replace it.
    await assert.rejects(saveModel(first.model, dir, { force: true }), (err: unknown) => err instanceof OutputExistsError && /not a lowrank output/.test(err.message));
    await writeFile(path.join(dir, 'report.json'), JSON.stringify({ tool: { name: 'lowrank' } }));
    await saveModel(first.model, dir, { force: true });
    assert.deepEqual((await readdir(dir)).sort(), ['group1-shard1of1.bin', 'model.json']);
    // No temporary folders are left beside the target.
    assert.deepEqual((await readdir(path.dirname(dir))).filter((f) => f.startsWith('.')), []);
  });
});

describe('a model with more than 4 MiB of weights', () => {
  it('is split into group1-shard1of2.bin and group1-shard2of2.bin of at most 4 MiB and round-trips', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ name: 'big', units: 1000, inputShape: [1100] })] });
    const dir = freshDir('big');
    let reloaded: OpenedModel | undefined;
    try {
      await saveModel(model, dir);
      reloaded = await loadModel(path.join(dir, 'model.json'));
      const shards = await checkShards(dir, reloaded.stored.json);
      assert.deepEqual(shards, ['group1-shard1of2.bin', 'group1-shard2of2.bin']);
      const sizes = await Promise.all(shards.map(async (s) => (await readFile(path.join(dir, s))).byteLength));
      const total = (1100 * 1000 + 1000) * 4;
      assert.deepEqual(sizes, [SHARD_BYTES, total - SHARD_BYTES]);
      assert.ok(sizes.every((s) => s <= 4 * 1024 * 1024));
      const want = model.getWeights().map((t) => t.dataSync());
      const got = reloaded.model.getWeights().map((t) => t.dataSync());
      assert.equal(got.length, 2);
      // Compare as bytes: deepEqual on 1.1M floats is slow, Buffer.equals is not.
      for (let i = 0; i < want.length; i++) {
        const a = Buffer.from((want[i] as Float32Array).buffer, (want[i] as Float32Array).byteOffset, (want[i] as Float32Array).byteLength);
        const b = Buffer.from((got[i] as Float32Array).buffer, (got[i] as Float32Array).byteOffset, (got[i] as Float32Array).byteLength);
        assert.ok(a.equals(b), `weight ${i} differs after the round trip`);
      }
    } finally {
      model.dispose();
      reloaded?.model.dispose();
    }
  });
});

describe('readModel refuses broken models with a ModelFormatError naming model.json', () => {
  let json: ModelJson;
  let shard: Buffer;

  before(async () => {
    json = JSON.parse(await readFile(DIGITS_MLP, 'utf8')) as ModelJson;
    shard = await readFile(path.join(FLOAT_DIR, 'group1-shard1of1.bin'));
  });

  /** Write a model folder: model.json (object or raw text) and files; returns the model.json path. */
  async function writeModel(contents: unknown, files: Record<string, Uint8Array> = {}): Promise<string> {
    const dir = freshDir('bad');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'model.json');
    await writeFile(file, typeof contents === 'string' ? contents : JSON.stringify(contents));
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, name), data);
    return file;
  }

  function withPaths(paths: string[]): ModelJson {
    const group = json.weightsManifest[0];
    assert.ok(group !== undefined);
    return { ...json, weightsManifest: [{ ...group, paths }] };
  }

  async function rejects(file: string, pattern: RegExp): Promise<void> {
    await assert.rejects(readModel(file), (err: unknown) => {
      assert.ok(err instanceof ModelFormatError, `expected ModelFormatError, got ${String(err)}`);
      assert.ok(err instanceof LowrankError);
      assert.equal(err.code, 'MODEL_FORMAT');
      assert.equal(err.file, file);
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('a valid copy is accepted (the cases below differ from it in one thing)', async () => {
    const file = await writeModel(json, { 'group1-shard1of1.bin': shard });
    const stored = await readModel(file);
    assert.equal(stored.weights.length, 6);
  });

  it('missing model.json', async () => {
    await rejects(path.join(tmp, 'no-such-folder', 'model.json'), /no such file/);
  });

  it('invalid JSON', async () => {
    await rejects(await writeModel('{"format": "layers-model", '), /not valid JSON/);
  });

  it('not an object with modelTopology and weightsManifest', async () => {
    await rejects(await writeModel({ format: 'layers-model' }), /not a TF\.js Layers model\.json/);
  });

  it('a graph model', async () => {
    await rejects(await writeModel({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }), /graph model/);
  });

  it('a shard path with ../', async () => {
    const file = await writeModel(withPaths(['../outside.bin']));
    await writeFile(path.join(path.dirname(file), '..', 'outside.bin'), shard);
    await rejects(file, /leaves the model's folder/);
  });

  it('a URL-encoded ../ shard path', async () => {
    const file = await writeModel(withPaths(['..%2Foutside2.bin']));
    await writeFile(path.join(path.dirname(file), '..', 'outside2.bin'), shard);
    await rejects(file, /leaves the model's folder/);
  });

  it('an absolute shard path', async () => {
    const outside = path.join(tmp, 'absolute.bin');
    await writeFile(outside, shard);
    await rejects(await writeModel(withPaths([outside])), /must be relative/);
  });

  it('a shard that is a symlink to a file outside the folder', async () => {
    const outside = path.join(tmp, 'linked.bin');
    await writeFile(outside, shard);
    const file = await writeModel(json);
    await symlink(outside, path.join(path.dirname(file), 'group1-shard1of1.bin'));
    await rejects(file, /links outside/);
  });

  it('a missing shard', async () => {
    await rejects(await writeModel(json), /cannot read weight file "group1-shard1of1\.bin"/);
  });

  it('a shard too short', async () => {
    const file = await writeModel(json, { 'group1-shard1of1.bin': shard.subarray(0, shard.byteLength - 4) });
    await rejects(file, new RegExp(`describes ${shard.byteLength} bytes but its files hold ${shard.byteLength - 4}`));
  });

  it('a shard too long', async () => {
    const file = await writeModel(json, { 'group1-shard1of1.bin': Buffer.concat([shard, Buffer.alloc(4)]) });
    await rejects(file, new RegExp(`describes ${shard.byteLength} bytes but its files hold ${shard.byteLength + 4}`));
  });

  it('duplicate weight names', async () => {
    const group = json.weightsManifest[0];
    assert.ok(group !== undefined);
    const weights = group.weights.map((w) => (w.name === 'dense_2/bias' ? { ...w, name: 'dense_1/bias' } : w));
    const file = await writeModel({ ...json, weightsManifest: [{ ...group, weights }] }, { 'group1-shard1of1.bin': shard });
    await rejects(file, /"dense_1\/bias" appears twice/);
  });
});

describe('the quantized fixture', () => {
  let float: OpenedModel;
  let quantized: OpenedModel;

  before(async () => {
    float = await loadModel(DIGITS_MLP);
    quantized = await loadModel(DIGITS_MLP_QUANTIZED);
  });

  after(() => {
    float.model.dispose();
    quantized.model.dispose();
  });

  it('keeps the stored (quantized) bytes and entries', () => {
    const entries = quantized.stored.weights.map((w) => w.entry);
    assert.deepEqual(entries.map((e) => e.quantization?.dtype), ['uint8', 'float16', 'uint8', 'float16', 'uint8', 'float16']);
    for (const w of quantized.stored.weights) {
      const size = w.entry.shape.reduce((a, b) => a * b, 1);
      assert.equal(w.bytes.byteLength, size * (w.entry.quantization?.dtype === 'uint8' ? 1 : 2), w.entry.name);
    }
  });

  it('holds the float weights within quantization error', () => {
    const floats = float.model.getWeights();
    const quants = quantized.model.getWeights();
    quantized.stored.weights.forEach((w, i) => {
      const f = (floats[i] as tf.Tensor).dataSync();
      const q = (quants[i] as tf.Tensor).dataSync();
      assert.deepEqual(decodeWeight(w), q, `${w.entry.name}: live weights are the decoded stored bytes`);
      const quantization = w.entry.quantization;
      assert.ok(quantization !== undefined);
      for (let j = 0; j < f.length; j++) {
        const fv = f[j] as number;
        const err = Math.abs((q[j] as number) - fv);
        // uint8: half a step (plus float32 rounding); float16: half an ulp of an 11-bit mantissa.
        const bound = quantization.dtype === 'uint8'
          ? (quantization.scale as number) / 2 + 1e-6
          : Math.max(Math.abs(fv) * 2 ** -11, 2 ** -25);
        assert.ok(err <= bound, `${w.entry.name}[${j}]: |${q[j]} − ${fv}| = ${err} > ${bound}`);
      }
    });
  });

  it('predicts the same class as the float model on at least 98% of test.csv', async () => {
    const { x, count } = await readDigits(DIGITS_TEST);
    const a = argmaxRows(predict(float.model, x), 10);
    const b = argmaxRows(predict(quantized.model, x), 10);
    let agree = 0;
    for (let i = 0; i < count; i++) if (a[i] === b[i]) agree++;
    assert.ok(agree / count >= 0.98, `agreement ${agree}/${count}`);
  });

  it('saved with its stored weights as originals, keeps quantized entries and shard bytes unchanged', async () => {
    const dir = freshDir('quantized');
    await saveModel(quantized.model, dir, { originals: quantized.stored.weights });
    const saved = await readModel(path.join(dir, 'model.json'));
    assert.deepEqual(saved.weights.map((w) => w.entry), quantized.stored.weights.map((w) => w.entry));
    const shards = await checkShards(dir, saved.json);
    assert.deepEqual(shards, ['group1-shard1of1.bin']);
    const got = await readFile(path.join(dir, 'group1-shard1of1.bin'));
    const want = await readFile(path.join(QUANTIZED_DIR, 'group1-shard1of1.bin'));
    assert.ok(got.equals(want), 'shard bytes differ from the quantized fixture');
  });

  it('a changed weight is written as float32 while the others stay quantized', async () => {
    const reopened = await loadModel(DIGITS_MLP_QUANTIZED);
    try {
      const layer = reopened.model.getLayer('dense_3');
      const [kernel, bias] = layer.getWeights();
      assert.ok(kernel && bias);
      const changed = tf.tidy(() => bias.add(tf.scalar(0.5)));
      layer.setWeights([kernel, changed]);
      changed.dispose();
      const dir = freshDir('quantized-changed');
      await saveModel(reopened.model, dir, { originals: reopened.stored.weights });
      const saved = await readModel(path.join(dir, 'model.json'));
      const byName = new Map(saved.weights.map((w) => [w.entry.name, w]));
      const changedBias = byName.get('dense_3/bias');
      assert.ok(changedBias !== undefined);
      assert.equal(changedBias.entry.quantization, undefined);
      assert.equal(changedBias.entry.dtype, 'float32');
      assert.equal(changedBias.bytes.byteLength, 10 * 4);
      const stored = bytesByName(reopened.stored);
      for (const w of saved.weights) {
        if (w.entry.name === 'dense_3/bias') continue;
        assert.ok(w.entry.quantization !== undefined, `${w.entry.name} lost its quantization`);
        assert.deepEqual(w.bytes, stored.get(w.entry.name), w.entry.name);
      }
      const reloaded = await loadModel(path.join(dir, 'model.json'));
      try {
        const q = reopened.model.getLayer('dense_3').getWeights()[1]?.dataSync();
        assert.deepEqual(reloaded.model.getLayer('dense_3').getWeights()[1]?.dataSync(), q);
      } finally {
        reloaded.model.dispose();
      }
    } finally {
      reopened.model.dispose();
    }
  });

  it('saved without originals, writes dequantized float32 values', async () => {
    const dir = freshDir('dequantized');
    await saveModel(quantized.model, dir);
    const saved = await readModel(path.join(dir, 'model.json'));
    assert.ok(saved.weights.every((w) => w.entry.quantization === undefined && w.entry.dtype === 'float32'));
    saved.weights.forEach((w, i) => assert.deepEqual(decodeWeight(w), quantized.model.getWeights()[i]?.dataSync(), w.entry.name));
  });
});
