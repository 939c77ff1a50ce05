/**
 * Which originals compress times (src/compress/measure.ts originalTooLargeToTime): up to 256 MiB of
 * decoded weights, from model.json alone; above, the reason the report gives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { originalTooLargeToTime, TIME_ORIGINAL_UP_TO } from '../../src/compress/measure.js';
import type { ModelJson } from '../../src/io/index.js';
import { ROOT } from '../helpers.js';

const withKernel = (shape: number[], dtype: 'float32' | 'int32' = 'float32'): ModelJson =>
  ({ format: 'layers-model', modelTopology: {}, weightsManifest: [{ paths: [], weights: [{ name: 'dense/kernel', shape, dtype }] }] }) as unknown as ModelJson;

describe('originalTooLargeToTime', () => {
  it('times a fixture', () => {
    const json = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'digits-mlp', 'model.json'), 'utf8')) as ModelJson;
    assert.equal(originalTooLargeToTime(json), null);
  });

  it('times a model of exactly the bound and not one element more', () => {
    assert.equal(originalTooLargeToTime(withKernel([TIME_ORIGINAL_UP_TO / 4])), null);
    const why = originalTooLargeToTime(withKernel([TIME_ORIGINAL_UP_TO / 4 + 1]));
    assert.match(why ?? '', /^the original has 256 MiB of weights, and timing it would keep a packed copy of each kernel beside them \(models above 256 MiB are not timed\)$/);
  });

  it('counts decoded bytes, not stored ones: a uint8-quantized 100M model is still too large', () => {
    const json = withKernel([10_000, 10_000]);
    (json.weightsManifest[0]!.weights[0] as { quantization?: unknown }).quantization = { dtype: 'uint8', scale: 1, min: 0 };
    assert.match(originalTooLargeToTime(json) ?? '', /381 MiB/);
  });
});
