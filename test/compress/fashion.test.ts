/**
 * The realistic fixture, fashion-mlp (a 784-256-128-10 Fashion-MNIST MLP), on its committed 500-image
 * samples, and the IDX reader and .npy writer that fixtures/make/fashion.ts and bench/defaults.ts use
 * for Debian's full files (which the tests never read).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { readDataset } from '../../src/data/dataset.js';
import { evaluate } from '../../src/evaluate.js';
import { npyUint8, parseIdx } from '../../fixtures/make/fashion-data.js';
import { FIXTURES, useTempDirAndLeakCheck } from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();
const MODEL = path.join(FIXTURES, 'fashion-mlp', 'model.json');
const sample = (name: 'train' | 'test') => ({ file: path.join(FIXTURES, 'fashion', `${name}.npy`), labels: path.join(FIXTURES, 'fashion', `${name}-labels.npy`) });

/** An IDX file as LeCun's format lays it out: 0, 0, type, rank, big-endian uint32 dims, values. */
function idx(type: number, dims: number[], values: number[]): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, Buffer.from(values)]));
}

describe('Fashion-MNIST files', () => {
  it('parseIdx reads the dimensions big-endian and the uint8 values row-major', () => {
    const { dims, values } = parseIdx(idx(0x08, [2, 3, 1], [1, 2, 3, 4, 5, 255]), 'x');
    assert.deepEqual(dims, [2, 3, 1]);
    assert.deepEqual(Array.from(values), [1, 2, 3, 4, 5, 255]);
    assert.deepEqual(parseIdx(idx(0x08, [300], new Array<number>(300).fill(7)), 'y').dims, [300]);
  });

  it('parseIdx refuses other value types and a size that disagrees with the header', () => {
    assert.throws(() => parseIdx(idx(0x0d, [1], [0, 0, 0, 0]), 'f.idx'), /f\.idx: IDX type 0xd/);
    assert.throws(() => parseIdx(idx(0x08, [2, 2], [1, 2, 3]), 'short.idx'), /short\.idx: 3 bytes of values, the header says 4/);
    assert.throws(() => parseIdx(new Uint8Array([1, 0, 8, 1]), 'bad.idx'), /not an IDX file/);
  });

  it('npyUint8 writes .npy files lowrank reads back value for value, 2-D features and 1-D labels', async () => {
    const features = Uint8Array.from({ length: 3 * 784 }, (_, i) => (i * 37) % 256);
    const labels = Uint8Array.from([9, 0, 4]);
    const x = path.join(tempDir(), 'x.npy');
    const y = path.join(tempDir(), 'y.npy');
    await writeFile(x, npyUint8([3, 784], features));
    await writeFile(y, npyUint8([3], labels));
    const ds = await readDataset(x, { labels: y, inputScale: 1 / 255 });
    assert.equal(ds.count, 3);
    assert.equal(ds.featureSize, 784);
    assert.deepEqual(Array.from(ds.y ?? []), [9, 0, 4]);
    for (let i = 0; i < features.length; i++) assert.equal(ds.x[i], Math.fround((features[i] as number) * (1 / 255)));
  });
});

describe('the fashion-mlp fixture', () => {
  it('classifies held-out Fashion-MNIST images as a trained MLP does (above 85%)', async () => {
    const test = sample('test');
    const r = await evaluate({ model: MODEL, data: test.file, labels: test.labels, inputScale: '1/255', backend: 'wasm' });
    assert.equal(r.samples, 500);
    assert.ok((r.metrics.accuracy as number) >= 0.85, `accuracy ${r.metrics.accuracy}`);
  });

  it('at 10× fewer factorizable parameters, default flags win back accuracy from 400 training images', async () => {
    // With the old defaults (labels only, 3 epochs) this run gained 0.2 points; the measured defaults
    // (half distillation, up to 10 epochs, patience 2; bench/defaults.ts) gain over 2.
    const train = sample('train');
    const test = sample('test');
    const { report } = await compress({
      model: MODEL,
      rank: 15,
      data: train.file,
      labels: train.labels,
      validationData: test.file,
      validationLabels: test.labels,
      inputScale: '1/255',
      backend: 'wasm',
      out: path.join(tempDir(), 'out'),
    });
    assert.ok(report?.evaluation?.fineTuned && report.training);
    assert.ok(report.input.factorizableParams >= 10 * report.output.factorizableParams, `${report.input.factorizableParams} → ${report.output.factorizableParams}`);
    assert.equal(report.training.distill, 0.5);
    assert.equal(report.training.patience, 2);
    const { original, factorized, fineTuned } = report.evaluation;
    const [a, b, f] = [original.accuracy, factorized.accuracy, fineTuned.accuracy] as [number, number, number];
    console.log(`fashion-mlp rank 15, defaults: ${(a * 100).toFixed(2)}% → ${(b * 100).toFixed(2)}% → ${(f * 100).toFixed(2)}%`);
    assert.ok(b < a - 0.03, `the truncation costs accuracy: ${a} → ${b}`);
    assert.ok(f >= b + 0.01, `fine-tuning wins back at least a point: ${b} → ${f}`);
  });
});
