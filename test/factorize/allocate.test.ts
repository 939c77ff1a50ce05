/**
 * --ratio's allocation (factorize/allocate.ts): greedy-optimal on a hand-made example, break-even
 * layers kept whole, and never over budget, for random layers and on every fixture across many ratios.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { allocateJudged, allocateRanks, BudgetUnreachable, maxUsefulRank, uniformAllocation, type AllocationLayer, type AllocationScore } from '../../src/factorize/allocate.js';
import { candidateRanks, interpolateLosses } from '../../src/compress/calibrate.js';
import { planStored } from '../../src/factorize/stored.js';
import { readModelChecked } from '../../src/io/index.js';
import { UsageError } from '../../src/errors.js';
import { createRng } from '../../src/data/random.js';
import { initBackend } from '../../src/tf.js';
import { FIXTURES } from '../helpers.js';

/** A 10×10 kernel, no bias, whose σ² are `energies`. */
function square(name: string, energies: number[]): AllocationLayer {
  return { name, m: 10, n: 10, params: 100, spectrum: { s: energies.map(Math.sqrt), total: energies.reduce((a, b) => a + b, 0) } };
}

/** Σ σ² kept by every layer at its rank (whole: all of it), and the parameters that costs. */
function outcome(layers: readonly AllocationLayer[], ranks: ReadonlyMap<string, number | null>): { kept: number; params: number } {
  let kept = 0;
  let params = 0;
  for (const l of layers) {
    const rank = ranks.get(l.name) ?? null;
    const s = l.spectrum?.s ?? [];
    if (rank === null) {
      kept += l.spectrum?.total ?? 0;
      params += l.params;
    } else {
      for (let i = 0; i < rank; i++) kept += (s[i] as number) ** 2;
      params += l.params - l.m * l.n + rank * (l.m + l.n);
    }
  }
  return { kept, params };
}

