/**
 * The size table's rows for a large model without data are counted weight by weight in one pass
 * (measureStoredVariants, every row's gzip stream fed at once) instead of from whole files: the same
 * bytes, total bytes, gzip bytes and params as the whole-file rows (measureVariant), on the fixtures,
 * including quantized input; and the input's own count is that of gzipping its stored bytes, whether
 * a row's stream gives it (float32 input) or a stream of its own does (quantized input).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend } from '../../src/tf.js';
import { buildModelFiles, loadModel } from '../../src/io/index.js';
import { measureBytes } from '../../src/measure/latency.js';
import { measureStoredVariants, measureVariant, storeWeightAs, type Storage } from '../../src/measure/sizes.js';
import type { SizeVariantName } from '../../src/report/schema.js';
import { FIXTURES } from '../helpers.js';

before(async () => {
  await initBackend('wasm');
});

const VARIANTS: Array<[SizeVariantName, Storage]> = [['float32', 'float32'], ['float16', 'float16'], ['uint8', 'uint8']];

describe('measureStoredVariants', () => {
  for (const name of ['digits-mlp', 'digits-mlp-quantized', 'digits-cnn', 'text-embedding']) {
    it(`${name}: every storage row equals the whole-file row, and the input's bytes its stored bytes'`, async () => {
      const { stored, model } = await loadModel(path.join(FIXTURES, name, 'model.json'));
      try {
        const { weightsManifest: _, ...base } = stored.json;
        const streamed = await measureStoredVariants(VARIANTS, base, stored.weights, model.countParams());
        for (const [i, [variant, storage]] of VARIANTS.entries()) {
          const files = buildModelFiles(base, stored.weights.map((w) => storeWeightAs(w, storage)));
          const whole = await measureVariant(variant, files, null);
          assert.deepEqual(streamed.rows[i], whole, `${name} ${storage}`);
        }
        assert.deepEqual(streamed.input, await measureBytes(stored.weights.map((w) => w.bytes)), `${name} input`);
      } finally {
        model.dispose();
      }
    });
  }

  it('drops the row a weight cannot be stored in (non-finite values in uint8) and keeps the others', async () => {
    const { stored, model } = await loadModel(path.join(FIXTURES, 'digits-mlp', 'model.json'));
    try {
      const { weightsManifest: _, ...base } = stored.json;
      const weights = stored.weights.map((w, i) => {
        if (i !== 0) return w;
        const values = new Float32Array(w.bytes.slice().buffer);
        values[3] = Number.POSITIVE_INFINITY;
        return { entry: w.entry, bytes: new Uint8Array(values.buffer) };
      });
      const streamed = await measureStoredVariants(VARIANTS, base, weights, model.countParams());
      assert.equal(streamed.rows[2], null);
      assert.equal(streamed.rows[0]?.variant, 'float32');
      assert.equal(streamed.rows[1]?.variant, 'float16');
      assert.deepEqual(streamed.input, await measureBytes(weights.map((w) => w.bytes)));
    } finally {
      model.dispose();
    }
  });
});
