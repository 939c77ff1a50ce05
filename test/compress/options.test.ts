import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { formatRank, parseRank, resolveCompressOptions, type CompressInput } from '../../src/compress/options.js';
import { LowrankError, UsageError } from '../../src/errors.js';

function isUsageError(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.ok(err instanceof LowrankError);
    assert.equal(err.code, 'USAGE');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('parseRank', () => {
  it('a plain positive integer is a fixed rank for every layer', () => {
    assert.deepEqual(parseRank('16'), { kind: 'fixed', rank: 16 });
    assert.deepEqual(parseRank(' 8 '), { kind: 'fixed', rank: 8 });
    assert.deepEqual(parseRank('1'), { kind: 'fixed', rank: 1 });
  });

  it('name=k,name=k is a per-layer spec, in the given order', () => {
    const spec = parseRank('dense_1=16,dense_2=8');
    assert.equal(spec.kind, 'per-layer');
    assert.ok(spec.kind === 'per-layer');
    assert.deepEqual([...spec.ranks], [['dense_1', 16], ['dense_2', 8]]);
    const spaced = parseRank(' dense_1 = 16 , dense_2=8 ');
    assert.ok(spaced.kind === 'per-layer');
    assert.deepEqual([...spaced.ranks], [['dense_1', 16], ['dense_2', 8]]);
  });

  it('formatRank writes back what parseRank reads', () => {
    for (const text of ['16', 'dense_1=16,dense_2=8']) assert.equal(formatRank(parseRank(text)), text);
  });

  const refused: Array<[string, RegExp]> = [
    ['0', /--rank/],
    ['-3', /--rank/],
    ['abc', /--rank/],
    ['1.5', /--rank/],
    ['', /--rank/],
    ['   ', /--rank/],
    ['1e3', /--rank/],
    ['a=0', /--rank: "a=0"/],
    ['a=x', /--rank: "a=x"/],
    ['a=-1', /--rank: "a=-1"/],
    ['a=1.5', /--rank: "a=1\.5"/],
    ['=4', /--rank: "=4"/],
    ['a=1,', /--rank: ""/],
    ['a=1,a=2', /--rank: layer "a" is given twice/],
  ];
  for (const [text, pattern] of refused) {
    it(`refuses ${JSON.stringify(text)} with a UsageError`, () => {
      assert.throws(() => parseRank(text), isUsageError(pattern));
    });
  }
});

describe('resolveCompressOptions', () => {
  const model = path.join('models', 'digits', 'model.json');
  const minimal: CompressInput = { model, rank: '16', data: 'train.csv' };

  it('fills in the defaults', () => {
    const o = resolveCompressOptions(minimal);
    // The fine-tuning defaults bench/defaults.ts chose (src/compress/defaults.ts).
    assert.equal(o.epochs, 10);
    assert.equal(o.patience, 2);
    assert.equal(o.distill, undefined, 'the objective resolves it: 0.5 with labels, 1 without');
    assert.equal(o.lrSchedule, 'plateau');
    assert.equal(o.train, 'all');
    assert.equal(o.batchSize, 32);
    assert.equal(o.validationSplit, 0.2);
    assert.equal(o.seed, 42);
    assert.equal(o.learningRate, 1e-3);
    assert.equal(o.force, false);
    assert.equal(o.dryRun, false);
    assert.equal(o.backend, 'auto');
    assert.deepEqual(o.rank, { kind: 'fixed', rank: 16 });
    assert.equal(o.out, `${path.resolve('models', 'digits')}-lowrank`);
    assert.equal(o.data, 'train.csv');
  });

  it('keeps given values and accepts a parsed rank spec', () => {
    const ranks = new Map([['dense_1', 4]]);
    const o = resolveCompressOptions({ ...minimal, rank: { kind: 'per-layer', ranks }, epochs: 0, batchSize: 7, validationSplit: 0, seed: 0, learningRate: 0.5, out: 'small', backend: 'cpu' });
    assert.deepEqual(o.rank, { kind: 'per-layer', ranks });
    assert.equal(o.epochs, 0);
    assert.equal(o.batchSize, 7);
    assert.equal(o.validationSplit, 0);
    assert.equal(o.seed, 0);
    assert.equal(o.learningRate, 0.5);
    assert.equal(resolveCompressOptions({ ...minimal, patience: 0 }).patience, 0, '--patience 0 runs every epoch');
    assert.equal(o.out, 'small');
    assert.equal(o.backend, 'cpu');
  });

  it('without data the default is to factorize only (no epochs)', () => {
    const o = resolveCompressOptions({ model, rank: '4' });
    assert.equal(o.epochs, 0);
    assert.equal(o.data, undefined);
  });

  it('epochs 0 needs no data', () => {
    const o = resolveCompressOptions({ model, rank: '4', epochs: 0 });
    assert.equal(o.data, undefined);
    assert.equal(o.epochs, 0);
  });

  const refused: Array<[string, Partial<CompressInput>, RegExp]> = [
    ['epochs -1', { epochs: -1 }, /--epochs/],
    ['epochs 1.5', { epochs: 1.5 }, /--epochs/],
    ['batchSize 0', { batchSize: 0 }, /--batch-size/],
    // The CLI turns a flag that is not a number into NaN (src/cli/compress.ts), so these must name it too.
    ['learningRate NaN', { learningRate: NaN }, /--learning-rate/],
    ['learningRate 0', { learningRate: 0 }, /--learning-rate/],
    ['validationSplit 1', { validationSplit: 1 }, /--validation-split/],
    ['validationSplit NaN', { validationSplit: NaN }, /--validation-split/],
    ['epochs NaN', { epochs: NaN }, /--epochs/],
    ['validationSplit -0.1', { validationSplit: -0.1 }, /--validation-split/],
    ['seed -1', { seed: -1 }, /--seed/],
    ['rank "0"', { rank: '0' }, /--rank/],
    ['epochs > 0 without data', { data: undefined, epochs: 2 }, /--epochs 2 fine-tunes, which needs --data/],
  ];
  for (const [label, change, pattern] of refused) {
    it(`refuses ${label} with a UsageError naming the option`, () => {
      assert.throws(() => resolveCompressOptions({ ...minimal, ...change }), isUsageError(pattern));
    });
  }
});

describe('numeric option messages', () => {
  it('state the allowed range', () => {
    const base = { model: 'm/model.json', rank: '4', data: 'x.csv' };
    assert.throws(() => resolveCompressOptions({ ...base, epochs: -1 }), /--epochs must be at least 0 \(allowed: 0 to 100000\)/);
    assert.throws(() => resolveCompressOptions({ ...base, batchSize: 1.5 }), /--batch-size must be a whole number \(allowed: 1 to 1048576\)/);
    assert.throws(() => resolveCompressOptions({ ...base, seed: -2 }), /--seed must be at least 0 \(allowed: 0 to 4294967295\)/);
    assert.throws(() => resolveCompressOptions({ ...base, validationSplit: 1 }), /--validation-split must be in \[0, 1\)/);
  });
});
