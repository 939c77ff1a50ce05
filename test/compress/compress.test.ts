/**
 * The library entry point: reproducibility, events, memory, and what it writes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compress, type CompressEvent } from '../../src/compress/index.js';
import { readModel } from '../../src/io/load.js';
import { ReportSchema } from '../../src/report/schema.js';
import { initBackend, tf } from '../../src/tf.js';

const root = path.resolve(import.meta.dirname, '../..');
const model = path.join(root, 'fixtures/digits-mlp/model.json');
const quantized = path.join(root, 'fixtures/digits-mlp-quantized/model.json');
const train = path.join(root, 'fixtures/digits/train.csv');

let tmp: string;
before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-compress-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function shardBytes(dir: string): Promise<Buffer> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.bin')).sort();
  return Buffer.concat(await Promise.all(names.map((n) => readFile(path.join(dir, n)))));
}

describe('compress()', () => {
  it('gives the same output weights for the same seed, and different ones for another seed', async () => {
    const common = { model, rank: '8', data: train, epochs: 2, batchSize: 64 };
    await compress({ ...common, seed: 7, out: path.join(tmp, 'a') });
    await compress({ ...common, seed: 7, out: path.join(tmp, 'b') });
    await compress({ ...common, seed: 8, out: path.join(tmp, 'c') });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((d) => shardBytes(path.join(tmp, d))));
    assert.ok(a?.equals(b as Buffer), 'same seed, same bytes');
    assert.ok(!a?.equals(c as Buffer), 'another seed, other bytes');
  });

  it('emits typed progress events and does not leak tensors', async () => {
    const events: CompressEvent[] = [];
    const before = tf.memory().numTensors;
    const { report, files } = await compress({ model, rank: 'dense_2=12', data: train, epochs: 2, out: path.join(tmp, 'events'), onEvent: (e) => events.push(e) });
    assert.equal(tf.memory().numTensors, before, 'every tensor compress() made is disposed');
    assert.ok(report !== null);
    const epochs = events.filter((e) => e.status === 'epoch');
    assert.deepEqual(epochs.map((e) => e.epoch), [1, 2]);
    assert.equal(report.training?.epochs.length, 2);
    assert.ok(events.some((e) => e.status === 'batch'));
    assert.deepEqual(events.filter((e) => e.status === 'stage').map((e) => e.stage), ['load', 'factorize', 'evaluate', 'fine-tune', 'measure', 'write']);
    assert.deepEqual(files.map((f) => path.basename(f)).sort(), ['group1-shard1of1.bin', 'model.json', 'report.json']);
    ReportSchema.parse(report);
    assert.deepEqual(report.layers.map((l) => l.rank), [null, 12, null]);
    assert.equal(report.layers[0]?.reason, 'not selected');
  });

  it('keeps quantized weights of untouched layers exactly as stored when nothing is trained', async () => {
    const out = path.join(tmp, 'quantized');
    await compress({ model: quantized, rank: 'dense_2=16', epochs: 0, out });
    const input = await readModel(quantized);
    const output = await readModel(path.join(out, 'model.json'));
    for (const name of ['dense_1/kernel', 'dense_1/bias', 'dense_3/kernel', 'dense_3/bias', 'dense_2/bias']) {
      const a = input.weights.find((w) => w.entry.name === name);
      const b = output.weights.find((w) => w.entry.name === name);
      assert.ok(a && b, name);
      assert.deepEqual(b.entry, a.entry, `${name} keeps its manifest entry`);
      assert.ok(Buffer.from(b.bytes).equals(Buffer.from(a.bytes)), `${name} keeps its bytes`);
    }
    const factor = output.weights.find((w) => w.entry.name === 'dense_2/kernel');
    assert.deepEqual(factor?.entry.shape, [16, 128]);
    assert.equal(factor?.entry.quantization, undefined, 'new factors are float32');
  });

  it('does not write anything on a dry run', async () => {
    const out = path.join(tmp, 'dry');
    const { files, plan, report } = await compress({ model, rank: '16', out, dryRun: true });
    assert.deepEqual(files, []);
    assert.equal(report, null, 'a dry run measures nothing');
    assert.equal(plan.entries.filter((e) => e.rank !== null).length, 2);
    await assert.rejects(readdir(out), { code: 'ENOENT' });
  });
});
