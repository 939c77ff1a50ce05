/**
 * compress --ratio with --method whiten measures the layers (measureLayers), allocates, and then
 * whitens the chosen plan with the allocation's own sample and bases (keepFor) instead of computing
 * every G and its eigendecomposition again. The reuse must not change a bit: the plan whitened that
 * way has the same factors, spectra, corrected biases and report facts as the same plan whitened from
 * scratch, on an MLP and a CNN (whose later layers' bases depend on the earlier layers' ranks).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepare } from '../../src/compress/prepare.js';
import { planRun } from '../../src/compress/factorize.js';
import { measureLayers, whitenPlan } from '../../src/compress/calibrate.js';
import { layerFilter, type Plan } from '../../src/factorize/index.js';
import { initBackend } from '../../src/tf.js';
import { DIGITS_TRAIN, FIXTURES } from '../helpers.js';

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-reuse-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** What whitening wrote into a plan, as plain arrays. */
function whitened(plan: Plan): unknown {
  return {
    entries: plan.entries.map((e) => ({ ...e })),
    decompositions: [...plan.decompositions].map(([name, d]) => [name, Array.from(d.u), Array.from(d.v), Array.from(d.s)]),
    biases: [...(plan.biases ?? new Map<string, Float32Array>())].map(([name, b]) => [name, Array.from(b)]),
  };
}

describe('whitening after a measured --ratio allocation', () => {
  for (const [fixture, ratio] of [['digits-mlp', 0.1], ['digits-cnn', 0.15]] as const) {
    it(`${fixture}: reusing the allocation's bases gives the plan whitened from scratch, bit for bit`, async () => {
      const run = await prepare({ model: path.join(FIXTURES, fixture, 'model.json'), ratio, data: DIGITS_TRAIN, out: path.join(tmp, fixture), force: true, backend: 'wasm' });
      assert.ok('original' in run);
      try {
        const reused = await planRun(run); // keeps the allocation's sample and bases for whitenPlan
        await whitenPlan(run, reused);
        // The same allocation without keeping anything (a sweep's way: the measurements passed in).
        const measured = await measureLayers(run, layerFilter(run.options.layers));
        try {
          const scratch = await planRun(run, measured);
          assert.deepEqual(scratch.entries.map((e) => e.rank), reused.entries.map((e) => e.rank), 'the same allocation');
          await whitenPlan(run, scratch);
          assert.deepEqual(whitened(reused), whitened(scratch));
          assert.ok(reused.decompositions.size >= 2, 'several layers whitened');
        } finally {
          measured.dispose();
        }
      } finally {
        run.original.dispose();
      }
    });
  }
});
