/**
 * Issue 13's acceptance on the shifted digits, with the README's settings (bench/adapt-domain-shift.ts
 * measures the same thing and prints it): the adapter's weights are at most 5% of the base's, its
 * accuracy on the new domain's test.csv is within 1 point of fine-tuning every weight (same epochs,
 * data, batches and learning rate), and far above the base's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { README_SETTINGS, measureDomainShift } from '../../bench/adapt-domain-shift.js';
import { useTempDirAndLeakCheck } from '../helpers.js';

useTempDirAndLeakCheck();

describe('adapters on the shifted digits (digits-mlp)', () => {
  it('≤ 5% of the base\'s bytes, within 1 point of full fine-tuning, far above the base', async () => {
    const r = await measureDomainShift({ ...README_SETTINGS, backend: 'wasm' });
    assert.ok(r.bytes.adapterShare <= 0.05, `adapter ${r.bytes.adapter} of ${r.bytes.base} bytes`);
    assert.ok(r.accuracy.adapted >= r.accuracy.fullFineTune - 0.01, `adapted ${r.accuracy.adapted}, full fine-tune ${r.accuracy.fullFineTune}`);
    assert.ok(r.accuracy.base < 0.2, `base ${r.accuracy.base}`);
    assert.ok(r.accuracy.adapted > r.accuracy.base + 0.7, `adapted ${r.accuracy.adapted}, base ${r.accuracy.base}`);
  });
});