describe('allocateRanks', () => {
  const a = square('a', [16, 9, 4, 1, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01]);
  const b = square('b', [10, 8, 6, 0.2, 0.1, 0.1, 0.05, 0.05, 0.02, 0.01]);

  it('takes the components with the most energy per parameter: the optimum on a hand-made example', () => {
    // Budget 100 of 200: rank 1 each (40), then a₂ (9/20), b₂ (8/20), b₃ (6/20) beat a₃ (4/20) and
    // both kernels whole (14.9/80, 14.5/80); no whole kernel fits after that.
    const result = allocateRanks([a, b], 0.5, 'absolute');
    assert.deepEqual([...result.ranks], [['a', 2], ['b', 3]]);
    assert.equal(result.paramsAfter, 100);
    assert.equal(result.budget, 100);
    // Brute force over every allocation (ranks 1..break-even, or whole) within the budget.
    const choices = (l: AllocationLayer): Array<number | null> => [...Array.from({ length: maxUsefulRank(l.m, l.n) }, (_, i) => i + 1), null];
    let best = -Infinity;
    for (const ra of choices(a)) {
      for (const rb of choices(b)) {
        const o = outcome([a, b], new Map([['a', ra], ['b', rb]]));
        if (o.params <= 100) best = Math.max(best, o.kept);
      }
    }
    assert.ok(Math.abs(outcome([a, b], result.ranks).kept - best) < 1e-12, `greedy kept ${outcome([a, b], result.ranks).kept}, the optimum ${best}`);
  });

  it('relative scores divide by each layer\'s total: the same spectra scaled up do not take the budget', () => {
    const loud = square('loud', [1600, 900, 400, 100, 50, 25, 10, 5, 2, 1]);
    const relative = allocateRanks([loud, b], 0.5, 'relative');
    const absolute = allocateRanks([loud, b], 0.5, 'absolute');
    assert.deepEqual([...absolute.ranks], [['loud', 4], ['b', 1]]);
    // Shares: loud 900/3093 = 0.29 per component; b 8/24.5 = 0.33, 6/24.5 = 0.24; loud₃ 0.13.
    assert.deepEqual([...relative.ranks], [['loud', 2], ['b', 3]]);
  });

  it('keeps a flat layer whole when that buys more than components do, and never ranks past break-even', () => {
    const flat = square('flat', Array(10).fill(1));
    const sharp = square('sharp', [10, 0.5, 0.1, 0.05, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01]);
    // Budget 120: rank 1 each (40); flat whole (9/80) beats flat₂ (1/20) and sharp₂ (0.5/20).
    const result = allocateRanks([flat, sharp], 0.6, 'absolute');
    assert.deepEqual([...result.ranks], [['flat', null], ['sharp', 1]]);
    assert.equal(result.paramsAfter, 120);
    // With room for everything, every layer ends whole or below its break-even, never past it.
    for (const ratio of [0.7, 0.8, 0.9, 1]) {
      for (const [, rank] of allocateRanks([flat, sharp, a, b], ratio, 'relative').ranks) assert.ok(rank === null || rank <= maxUsefulRank(10, 10));
    }
  });

  it('refuses a budget rank 1 everywhere exceeds, naming the smallest reachable ratio', () => {
    const unfactorizable: AllocationLayer = { name: 'tiny', m: 2, n: 2, params: 6, spectrum: { s: [1, 1], total: 2 } };
    assert.throws(
      () => allocateRanks([a, b, unfactorizable], 0.1, 'relative'),
      (err: unknown) => err instanceof BudgetUnreachable && Math.abs(err.smallest - 46 / 206) < 1e-12,
    );
    // At exactly that ratio it works, at rank 1 everywhere.
    const at = allocateRanks([a, b, unfactorizable], 46 / 206, 'relative');
    assert.deepEqual([...at.ranks], [['a', 1], ['b', 1], ['tiny', null]]);
  });

  it('is never over budget and stops only when no move that gains fits (random layers, many ratios)', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 60; trial++) {
      const layers: AllocationLayer[] = [];
      const count = 1 + Math.floor(rng.next() * 5);
      for (let i = 0; i < count; i++) {
        const m = 1 + Math.floor(rng.next() * 40);
        const n = 1 + Math.floor(rng.next() * 40);
        const bias = rng.next() < 0.5 ? n : 0;
        const r = Math.min(m, n);
        const decay = 0.3 + rng.next();
        const s = Array.from({ length: r }, (_, j) => Math.exp(-decay * j) * (1 + 10 * rng.next()));
        s.sort((x, y) => y - x);
        layers.push({ name: `l${i}`, m, n, params: m * n + bias, spectrum: { s, total: s.reduce((t, v) => t + v * v, 0) } });
      }
      for (const ratio of [0.01, 0.05, 0.1, 0.2, 0.33, 0.5, 0.75, 0.9, 1]) {
        for (const score of ['relative', 'absolute', 'balanced'] as AllocationScore[]) {
          let result;
          try {
            result = allocateRanks(layers, ratio, score);
          } catch (err) {
            assert.ok(err instanceof BudgetUnreachable && err.smallest > ratio);
            continue;
          }
          const { params } = outcome(layers, result.ranks);
          assert.equal(params, result.paramsAfter);
          assert.ok(params <= ratio * result.paramsBefore + 1e-9, `${params} > ${ratio}·${result.paramsBefore}`);
          const left = result.budget - params;
          for (const l of layers) {
            const rank: number | null = result.ranks.get(l.name) ?? null;
            const useful = maxUsefulRank(l.m, l.n);
            if (useful < 1) {
              assert.equal(rank, null);
              continue;
            }
            if (rank === null) continue;
            assert.ok(rank >= 1 && rank <= useful);
            // Nothing that gains was left affordable: neither the next component nor the whole kernel.
            const s = l.spectrum?.s as number[];
            if (rank < useful && (s[rank] as number) > 0) assert.ok(l.m + l.n > left, `${l.name} could still take component ${rank + 1}`);
            const total = l.spectrum?.total as number;
            const tail = total - s.slice(0, rank).reduce((t, v) => t + v * v, 0);
            if (tail > 1e-9 * total) assert.ok(l.m * l.n - rank * (l.m + l.n) > left, `${l.name} could still be kept whole`);
          }
        }
      }
    }
  });
});

/** Σ of each layer's measured loss at its rank (whole: none), and the parameters. */
function lossOf(layers: readonly AllocationLayer[], ranks: ReadonlyMap<string, number | null>): { loss: number; params: number } {
  let loss = 0;
  let params = 0;
  for (const l of layers) {
    const rank = ranks.get(l.name) ?? null;
    if (rank === null) params += l.params;
    else {
      loss += l.spectrum?.losses?.[rank] as number;
      params += l.params - l.m * l.n + rank * (l.m + l.n);
    }
  }
  return { loss, params };
}

