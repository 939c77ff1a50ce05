/**
 * Rank policies and layer selection: `--energy F` (per layer, the smallest rank keeping a share F of
 * Σσ²) and `--layers` glob patterns.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { chosen, layerFilter, makePlan, planModel, type Plan, type PlanEntry } from '../../src/factorize/index.js';
import type { PlannableLayer } from '../../src/factorize/plan.js';
import { loadModel, type OpenedModel } from '../../src/io/index.js';
import { DIGITS_MLP, makeTempDir, randomFloat32, removeTempDir, saveAndLoad, spectrumMatrix } from '../helpers.js';

let tmp: string;

before(async () => {
  await initBackend('wasm');
  tmp = await makeTempDir();
});

after(async () => {
  await removeTempDir(tmp);
});

function entry(p: Plan, name: string): PlanEntry {
  const e = p.entries.find((x) => x.name === name);
  assert.ok(e !== undefined, `no plan entry for ${name}`);
  return e;
}

const dense = (name: string, m: number, n: number, kernel: Float32Array): PlannableLayer => ({
  name,
  json: { class_name: 'Dense', config: { name, units: n } },
  weights: [
    { values: kernel, shape: [m, n] },
    { values: new Float32Array(n), shape: [n] },
  ],
});

/** Share of Σσ² in the first k values, summed here from the spectrum itself. */
function share(s: readonly number[], k: number): number {
  const total = s.reduce((sum, v) => sum + v * v, 0);
  return s.slice(0, k).reduce((sum, v) => sum + v * v, 0) / total;
}

/** The smallest k with share(s, k) ≥ F, by brute force. */
function smallestRank(s: readonly number[], fraction: number): number {
  for (let k = 1; k <= s.length; k++) if (share(s, k) >= fraction) return k;
  return s.length;
}

describe('--energy on a hand-made layer with a known spectrum', () => {
  // 12×10 kernel with σ = 5, 4, 3, 2, 1, 0.5, 0, 0, 0, 0. σ² = 25, 16, 9, 4, 1, 0.25; Σ = 55.25.
  // Cumulative shares: k=1 25/55.25 = 0.4525, k=2 41/55.25 = 0.7421, k=3 50/55.25 = 0.9050,
  // k=4 54/55.25 = 0.9774, k=5 55/55.25 = 0.99548, k=6 1.
  // Largest useful rank of 12×10: floor((120 − 1) / 22) = 5.
  const S = [5, 4, 3, 2, 1, 0.5];
  const layer = dense('hand', 12, 10, spectrumMatrix(12, 10, S, 3));
  const planAt = (fraction: number): PlanEntry => entry(makePlan([layer], { kind: 'energy', fraction }), 'hand');

  it('sees the spectrum it was built with', () => {
    const e = planAt(0.9);
    assert.equal(e.singularValues.length, 10);
    const want = [...S, 0, 0, 0, 0];
    e.singularValues.forEach((v, i) => assert.ok(Math.abs(v - (want[i] as number)) <= 1e-6, `σ${i + 1} = ${v}, want ${want[i]}`));
    assert.equal(e.maxUsefulRank, 5);
  });

  const expected: Array<[number, number]> = [
    [0.3, 1],
    [0.45, 1], // 0.4525 ≥ 0.45
    [0.46, 2],
    [0.74, 2],
    [0.75, 3],
    [0.9, 3], // 0.9050
    [0.95, 4], // 0.9774
    [0.98, 5],
    [0.99, 5], // 0.99548
    [0.995, 5],
  ];
  for (const [fraction, rank] of expected) {
    it(`F = ${fraction} → rank ${rank}, the smallest k with share ≥ F`, () => {
      const e = planAt(fraction);
      assert.equal(e.rank, rank);
      assert.equal(smallestRank(S, fraction), rank); // the table above agrees with brute force
      assert.ok(share(S, rank) >= fraction);
      if (rank > 1) assert.ok(share(S, rank - 1) < fraction);
      assert.ok(e.energyKept !== undefined && Math.abs(e.energyKept - share(S, rank)) <= 1e-6);
      assert.ok(e.relativeError !== undefined && Math.abs(e.relativeError - Math.sqrt(1 - share(S, rank))) <= 1e-6);
      assert.equal(e.paramsAfter, 10 + rank * 22);
    });
  }

  it('a share exactly on a boundary picks that rank (41/55.25 → rank 2)', () => {
    assert.equal(planAt(41 / 55.25).rank, 2);
    assert.equal(planAt(50 / 55.25).rank, 3);
  });

  for (const fraction of [0.996, 0.999, 1]) {
    it(`F = ${fraction} needs rank 6 > 5: skipped with a reason that mentions the energy`, () => {
      const e = planAt(fraction);
      assert.equal(e.rank, null);
      assert.equal(e.paramsAfter, e.paramsBefore);
      assert.equal(e.energyKept, undefined);
      const reason = e.reason ?? '';
      assert.match(reason, /energy/);
      assert.ok(reason.includes(`${Number((fraction * 100).toFixed(2))}%`), `reason: ${reason}`);
      assert.match(reason, /rank 6\b/);
      assert.match(reason, /\b5\b/); // the largest useful rank
    });
  }

  it('gives each layer its own rank, and respects the selection', () => {
    // A second layer whose energy is spread out: σ = 3, 3, 3, 3, 1 (20×8) needs 4 of 5 for 90%.
    const flat = dense('flat', 20, 8, spectrumMatrix(20, 8, [3, 3, 3, 3, 1], 4));
    const p = makePlan([layer, flat], { kind: 'energy', fraction: 0.9 });
    assert.equal(entry(p, 'hand').rank, 3);
    assert.equal(entry(p, 'flat').rank, smallestRank([3, 3, 3, 3, 1], 0.9));
    assert.equal(entry(p, 'flat').rank, 4); // 36/37 = 0.973; 27/37 = 0.730
    const only = makePlan([layer, flat], { kind: 'energy', fraction: 0.9 }, layerFilter('flat'));
    assert.equal(entry(only, 'hand').rank, null);
    assert.equal(entry(only, 'hand').reason, 'not selected');
    assert.equal(entry(only, 'flat').rank, 4);
  });
});

