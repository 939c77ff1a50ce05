import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/tf.js';
import { loadModel, type OpenedModel } from '../../src/io/index.js';
import { chosen, makePlan, maxUsefulRank, planModel, type Plan, type RankSpec } from '../../src/factorize/index.js';
import type { PlannableLayer } from '../../src/factorize/plan.js';
import { energyKept, relativeError, svd } from '../../src/factorize/svd.js';
import { LowrankError, UsageError } from '../../src/errors.js';
import { DIGITS_MLP, randomFloat32 } from '../helpers.js';

let opened: OpenedModel;

before(async () => {
  await initBackend('wasm');
  opened = await loadModel(DIGITS_MLP);
});

after(() => {
  opened?.model.dispose();
});

function plan(spec: RankSpec): Plan {
  return planModel(DIGITS_MLP, opened.stored.json.modelTopology, opened.model, spec);
}

function entry(p: Plan, name: string) {
  const e = p.entries.find((x) => x.name === name);
  assert.ok(e !== undefined, `no plan entry for ${name}`);
  return e;
}

describe('maxUsefulRank', () => {
  it('is the largest k ≥ 0 with k·(m+n) < m·n (brute force, 1 ≤ m, n ≤ 80 and some large shapes)', () => {
    const shapes: Array<[number, number]> = [];
    for (let m = 1; m <= 80; m++) for (let n = 1; n <= 80; n++) shapes.push([m, n]);
    shapes.push([64, 256], [256, 128], [128, 10], [1100, 1000], [4096, 4096], [1, 100000], [784, 10]);
    for (const [m, n] of shapes) {
      let best = 0;
      for (let k = 1; k * (m + n) < m * n; k++) best = k;
      assert.equal(maxUsefulRank(m, n), best, `maxUsefulRank(${m}, ${n})`);
    }
  });

  it('matches hand-computed values for the digits layers', () => {
    assert.equal(maxUsefulRank(64, 256), 51); // 51·320 = 16320 < 16384 ≤ 52·320
    assert.equal(maxUsefulRank(256, 128), 85); // 85·384 = 32640 < 32768 ≤ 86·384
    assert.equal(maxUsefulRank(128, 10), 9); // 9·138 = 1242 < 1280 ≤ 10·138
    assert.equal(maxUsefulRank(2, 2), 0); // 1·4 = 4 is not < 4
    assert.equal(maxUsefulRank(1, 1), 0);
  });
});

describe('planModel on digits-mlp with rank 16', () => {
  it('chooses dense_1 and dense_2 and skips dense_3 with a reason naming its largest useful rank 9', () => {
    const p = plan({ kind: 'fixed', rank: 16 });
    assert.deepEqual(p.entries.map((e) => e.name), ['dense_1', 'dense_2', 'dense_3']);
    assert.deepEqual(chosen(p).map((e) => e.name), ['dense_1', 'dense_2']);
    const d3 = entry(p, 'dense_3');
    assert.equal(d3.rank, null);
    assert.ok(d3.reason !== undefined && /\b9\b/.test(d3.reason), `reason: ${d3.reason}`);
    assert.equal(d3.paramsAfter, d3.paramsBefore);
    assert.equal(d3.energyKept, undefined);
    assert.deepEqual([...p.decompositions.keys()].sort(), ['dense_1', 'dense_2']);
  });

  it('records shapes, params and the rank: paramsAfter = paramsBefore − m·n + k·(m+n)', () => {
    const p = plan({ kind: 'fixed', rank: 16 });
    const expected = {
      dense_1: { m: 64, n: 256, before: 64 * 256 + 256, useful: 51 },
      dense_2: { m: 256, n: 128, before: 256 * 128 + 128, useful: 85 },
      dense_3: { m: 128, n: 10, before: 128 * 10 + 10, useful: 9 },
    };
    for (const [name, x] of Object.entries(expected)) {
      const e = entry(p, name);
      assert.equal(e.className, 'Dense');
      assert.equal(e.m, x.m);
      assert.equal(e.n, x.n);
      assert.equal(e.paramsBefore, x.before);
      assert.equal(e.maxUsefulRank, x.useful);
      if (e.rank !== null) {
        assert.equal(e.rank, 16);
        assert.equal(e.paramsAfter, x.before - x.m * x.n + 16 * (x.m + x.n));
        assert.ok(e.paramsAfter < e.paramsBefore);
      }
    }
    assert.equal(entry(p, 'dense_1').paramsAfter, 256 + 16 * 320);
    assert.equal(entry(p, 'dense_2').paramsAfter, 128 + 16 * 384);
    const total = p.entries.reduce((s, e) => s + e.paramsBefore, 0);
    assert.equal(total, opened.model.countParams());
  });

  it('reports the spectrum, energy kept and relative error of each chosen layer', () => {
    const p = plan({ kind: 'fixed', rank: 16 });
    for (const e of chosen(p)) {
      const s = e.singularValues;
      assert.equal(s.length, Math.min(e.m, e.n));
      for (let i = 1; i < s.length; i++) assert.ok((s[i - 1] as number) >= (s[i] as number));
      const kernel = opened.model.getLayer(e.name).getWeights()[0];
      assert.ok(kernel !== undefined);
      const d = svd(kernel.dataSync(), e.m, e.n);
      for (let i = 0; i < s.length; i++) assert.ok(Math.abs((s[i] as number) - (d.s[i] as number)) <= 1e-9 * (d.s[0] as number));
      assert.ok(e.energyKept !== undefined && e.relativeError !== undefined);
      assert.ok(Math.abs(e.energyKept - energyKept(s, 16)) < 1e-12);
      assert.ok(Math.abs(e.relativeError - relativeError(s, 16)) < 1e-12);
      assert.ok(e.energyKept > 0 && e.energyKept < 1);
      assert.ok(Math.abs(e.energyKept + e.relativeError ** 2 - 1) < 1e-9);
    }
  });

  it('skips every layer when the rank is above every break-even', () => {
    const p = plan({ kind: 'fixed', rank: 86 });
    assert.equal(chosen(p).length, 0);
    assert.match(entry(p, 'dense_2').reason ?? '', /\b85\b/);
    assert.match(entry(p, 'dense_1').reason ?? '', /\b51\b/);
    assert.equal(p.decompositions.size, 0);
  });

  it('accepts exactly the largest useful rank and refuses one more', () => {
    const p9 = plan({ kind: 'per-layer', ranks: new Map([['dense_3', 9]]) });
    assert.equal(entry(p9, 'dense_3').rank, 9);
    assert.equal(entry(p9, 'dense_3').paramsAfter, 10 + 9 * 138);
    const p10 = plan({ kind: 'per-layer', ranks: new Map([['dense_3', 10]]) });
    assert.equal(entry(p10, 'dense_3').rank, null);
  });
});