/** A layer m×n with bias whose measured loss at rank k is `loss(k)`. */
function measuredLayer(name: string, m: number, n: number, loss: (k: number) => number): AllocationLayer {
  const useful = maxUsefulRank(m, n);
  const s = Array.from({ length: useful }, (_, i) => 1 / (i + 1));
  return { name, m, n, params: m * n + n, spectrum: { s, total: s.reduce((t, v) => t + v * v, 0) * 1.5, losses: Float64Array.from({ length: useful + 1 }, (_, k) => (k === 0 ? 0 : loss(k))) } };
}

describe('allocateRanks, measured losses', () => {
  it('finds the allocation of least total loss within the budget: equal to brute force, on random curves, never over', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 15; trial++) {
      const layers: AllocationLayer[] = [];
      const count = 1 + Math.floor(rng.next() * 3);
      for (let i = 0; i < count; i++) {
        const m = 2 + Math.floor(rng.next() * 20);
        const n = 2 + Math.floor(rng.next() * 20);
        const scale = 0.1 + 5 * rng.next();
        const decay = 0.1 + rng.next();
        // Not convex, not even monotone: measured curves are noisy.
        layers.push(measuredLayer(`l${i}`, m, n, (k) => scale * Math.exp(-decay * k) * (0.8 + 0.4 * rng.next())));
      }
      const choices = (l: AllocationLayer): Array<number | null> => [...Array.from({ length: maxUsefulRank(l.m, l.n) }, (_, i) => i + 1), null];
      for (const ratio of [0.05, 0.15, 0.3, 0.5, 0.8, 1]) {
        let result;
        try {
          result = allocateRanks(layers, ratio, 'measured');
        } catch (err) {
          assert.ok(err instanceof BudgetUnreachable && err.smallest > ratio);
          continue;
        }
        const got = lossOf(layers, result.ranks);
        assert.equal(got.params, result.paramsAfter);
        assert.ok(got.params <= result.budget, `${got.params} > ${result.budget}`);
        // Brute force: every combination of ranks 1..break-even or whole.
        let best = Infinity;
        const walk = (i: number, ranks: Map<string, number | null>): void => {
          if (i === layers.length) {
            const o = lossOf(layers, ranks);
            if (o.params <= result.budget) best = Math.min(best, o.loss);
            return;
          }
          const l = layers[i] as AllocationLayer;
          for (const r of maxUsefulRank(l.m, l.n) < 1 ? [null] : choices(l)) walk(i + 1, new Map([...ranks, [l.name, r]]));
        };
        walk(0, new Map());
        assert.ok(Math.abs(got.loss - best) < 1e-9, `trial ${trial} ratio ${ratio}: loss ${got.loss}, optimum ${best}`);
      }
    }
  });

  it('spends where the loss falls, not where the spectrum does: a layer whose loss stays high until a large rank gets it', () => {
    // Same shapes and spectra; a's loss drops only at rank 6, b's is small from rank 1.
    const a = measuredLayer('a', 20, 20, (k) => (k < 6 ? 5 : 0.1));
    const b = measuredLayer('b', 20, 20, (k) => 0.5 / k);
    const result = allocateRanks([a, b], 0.4, 'measured');
    assert.equal(result.ranks.get('a'), 6);
    // The greedy on spectra gives both the same ranks (identical spectra).
    const spectral = allocateRanks([a, b], 0.4, 'relative');
    assert.ok(Math.abs((spectral.ranks.get('a') as number) - (spectral.ranks.get('b') as number)) <= 1);
  });

  it('with a judge, keeps the candidate it measures best, always within the budget', () => {
    // b's loss is far larger than a's: the exact search gives b the higher rank, the uniform rank does not.
    const a = measuredLayer('a', 20, 20, (k) => 0.01 / k);
    const b = measuredLayer('b', 20, 10, (k) => 5 / k);
    const uniform = uniformAllocation([a, b], 0.3);
    assert.ok(uniform !== undefined);
    assert.equal(uniform.ranks.get('a'), uniform.ranks.get('b'));
    assert.ok(uniform.paramsAfter <= uniform.budget);
    const seen: string[] = [];
    // A judge that prefers the uniform allocation over everything else.
    const judged = allocateJudged([a, b], 0.3, (ranks) => {
      seen.push(JSON.stringify([...ranks]));
      return ranks.get('a') === ranks.get('b') ? 0 : 1;
    });
    assert.deepEqual([...judged.ranks], [...uniform.ranks]);
    assert.equal(judged.loss, 0);
    assert.equal(new Set(seen).size, seen.length, 'each candidate measured once');
    assert.ok(seen.length >= 2 && seen.length <= 4);
    // A judge that agrees with the additive losses keeps the exact search's answer.
    const additive = allocateRanks([a, b], 0.3, 'measured');
    const agreeing = allocateJudged([a, b], 0.3, (ranks) => lossOf([a, b], ranks).loss);
    assert.ok(lossOf([a, b], agreeing.ranks).loss <= lossOf([a, b], additive.ranks).loss + 1e-12);
    assert.ok(agreeing.paramsAfter <= agreeing.budget);
  });

  it('measures ranks 1..8 and then about 25% apart up to the break-even; interpolates along the whitened tail', () => {
    assert.deepEqual(candidateRanks(5), [1, 2, 3, 4, 5]);
    assert.deepEqual(candidateRanks(8), [1, 2, 3, 4, 5, 6, 7, 8]);
    const grid = candidateRanks(192);
    assert.deepEqual(grid.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 10, 13]);
    assert.equal(grid[grid.length - 1], 192);
    for (let i = 1; i < grid.length; i++) assert.ok((grid[i] as number) > (grid[i - 1] as number) && (grid[i] as number) <= Math.max((grid[i - 1] as number) + 1, Math.round((grid[i - 1] as number) * 1.25)));
    assert.ok(grid.length < 30);
    // σ² = 4, 3, 2, 1 (total 10): losses measured at ranks 1 and 4; rank 2 restores 3 of the 6 between.
    const losses = interpolateLosses([1, 4], [0.6, 0], [2, Math.sqrt(3), Math.sqrt(2), 1], 10, 4);
    assert.deepEqual(Array.from(losses).map((v) => Number(v.toFixed(12))), [0, 0.6, 0.3, 0.1, 0]);
  });
});

