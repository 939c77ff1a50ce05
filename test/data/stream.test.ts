/**
 * Streaming a CSV file: one checking pass, a fixed seeded hold-out, each epoch every training row
 * exactly once in a seeded order, through a bounded shuffle buffer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { DatasetError } from '../../src/errors.js';
import { createRng } from '../../src/data/random.js';
import { openStream, shouldStream } from '../../src/data/stream.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, useTempDirAndLeakCheck } from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();

/** A CSV of `rows` rows: feature j of row i is i * 10 + j, label i % 3. */
async function numberedCsv(name: string, rows: number, features = 4, extra = ''): Promise<string> {
  const lines = ['a,b,c,d,label'.split(',').slice(0, features).concat('label').join(',')];
  for (let i = 0; i < rows; i++) lines.push([...Array.from({ length: features }, (_, j) => i * 10 + j), i % 3].join(','));
  const file = path.join(tempDir(), name);
  await writeFile(file, lines.join('\n') + '\n' + extra);
  return file;
}

async function epochRows(stream: Awaited<ReturnType<typeof openStream>>, batchSize: number, seed: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const batch of stream.train.batches(batchSize, createRng(seed))) {
    assert.ok(batch.count <= batchSize);
    for (let r = 0; r < batch.count; r++) ids.push((batch.x[r * batch.featureSize] as number) / 10);
  }
  return ids;
}

describe('openStream', () => {
  it('holds out a fixed, seeded share and streams every other row once per epoch', async () => {
    const file = await numberedCsv('rows.csv', 10_000);
    const a = await openStream(file, {}, 0.2, 7);
    const b = await openStream(file, {}, 0.2, 7);
    const c = await openStream(file, {}, 0.2, 8);
    assert.equal(a.samples, 10_000);
    assert.deepEqual(Array.from(a.validation.x), Array.from(b.validation.x), 'same seed, same hold-out');
    assert.notDeepEqual(Array.from(a.validation.x), Array.from(c.validation.x), 'another seed, another hold-out');
    assert.ok(Math.abs(a.validation.count - 2000) < 200, `about 20% held out: ${a.validation.count}`);
    const held = new Set(Array.from({ length: a.validation.count }, (_, r) => (a.validation.x[r * 4] as number) / 10));
    const first = await epochRows(a, 64, 1);
    const second = await epochRows(a, 64, 2);
    assert.equal(first.length, a.train.count);
    assert.deepEqual([...first].sort((x, y) => x - y), Array.from({ length: 10_000 }, (_, i) => i).filter((i) => !held.has(i)));
    assert.deepEqual([...second].sort((x, y) => x - y), [...first].sort((x, y) => x - y));
    assert.notDeepEqual(first, second, 'each epoch has its own order');
    assert.deepEqual(await epochRows(a, 64, 1), first, 'same seed, same order');
    // The buffer (4096 rows) shuffles far beyond a batch: rows leave out of file order.
    let displaced = 0;
    first.forEach((id, k) => (displaced += Math.abs(id - k) > 100 ? 1 : 0));
    assert.ok(displaced > first.length / 2);
    // Labels travel with their rows.
    for await (const batch of a.train.batches(100, createRng(3))) {
      for (let r = 0; r < batch.count; r++) assert.equal(batch.y?.[r], ((batch.x[r * 4] as number) / 10) % 3);
    }
    assert.deepEqual(a.labels && [a.labels.min, a.labels.max], [0, 2]);
  });

  it('holds out a seeded uniform sample of the whole file, not its beginning, and never trains on it', async () => {
    // 1,000 rows sorted by label (row i has label floor(i / 100)); a cap of 50 held-out rows stands in for
    // the real 10,000 on a file larger than it.
    const rows = 1000;
    const lines = ['id,f,label'];
    for (let i = 0; i < rows; i++) lines.push(`${i},${(i % 7) / 7},${Math.floor(i / 100)}`);
    const file = path.join(tempDir(), 'sorted.csv');
    await writeFile(file, lines.join('\n') + '\n');
    const cap = 50;
    for (const seed of [1, 2, 3, 42]) {
      const a = await openStream(file, {}, 0.2, seed, undefined, cap);
      assert.equal(a.validation.count, cap, 'round(1000 × 0.2) = 200 rows, capped at 50');
      const held = Array.from({ length: cap }, (_, r) => a.validation.x[r * 2] as number);
      // Held-out labels span the whole range...
      const labels = Array.from(a.validation.y ?? []);
      assert.deepEqual(labels, held.map((i) => Math.floor(i / 100)), 'labels travel with their rows');
      assert.ok(Math.min(...labels) <= 1 && Math.max(...labels) >= 8, `seed ${seed}: held-out labels ${labels.join(',')}`);
      // ...roughly uniformly: the Kolmogorov–Smirnov distance of the held-out row positions from the
      // uniform distribution is below its 1% critical value (1.63 / √n). A prefix sample scores about 0.75.
      const sorted = [...held].sort((x, y) => x - y);
      const ks = Math.max(...sorted.map((v, k) => Math.max(Math.abs((k + 1) / cap - (v + 1) / rows), Math.abs(k / cap - v / rows))));
      assert.ok(ks < 1.63 / Math.sqrt(cap), `seed ${seed}: KS distance ${ks.toFixed(3)}`);
      // Same seed, same split; no held-out row is trained on, and every other row is.
      const again = await openStream(file, {}, 0.2, seed, undefined, cap);
      assert.deepEqual(Array.from(again.validation.x), Array.from(a.validation.x));
      const trained: number[] = [];
      for await (const batch of a.train.batches(64, createRng(seed))) for (let r = 0; r < batch.count; r++) trained.push(batch.x[r * 2] as number);
      assert.equal(trained.length, rows - cap);
      const heldSet = new Set(held);
      assert.ok(!trained.some((i) => heldSet.has(i)), 'a held-out row was trained on');
      assert.deepEqual([...trained, ...held].sort((x, y) => x - y), Array.from({ length: rows }, (_, i) => i));
    }
    const one = await openStream(file, {}, 0.2, 1, undefined, cap);
    const other = await openStream(file, {}, 0.2, 2, undefined, cap);
    assert.notDeepEqual(Array.from(one.validation.x), Array.from(other.validation.x), 'another seed, another sample');
    // Under the cap the count is the one a file read whole holds out.
    assert.equal((await openStream(file, {}, 0.2, 1)).validation.count, 200);
  });

  it('checks every row in the first pass, naming the line of a bad one', async () => {
    const file = await numberedCsv('bad-end.csv', 500, 4, '1,2,3,x,0\n');
    await assert.rejects(openStream(file, {}, 0.2, 1), (err: unknown) => err instanceof DatasetError && /line 502, column 4/.test(err.message));
  });

  it('streams CSV/TSV only, and large files by default', async () => {
    assert.equal(await shouldStream(DIGITS_TRAIN, undefined), false, 'small files load whole');
    assert.equal(await shouldStream(DIGITS_TRAIN, true), true);
    await assert.rejects(shouldStream(path.join(tempDir(), 'x.jsonl'), true), /only \.csv and \.tsv files can be streamed/);
  });
});

