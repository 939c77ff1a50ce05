/**
 * `--energy` picks the same rank whatever the decomposition: on every fixture and a spread of shares,
 * the plan from --svd auto and from --svd randomized (top values and ‖W‖²_F only) agrees layer by
 * layer with the plan from the exact SVD.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/tf.js';
import { loadModel, type OpenedModel } from '../../src/io/index.js';
import { planModel, type Plan, type SvdMethod } from '../../src/factorize/index.js';
import { FIXTURES } from '../helpers.js';

const models = readdirSync(FIXTURES)
  .map((name) => path.join(FIXTURES, name, 'model.json'))
  .filter((file) => existsSync(file));
// Each share costs three plans of every layer of every fixture: a low, a middle and a high share.
const FRACTIONS = [0.3, 0.9, 0.99];

const opened = new Map<string, OpenedModel>();
/** Layers the randomized plans decomposed by the randomized method (the rest were too narrow to truncate). */
let randomized = 0;

before(async () => {
  await initBackend('wasm');
  for (const file of models) opened.set(file, await loadModel(file));
});

after(() => {
  for (const o of opened.values()) o.model.dispose();
});

function plan(file: string, fraction: number, method: SvdMethod): Plan {
  const o = opened.get(file) as OpenedModel;
  return planModel(file, o.stored.json.modelTopology, o.model, { kind: 'energy', fraction }, undefined, { method, seed: 42 });
}

describe('--energy on every fixture', () => {
  it('finds fixtures to check', () => assert.ok(models.length >= 4, models.join(', ')));

  for (const file of models) {
    it(`${path.basename(path.dirname(file))}: auto and randomized pick the exact SVD's rank for every layer`, () => {
      let randomizedLayers = 0;
      for (const fraction of FRACTIONS) {
        const exact = plan(file, fraction, 'exact');
        for (const method of ['auto', 'randomized'] as const) {
          const other = plan(file, fraction, method);
          assert.deepEqual(
            other.entries.map((e) => [e.name, e.rank]),
            exact.entries.map((e) => [e.name, e.rank]),
            `${method} at ${fraction}`,
          );
          if (method === 'randomized') randomizedLayers += other.entries.filter((e) => e.svdMethod === 'randomized').length;
        }
      }
      randomized += randomizedLayers;
    });
  }

  it('decomposed layers by the randomized method in those plans', () => assert.ok(randomized > 0));
});
