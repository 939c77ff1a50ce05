/**
 * Large models (above 64 MiB of weights) are read and built one weight at a time: their weights are
 * read from the shards on demand (io/load.ts) and given to a Zeros-built model one by one
 * (io/layers-model.ts). Both give what reading and loading whole give: the same bytes, the same
 * values bit for bit, the same refusals of a manifest that does not match the topology. Tested on
 * the fixtures with the thresholds at 0.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { readModel } from '../../src/io/load.js';
import { toLayersModel } from '../../src/io/layers-model.js';
import { ModelFormatError } from '../../src/errors.js';
import { cp, truncate } from 'node:fs/promises';
import { FIXTURES, makeTempDir, removeTempDir } from '../helpers.js';

before(async () => {
  await initBackend('wasm');
});

const fixtures = ['digits-mlp', 'digits-mlp-quantized', 'digits-cnn', 'text-embedding', 'two-input'];

describe('toLayersModel one weight at a time', () => {
  for (const name of fixtures) {
    it(`${name}: every weight bit-identical to tfjs's loader, no tensors left behind`, async () => {
      const stored = await readModel(path.join(FIXTURES, name, 'model.json'));
      const tensorsBefore = tf.memory().numTensors;
      const usual = await toLayersModel(name, stored.json.modelTopology, stored.weights);
      const streamed = await toLayersModel(name, stored.json.modelTopology, stored.weights, { oneWeightAtATimeAbove: 0 });
      try {
        assert.deepEqual(streamed.weights.map((w) => w.originalName), usual.weights.map((w) => w.originalName));
        usual.weights.forEach((w, i) => {
          const a = w.read().dataSync();
          const b = (streamed.weights[i] as tf.LayerVariable).read().dataSync();
          assert.deepEqual(Buffer.from(b.buffer, b.byteOffset, b.byteLength), Buffer.from(a.buffer, a.byteOffset, a.byteLength), w.originalName);
        });
      } finally {
        usual.dispose();
        streamed.dispose();
      }
      assert.equal(tf.memory().numTensors, tensorsBefore);
    });
  }

  it('refuses a manifest weight no layer has, and a layer weight the manifest lacks, as the loader does', async () => {
    const stored = await readModel(path.join(FIXTURES, 'digits-mlp', 'model.json'));
    const tensorsBefore = tf.memory().numTensors;
    const extra = [...stored.weights, { ...(stored.weights[0] as (typeof stored.weights)[0]), entry: { ...(stored.weights[0]?.entry as (typeof stored.weights)[0]['entry']), name: 'dense_9/kernel' } }];
    await assert.rejects(toLayersModel('m', stored.json.modelTopology, extra, { oneWeightAtATimeAbove: 0 }), (err: Error) => err instanceof ModelFormatError && /"dense_9\/kernel" in weightsManifest belongs to no layer/.test(err.message));
    const missing = stored.weights.filter((w) => w.entry.name !== 'dense_2/bias');
    await assert.rejects(toLayersModel('m', stored.json.modelTopology, missing, { oneWeightAtATimeAbove: 0 }), (err: Error) => err instanceof ModelFormatError && /no weight for dense_2\/bias/.test(err.message));
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});

describe('readModel with weights read on demand (large models)', () => {
  for (const name of fixtures) {
    it(`${name}: the same bytes as read whole, fresh on every read; the model built from them predicts the same`, async () => {
      const file = path.join(FIXTURES, name, 'model.json');
      const whole = await readModel(file);
      const lazy = await readModel(file, { onDemandAbove: 0 });
      assert.deepEqual(lazy.shardBytes, whole.shardBytes);
      whole.weights.forEach((w, i) => {
        const first = lazy.weights[i]?.bytes as Uint8Array;
        assert.deepEqual(first, w.bytes, w.entry.name);
        assert.notEqual(lazy.weights[i]?.bytes, first, 'each read is a fresh buffer');
      });
      const a = await toLayersModel(name, whole.json.modelTopology, whole.weights);
      const b = await toLayersModel(name, lazy.json.modelTopology, lazy.weights, { oneWeightAtATimeAbove: 0 });
      try {
        a.weights.forEach((w, i) => assert.deepEqual(Array.from((b.weights[i] as tf.LayerVariable).read().dataSync()), Array.from(w.read().dataSync()), w.originalName));
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }

  it('a shard that shrinks after the sizes were checked is a model error when read', async () => {
    const dir = await makeTempDir();
    try {
      await cp(path.join(FIXTURES, 'digits-mlp'), dir, { recursive: true });
      const lazy = await readModel(path.join(dir, 'model.json'), { onDemandAbove: 0 });
      await truncate(path.join(dir, 'group1-shard1of1.bin'), 100);
      assert.throws(() => lazy.weights[4]?.bytes, (err: Error) => err instanceof ModelFormatError && /cannot read weight file "group1-shard1of1\.bin"/.test(err.message));
    } finally {
      await removeTempDir(dir);
    }
  });
});