describe('compress() with a streamed file', () => {
  it('fine-tunes as well as from memory and says it streamed', async () => {
    const common = { model: DIGITS_MLP, rank: '16', data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 10 };
    const streamed = await compress({ ...common, stream: true, out: path.join(tempDir(), 'streamed') });
    const loaded = await compress({ ...common, stream: false, out: path.join(tempDir(), 'loaded') });
    assert.equal(streamed.report?.data?.streamed, true);
    const a = streamed.report?.evaluation?.fineTuned?.accuracy as number;
    const b = loaded.report?.evaluation?.fineTuned?.accuracy as number;
    assert.ok(Math.abs(a - b) <= 0.02, `streamed ${a}, loaded ${b}`);
  });

  it('refuses a streamed label outside the classes before training', async () => {
    const file = path.join(tempDir(), 'bad-label.csv');
    const header = Array.from({ length: 64 }, (_, i) => `p${i}`).concat('label').join(',');
    const row = (label: number): string => Array.from({ length: 64 }, () => 1).concat(label).join(',');
    await writeFile(file, [header, row(1), row(3), row(11), row(2)].join('\n') + '\n');
    await assert.rejects(
      compress({ model: DIGITS_MLP, rank: '16', data: file, stream: true, out: path.join(tempDir(), 'x') }),
      (err: unknown) => err instanceof DatasetError && err.file === file && /^line 4: label 11 is not a class index of this model \(0\.\.9\)$/.test(err.message),
    );
  });
});
