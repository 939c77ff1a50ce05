/**
 * The size table's rows for a large model without data are counted weight by weight
 * (measureStoredVariant) instead of from whole files: the same bytes, total bytes, gzip bytes and
 * params as the whole-file rows (measureVariant), on the fixtures, including quantized input.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend } from '../../src/tf.js';
import { buildModelFiles, loadModel } from '../../src/io/index.js';
import { measureStoredVariant, measureVariant, storeWeightAs, type Storage } from '../../src/measure/sizes.js';
import { FIXTURES } from '../helpers.js';

before(async () => {
  await initBackend('wasm');
});

describe('measureStoredVariant', () => {
  for (const name of ['digits-mlp', 'digits-mlp-quantized', 'digits-cnn', 'text-embedding']) {
    it(`${name}: every storage row equals the whole-file row`, async () => {
      const { stored, model } = await loadModel(path.join(FIXTURES, name, 'model.json'));
      try {
        const { weightsManifest: _, ...base } = stored.json;
        for (const [variant, storage] of [['float32', 'float32'], ['float16', 'float16'], ['uint8', 'uint8']] as Array<['float32', Storage]>) {
          const files = buildModelFiles(base, stored.weights.map((w) => storeWeightAs(w, storage)));
          const whole = await measureVariant(variant, files, null);
          const streamed = await measureStoredVariant(variant, base, stored.weights, storage, model.countParams());
          assert.deepEqual(streamed, whole, `${name} ${storage}`);
        }
      } finally {
        model.dispose();
      }
    });
  }
});