describe('--energy on random layers: the chosen rank is the smallest reaching F', () => {
  it('for 12 random kernels and several F', () => {
    const layers: PlannableLayer[] = [];
    for (let i = 0; i < 12; i++) {
      const m = 8 + ((i * 7) % 30);
      const n = 5 + ((i * 11) % 25);
      // Decaying columns make the spectra uneven.
      const w = randomFloat32(m * n, 100 + i);
      for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) w[r * n + c] = (w[r * n + c] as number) / (1 + c);
      layers.push(dense(`l${i}`, m, n, w));
    }
    for (const fraction of [0.5, 0.8, 0.9, 0.95, 0.99]) {
      const p = makePlan(layers, { kind: 'energy', fraction });
      for (const e of p.entries) {
        const k = smallestRank(e.singularValues, fraction);
        if (k <= e.maxUsefulRank) {
          assert.equal(e.rank, k, `${e.name} at ${fraction}`);
        } else {
          assert.equal(e.rank, null, `${e.name} at ${fraction}`);
          assert.match(e.reason ?? '', new RegExp(`energy needs rank ${k}\\b`));
        }
      }
    }
  });
});

describe('--energy on the digits fixture', () => {
  let opened: OpenedModel;
  before(async () => {
    opened = await loadModel(DIGITS_MLP);
  });
  after(() => opened.model.dispose());

  it('planModel picks per layer the smallest rank whose share of the layer spectrum reaches F', () => {
    for (const fraction of [0.8, 0.95]) {
      const p = planModel(DIGITS_MLP, opened.stored.json.modelTopology, opened.model, { kind: 'energy', fraction });
      assert.deepEqual(p.entries.map((e) => e.name), ['dense_1', 'dense_2', 'dense_3']);
      for (const e of p.entries) {
        const k = smallestRank(e.singularValues, fraction);
        assert.equal(e.rank, k <= e.maxUsefulRank ? k : null, `${e.name} at ${fraction}: energy rank ${k}`);
      }
    }
  });
});