const models = readdirSync(FIXTURES)
  .flatMap((name) => [path.join(FIXTURES, name, 'model.json'), path.join(FIXTURES, name, 'model', 'model.json')])
  .filter((file) => existsSync(file));
// Every ratio re-plans the fixture from its spectra, so the spread is kept short: the floor (refused, with
// the smallest reachable ratio checked instead), tight budgets, the middle, and no budget at all. The
// random-layers property above covers many ratios where planning is cheap.
const RATIOS = [0.013, 0.025, 0.05, 0.077, 0.1, 0.15, 0.2, 0.3, 0.333, 0.5, 0.75, 0.999, 1];

describe('--ratio on every fixture (kernels\' spectra)', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('finds fixtures to check', () => assert.ok(models.length >= 8, models.join(', ')));

  for (const file of models) {
    it(`${path.relative(FIXTURES, file)}: never over budget at ${RATIOS.length} ratios, or refused with a ratio that works`, async () => {
      const { stored } = await readModelChecked(file);
      const plan = (fraction: number) => planStored(file, stored.json.modelTopology, stored.weights, { kind: 'ratio', fraction }, undefined, { seed: 42 });
      let planned = 0;
      for (const fraction of RATIOS) {
        let p;
        try {
          p = plan(fraction);
        } catch (err) {
          assert.ok(err instanceof UsageError, String(err));
          const smallest = Number(/smallest reachable ratio is ([0-9.e-]+)/.exec(err.message)?.[1]);
          assert.ok(smallest > fraction, err.message);
          assert.ok(plan(smallest).budget !== undefined, `the ratio named (${smallest}) must work`);
          continue;
        }
        planned++;
        const budget = p.budget;
        assert.ok(budget !== undefined);
        const considered = p.entries.filter((e) => e.reason !== 'not selected');
        const before = considered.reduce((sum, e) => sum + e.paramsBefore, 0);
        const after = considered.reduce((sum, e) => sum + e.paramsAfter, 0);
        assert.equal(budget.paramsBefore, before);
        assert.equal(budget.paramsAfter, after);
        assert.ok(after <= fraction * before, `${after} > ${fraction}·${before}`);
        for (const e of considered) assert.ok(e.rank === null || (e.rank >= 1 && e.rank <= e.maxUsefulRank), `${e.name}: rank ${e.rank}`);
      }
      assert.ok(planned > RATIOS.length / 2, `only ${planned} ratios could be planned`);
    });
  }
});