describe('planModel with a per-layer spec', () => {
  it('factorizes only the named layers, each at its own rank', () => {
    const p = plan({ kind: 'per-layer', ranks: new Map([['dense_1', 8], ['dense_2', 40]]) });
    assert.equal(entry(p, 'dense_1').rank, 8);
    assert.equal(entry(p, 'dense_2').rank, 40);
    assert.equal(entry(p, 'dense_3').rank, null);
    assert.equal(entry(p, 'dense_3').reason, 'not selected');
    assert.equal(entry(p, 'dense_1').paramsAfter, 256 + 8 * 320);
    assert.equal(entry(p, 'dense_2').paramsAfter, 128 + 40 * 384);
  });

  it('refuses an unknown layer name with a UsageError listing the layer names', () => {
    assert.throws(
      () => plan({ kind: 'per-layer', ranks: new Map([['dense_1', 8], ['dense_9', 4]]) }),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.ok(err instanceof LowrankError);
        assert.equal(err.code, 'USAGE');
        assert.match(err.message, /"dense_9"/);
        for (const name of ['dense_1', 'dense_2', 'dense_3']) assert.ok(err.message.includes(name), `message lacks ${name}: ${err.message}`);
        return true;
      },
    );
  });
});

describe('makePlan on hand-built layers', () => {
  const dense = (name: string, m: number, n: number, seed: number): PlannableLayer => ({
    name,
    json: { class_name: 'Dense', config: { name, units: n } },
    weights: [
      { values: randomFloat32(m * n, seed), shape: [m, n] },
      { values: new Float32Array(n), shape: [n] },
    ],
  });

  it('ignores layer classes it cannot factorize and lists only factorizable ones', () => {
    const layers: PlannableLayer[] = [
      dense('a', 20, 30, 1),
      { name: 'drop', json: { class_name: 'Dropout', config: { name: 'drop', rate: 0.5 } }, weights: [] },
      dense('b', 30, 5, 2),
    ];
    const p = makePlan(layers, { kind: 'fixed', rank: 3 });
    assert.deepEqual(p.entries.map((e) => e.name), ['a', 'b']);
    assert.equal(entry(p, 'a').rank, 3);
    assert.equal(entry(p, 'a').paramsAfter, 30 + 3 * 50);
    assert.equal(entry(p, 'b').rank, 3); // maxUsefulRank(30, 5) = 4
    assert.throws(
      () => makePlan(layers, { kind: 'per-layer', ranks: new Map([['nope', 2]]) }),
      (err: unknown) => err instanceof UsageError && /a, b\)/.test(err.message) && !err.message.includes('drop'),
    );
  });

  it('a layer whose kernel cannot shrink (1×n) is skipped with a reason', () => {
    const p = makePlan([dense('tiny', 1, 8, 3)], { kind: 'fixed', rank: 1 });
    const e = entry(p, 'tiny');
    assert.equal(e.maxUsefulRank, 0);
    assert.equal(e.rank, null);
    assert.match(e.reason ?? '', /cannot be made smaller/);
  });
});