describe('layerFilter', () => {
  const names = ['dense_1', 'dense_2', 'dense_3', 'dense_10', 'dense_', 'conv', 'mydense_1', 'Dense_1'];
  const pick = (patterns: string | undefined, list: readonly string[] = names): string[] => list.filter(layerFilter(patterns));

  it('no patterns (undefined, empty, blank) selects everything', () => {
    for (const p of [undefined, '', '   ']) assert.deepEqual(pick(p), names);
  });

  it("'dense_*,!dense_3': inclusions, then exclusions win", () => {
    // * matches any run, the empty one too; matching is anchored and case-sensitive.
    assert.deepEqual(pick('dense_*,!dense_3'), ['dense_1', 'dense_2', 'dense_10', 'dense_']);
  });

  it('an exclusion alone keeps everything else', () => {
    assert.deepEqual(pick('!dense_3'), names.filter((n) => n !== 'dense_3'));
    assert.deepEqual(pick('!dense_*,!conv'), ['mydense_1', 'Dense_1']);
  });

  it('an exclusion beats an inclusion whatever the order', () => {
    assert.deepEqual(pick('!dense_1,dense_1,conv'), ['conv']);
    assert.deepEqual(pick('dense_1,conv,!dense_1'), ['conv']);
  });

  it('? matches exactly one character', () => {
    assert.deepEqual(pick('dense_?'), ['dense_1', 'dense_2', 'dense_3']);
    assert.deepEqual(pick('dense_??'), ['dense_10']);
    assert.deepEqual(pick('?ense_1'), ['dense_1', 'Dense_1']);
  });

  it('plain names match whole names only; several are comma-separated with spaces trimmed and empty parts ignored', () => {
    assert.deepEqual(pick('dense_1'), ['dense_1']);
    assert.deepEqual(pick(' dense_1 , conv ,,'), ['dense_1', 'conv']);
    assert.deepEqual(pick('ense'), []);
    assert.deepEqual(pick('*dense_1'), ['dense_1', 'mydense_1']);
  });

  it('regular-expression characters in names match literally', () => {
    const odd = ['a.b', 'axb', 'a+b', 'aab', 'a|b', 'a', 'b', '(x)', 'x', 'a[1]', 'a1', 'a{2}', 'aa', '^a$', 'a\\b', 'a$b', 'a^b'];
    for (const literal of ['a.b', 'a+b', 'a|b', '(x)', 'a[1]', 'a{2}', '^a$', 'a\\b', 'a$b', 'a^b']) {
      assert.deepEqual(pick(literal, odd), [literal], `pattern ${literal}`);
    }
    assert.deepEqual(pick('a.*', odd), ['a.b']);
    assert.deepEqual(pick('!a.b', ['a.b', 'axb']), ['axb']);
    assert.deepEqual(pick('a?b', odd), ['a.b', 'axb', 'a+b', 'aab', 'a|b', 'a\\b', 'a$b', 'a^b']);
  });

  it('nested names outer/inner: globs see the whole path, * crosses the slash', () => {
    const nested = ['outer/inner', 'outer/tail', 'outer/deep/inner', 'inner', 'head'];
    assert.deepEqual(pick('outer/*', nested), ['outer/inner', 'outer/tail', 'outer/deep/inner']);
    assert.deepEqual(pick('outer/inner', nested), ['outer/inner']);
    assert.deepEqual(pick('inner', nested), ['inner']);
    assert.deepEqual(pick('*inner', nested), ['outer/inner', 'outer/deep/inner', 'inner']);
    assert.deepEqual(pick('outer/?????', nested), ['outer/inner']);
    assert.deepEqual(pick('*,!outer/*', nested), ['inner', 'head']);
  });

  it('selects nested layers by path in planModel', async () => {
    const outer = tf.sequential({
      name: 'outer',
      layers: [tf.layers.dense({ name: 'inner', units: 16, inputShape: [12] }), tf.layers.dense({ name: 'tail', units: 16 })],
    });
    const x = tf.input({ shape: [12], name: 'x' });
    const h = outer.apply(x) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'inner2', units: 16 }).apply(h) as tf.SymbolicTensor;
    const built = tf.model({ inputs: x, outputs: out });
    const { file, opened } = await saveAndLoad(built, path.join(tmp, 'nested'));
    try {
      const p = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 2 }, layerFilter('outer/*,!outer/tail'));
      assert.deepEqual(p.entries.map((e) => e.name), ['outer/inner', 'outer/tail', 'inner2']);
      assert.deepEqual(chosen(p).map((e) => e.name), ['outer/inner']);
      assert.equal(entry(p, 'outer/tail').reason, 'not selected');
      assert.equal(entry(p, 'inner2').reason, 'not selected');
    } finally {
      built.dispose();
      opened.model.dispose();
    }
  });

  it("on the digits fixture: 'dense_*,!dense_3' at rank 8 factorizes dense_1 and dense_2 only", async () => {
    const opened = await loadModel(DIGITS_MLP);
    try {
      const p = planModel(DIGITS_MLP, opened.stored.json.modelTopology, opened.model, { kind: 'fixed', rank: 8 }, layerFilter('dense_*,!dense_3'));
      assert.deepEqual(chosen(p).map((e) => e.name), ['dense_1', 'dense_2']);
      assert.equal(entry(p, 'dense_3').reason, 'not selected');
    } finally {
      opened.model.dispose();
    }
  });
});
