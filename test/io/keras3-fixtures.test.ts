/**
 * The Keras 3 fixtures: regenerable by their committed script, refused by stock tfjs (each Keras 3
 * difference on its own is enough), and read by lowrank as exactly the model their Keras 2 twin is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KERAS3_FIXTURES, makeKeras3Fixtures } from '../../fixtures/make/keras3.js';
import { loadModel } from '../../src/io/index.js';
import { tf } from '../../src/tf.js';
import { DIGITS_TEST, FIXTURES, ROOT, readDigits, useTempDirAndLeakCheck } from '../helpers.js';

const run = promisify(execFile);
const tempDir = useTempDirAndLeakCheck();

/** Load a folder with plain @tensorflow/tfjs in a child process; the tfjs error's first line if it fails. */
async function stockLoadError(dir: string): Promise<string | undefined> {
  try {
    await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), dir, DIGITS_TEST], { cwd: ROOT, maxBuffer: 16 << 20 });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr: string }).stderr;
    return /^\w*Error: .*$/m.exec(stderr)?.[0] ?? stderr;
  }
}

/** A copy of a fixture with its model.json edited. */
async function editedCopy(name: string, edit: (json: Record<string, unknown>) => void): Promise<string> {
  const dir = path.join(tempDir(), `${name}-edited-${Math.random().toString(36).slice(2)}`);
  await cp(path.join(FIXTURES, name), dir, { recursive: true });
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  edit(json);
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
  return dir;
}

/** Give every InputLayer Keras 2's batch_input_shape: the one fix people make by hand first. */
function fixInputLayers(json: Record<string, unknown>): void {
  const layers = ((json['modelTopology'] as Record<string, unknown>)['config'] as { layers: Array<{ class_name: string; config: Record<string, unknown> }> }).layers;
  for (const layer of layers) {
    if (layer.class_name !== 'InputLayer') continue;
    layer.config['batch_input_shape'] = layer.config['batch_shape'];
    delete layer.config['batch_shape'];
  }
}

describe('the Keras 3 fixtures', () => {
  it('are what fixtures/make/keras3.ts writes, byte for byte', async () => {
    const out = path.join(tempDir(), 'regenerated');
    await makeKeras3Fixtures(FIXTURES, out);
    for (const { name } of KERAS3_FIXTURES) {
      const files = (await readdir(path.join(FIXTURES, name))).sort();
      assert.deepEqual((await readdir(path.join(out, name))).sort(), files, name);
      for (const file of files) {
        assert.ok((await readFile(path.join(out, name, file))).equals(await readFile(path.join(FIXTURES, name, file))), `${name}/${file}`);
      }
    }
  });

  for (const { name, from } of KERAS3_FIXTURES) {
    it(`${name} is refused by stock tfjs`, async () => {
      assert.equal(await stockLoadError(path.join(FIXTURES, name)), 'ValueError: An InputLayer should be passed either a `batchInputShape` or an `inputShape`.');
    });

    it(`${name} holds ${from}'s weight bytes, and lowrank reads it as exactly that model`, async () => {
      assert.ok((await readFile(path.join(FIXTURES, name, 'group1-shard1of1.bin'))).equals(await readFile(path.join(FIXTURES, from, 'group1-shard1of1.bin'))));
      const keras3 = await loadModel(path.join(FIXTURES, name, 'model.json'));
      const keras2 = await loadModel(path.join(FIXTURES, from, 'model.json'));
      const digits = await readDigits(DIGITS_TEST);
      const flat = tf.tensor2d(digits.x, [digits.count, digits.features]);
      // Rows split per input in input order, each reshaped to its input (the convention lowrank uses).
      const inputsOf = (model: tf.LayersModel): tf.Tensor[] => tf.tidy(() => {
        let offset = 0;
        return model.inputs.map((input) => {
          const shape = input.shape.slice(1) as number[];
          const size = shape.reduce((a, b) => a * b, 1);
          const part = flat.slice([0, offset], [digits.count, size]).reshape([digits.count, ...shape]);
          offset += size;
          return part;
        });
      });
      try {
        const [x3, x2] = [inputsOf(keras3.model), inputsOf(keras2.model)];
        const [p3, p2] = [keras3.model.predict(x3.length === 1 ? (x3[0] as tf.Tensor) : x3) as tf.Tensor, keras2.model.predict(x2.length === 1 ? (x2[0] as tf.Tensor) : x2) as tf.Tensor];
        assert.deepEqual(Array.from(p3.dataSync()), Array.from(p2.dataSync()));
        tf.dispose([...x3, ...x2, p3, p2]);
        assert.deepEqual(
          keras3.stored.weights.map((w) => [w.entry.name, Buffer.from(w.bytes).toString('base64')]),
          keras2.stored.weights.map((w) => [w.entry.name, Buffer.from(w.bytes).toString('base64')]),
        );
      } finally {
        flat.dispose();
        keras3.model.dispose();
        keras2.model.dispose();
      }
    });
  }

  it('with the InputLayer fixed by hand, stock tfjs still refuses them: call records, then weight names', async () => {
    // tfjs#8321 and "Corrupted configuration": each Keras 3 difference alone stops stock tfjs.
    assert.equal(await stockLoadError(await editedCopy('keras3-cnn', fixInputLayers)), 'ValueError: Corrupted configuration, expected array for nodeData: [object Object]');
    assert.equal(await stockLoadError(await editedCopy('keras3-mlp', fixInputLayers)), 'ValueError: Provided weight data has no target variable: digits_mlp/dense_1/kernel');
  });
});
