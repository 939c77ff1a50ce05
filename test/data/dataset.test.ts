import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DatasetError } from '../../src/errors.js';
import { readDataset, splitDataset, type Dataset } from '../../src/data/dataset.js';
import { fitsFloat32 } from '../../src/data/types.js';
import { createRng } from '../../src/data/random.js';
import { assertDatasetError } from '../helpers.js';

const fixtures = fileURLToPath(new URL('../fixtures/datasets/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'lowrank-dataset-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Writes a one-off file for a case too small to deserve a fixture. */
async function scratchFile(name: string, content: string): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, content);
  return file;
}

const rows = (ds: Dataset): number[][] =>
  Array.from({ length: ds.count }, (_, i) => Array.from(ds.x.subarray(i * ds.featureSize, (i + 1) * ds.featureSize)));
const labels = (ds: Dataset): number[] | undefined => (ds.y === undefined ? undefined : Array.from(ds.y));

describe('readDataset: CSV', () => {
  it('reads a file with a header, label last by default', async () => {
    const file = fixture('header.csv');
    const ds = await readDataset(file);
    assert.equal(ds.file, file);
    assert.equal(ds.count, 3);
    assert.equal(ds.featureSize, 3);
    assert.equal(ds.labelSize, 1);
    assert.ok(ds.x instanceof Float32Array);
    assert.deepEqual(rows(ds), [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    assert.deepEqual(labels(ds), [0, 1, 2]);
  });

  it('reads a file without a header, accepting signs, decimals and exponents', async () => {
    const ds = await readDataset(fixture('no-header.csv'));
    assert.equal(ds.count, 3);
    assert.deepEqual(rows(ds), [
      [1, 2, 3],
      [4.5, -0.5, 6],
      [0.25, 100, -0],
    ]);
    assert.deepEqual(labels(ds), [0, 1, 2]);
  });

  it('picks the label column by header name', async () => {
    const ds = await readDataset(fixture('header.csv'), { label: 'b' });
    assert.deepEqual(rows(ds), [
      [1, 3, 0],
      [4, 6, 1],
      [7, 9, 2],
    ]);
    assert.deepEqual(labels(ds), [2, 5, 8]);
  });

  it('picks the label column by index', async () => {
    const ds = await readDataset(fixture('no-header.csv'), { label: '0' });
    assert.deepEqual(labels(ds), [1, 4.5, 0.25]);
    assert.deepEqual(rows(ds)[0], [2, 3, 0]);
  });

  it('counts a negative label index from the end', async () => {
    const last = await readDataset(fixture('header.csv'), { label: '-1' });
    assert.deepEqual(labels(last), [0, 1, 2]);
    const secondLast = await readDataset(fixture('header.csv'), { label: '-2' });
    assert.deepEqual(labels(secondLast), [3, 6, 9]);
    assert.deepEqual(rows(secondLast)[0], [1, 2, 0]);
  });

  it('treats every column as a feature with label "none"', async () => {
    const ds = await readDataset(fixture('header.csv'), { label: 'none' });
    assert.equal(ds.featureSize, 4);
    assert.equal(ds.labelSize, 0);
    assert.equal(ds.y, undefined);
    assert.deepEqual(rows(ds)[2], [7, 8, 9, 2]);
  });

  it('rejects a label index out of range', async () => {
    const file = fixture('header.csv');
    await assertDatasetError(file, /^label column index 4 is out of range: the file has 4 columns/, { label: '4' });
    await assertDatasetError(file, /^label column index -5 is out of range/, { label: '-5' });
  });

  it('rejects a label name missing from the header, listing the header names', async () => {
    await assertDatasetError(fixture('header.csv'), 'no column named "target"; the header has "a", "b", "c", "label"', {
      label: 'target',
    });
  });

  it('rejects a label name when the file has no header', async () => {
    await assertDatasetError(fixture('no-header.csv'), /^label column "target" is a name, but the file has no header row/, {
      label: 'target',
    });
  });

  it('rejects an ambiguous label name', async () => {
    const file = await scratchFile('duplicate-header.csv', 'a,label,label\n1,2,3\n');
    await assertDatasetError(file, /^label column "label" is ambiguous/, { label: 'label' });
  });

  it('reads CRLF line endings', async () => {
    const ds = await readDataset(fixture('crlf.csv'));
    assert.deepEqual(rows(ds), [
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(labels(ds), [0, 1]);
  });

  it('skips blank lines, trailing ones included', async () => {
    const ds = await readDataset(fixture('trailing-blank-lines.csv'));
    assert.equal(ds.count, 2);
    assert.equal(ds.x.length, 4);
    assert.equal(ds.y?.length, 2);
  });

  it('ignores a byte order mark', async () => {
    const file = await scratchFile('bom.csv', '\uFEFFa,label\n1,0\n');
    const ds = await readDataset(file);
    assert.deepEqual(rows(ds), [[1]]);
  });

  it('reads tab-separated files', async () => {
    const ds = await readDataset(fixture('tabs.tsv'));
    assert.deepEqual(rows(ds), [
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(labels(ds), [0, 1]);
  });

  it('names the file line of a row with the wrong number of cells', async () => {
    // Line 3 is blank: line numbers are file lines, not row counts.
    await assertDatasetError(fixture('wrong-column-count.csv'), 'line 5: expected 3 cells, found 2');
  });

  it('names line and column of a non-numeric cell', async () => {
    await assertDatasetError(fixture('non-numeric.csv'), 'line 2, column 2: "abc" is not a number');
  });

  it('rejects an empty cell', async () => {
    await assertDatasetError(fixture('empty-cell.csv'), 'line 3, column 2: empty cell');
  });

  it('rejects hexadecimal and infinite cells that Number() would accept', async () => {
    await assertDatasetError(await scratchFile('hex.csv', '1,2\n0x10,1\n'), 'line 2, column 1: "0x10" is not a number');
    await assertDatasetError(await scratchFile('inf.csv', '1,2\n3,Infinity\n'), /^line 2, column 2: "Infinity" is not a finite number/);
  });

  it('rejects a finite value beyond float32\'s range, feature or label, as the value stored', async () => {
    // 1e39 is a finite float64 but Infinity as float32; 3.4e38 fits, and so does a value that rounds down to float32's largest.
    await assertDatasetError(await scratchFile('big.csv', 'a,b,label\n1,2,0\n3,1e39,1\n'), "line 3, column 2: 1e39 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-neg.csv', '1,2,0\n"-2e40",1,1\n'), "line 2, column 1: -2e40 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-label.csv', '1,2,0\n3,4,1e39\n'), "line 2, column 3: 1e39 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-scaled.csv', '1,2,0\n3e37,4,1\n'), "line 2, column 1: 3e37 times the input scale 100 exceeds float32's range (±3.4e38)", { inputScale: 100 });
    const ds = await readDataset(await scratchFile('edge.csv', `3.4e38,${3.4028235e38},-3.4e38\n`), { label: 'none' });
    assert.deepEqual(Array.from(ds.x), [Math.fround(3.4e38), Math.fround(3.4028235e38), Math.fround(-3.4e38)]);
    assert.ok(Array.from(ds.x).every(Number.isFinite));
  });

  it('tells float32 overflow exactly as storing does', () => {
    const largest = 3.4028234663852886e38; // float32's largest finite value
    const halfUlp = 2 ** 103;
    for (const v of [largest, largest + halfUlp * 0.999, largest + halfUlp, 1e39, 1.7976931348623157e308, 1e-50, 0]) {
      for (const signed of [v, -v]) assert.equal(fitsFloat32(signed), Number.isFinite(Math.fround(signed)), String(signed));
    }
  });

  it('rejects an empty file', async () => {
    await assertDatasetError(fixture('empty.csv'), /^no data rows/);
  });

  it('rejects a file with only a header', async () => {
    await assertDatasetError(fixture('header-only.csv'), /^no data rows/);
  });

  it('rejects a single column taken as the label', async () => {
    await assertDatasetError(await scratchFile('one-column.csv', '1\n2\n'), /no features/);
    const ds = await readDataset(join(scratch, 'one-column.csv'), { label: 'none' });
    assert.deepEqual(rows(ds), [[1], [2]]);
  });

  it('accepts rows of the expected feature size', async () => {
    const ds = await readDataset(fixture('header.csv'), { featureSize: 3 });
    assert.equal(ds.featureSize, 3);
  });

  it('rejects rows of another feature size, naming the first data row', async () => {
    await assertDatasetError(fixture('header.csv'), /^line 2: row has 3 features, the model expects 4/, { featureSize: 4 });
    await assertDatasetError(fixture('no-header.csv'), /^line 1: row has 3 features, the model expects 2/, { featureSize: 2 });
  });

  it('parses a 5 MB file whole: every row, every value as written', async () => {
    const columns = 65;
    const lines: string[] = [];
    const rng = createRng(7);
    let bytes = 0;
    while (bytes < 5_000_000) {
      const cells = Array.from({ length: columns }, () => (rng.next() * 200 - 100).toFixed(4));
      const line = cells.join(',');
      lines.push(line);
      bytes += line.length + 1;
    }
    const file = await scratchFile('big.csv', lines.join('\n') + '\n');
    const ds = await readDataset(file);
    assert.equal(ds.count, lines.length);
    assert.equal(ds.featureSize, columns - 1);
    // Speed belongs in bench/, not here (a shared machine makes timed tests flaky); check the values.
    const features = ds.x;
    for (const row of [0, Math.floor(lines.length / 2), lines.length - 1]) {
      const cells = (lines[row] as string).split(',').slice(0, columns - 1).map(Number);
      for (const [j, v] of cells.entries()) assert.equal(features[row * (columns - 1) + j], Math.fround(v), `row ${row}, column ${j}`);
    }
  });
});

describe('readDataset: JSON Lines', () => {
  it('reads records with numeric labels, skipping blank lines', async () => {
    const ds = await readDataset(fixture('records.jsonl'));
    assert.equal(ds.count, 3);
    assert.equal(ds.featureSize, 3);
    assert.equal(ds.labelSize, 1);
    assert.deepEqual(rows(ds), [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    assert.deepEqual(labels(ds), [0, 1, 2]);
  });

  it('reads the .ndjson extension too', async () => {
    const file = await scratchFile('records.ndjson', '{"x": [1], "y": 2}\n');
    const ds = await readDataset(file);
    assert.deepEqual(labels(ds), [2]);
  });

  it('flattens nested x and reads array labels', async () => {
    const ds = await readDataset(fixture('image-records.jsonl'));
    assert.equal(ds.count, 2);
    assert.equal(ds.featureSize, 9);
    assert.equal(ds.labelSize, 2);
    assert.deepEqual(rows(ds)[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(labels(ds), [1, 0, 0, 1]);
  });

  it('reads records without labels', async () => {
    const ds = await readDataset(fixture('unlabeled.jsonl'));
    assert.equal(ds.y, undefined);
    assert.equal(ds.labelSize, 0);
    assert.deepEqual(rows(ds), [
      [1, 2],
      [3, 4],
    ]);
  });

  it('drops labels with label "none"', async () => {
    const ds = await readDataset(fixture('records.jsonl'), { label: 'none' });
    assert.equal(ds.y, undefined);
    assert.equal(ds.labelSize, 0);
    assert.equal(ds.featureSize, 3);
  });

  it('rejects a label column name', async () => {
    await assertDatasetError(fixture('records.jsonl'), /^label column "y" applies to CSV files only/, { label: 'y' });
  });

  it('names the line and field of a non-numeric value', async () => {
    await assertDatasetError(fixture('bad-record.jsonl'), 'line 3: x[1]: expected a number, found "abc"');
  });

  it('rejects records where only some have y', async () => {
    await assertDatasetError(fixture('mixed-labels.jsonl'), /^line 3: "y" is missing, but line 1 has one/);
    const file = await scratchFile('late-label.jsonl', '{"x": [1]}\n{"x": [2], "y": 1}\n');
    await assertDatasetError(file, /^line 2: has "y", but line 1 has none/);
  });

  it('rejects records of different sizes', async () => {
    await assertDatasetError(fixture('wrong-size.jsonl'), 'line 2: x has 2 values, expected 3 (as in line 1)');
  });

  it('rejects ragged nested arrays', async () => {
    await assertDatasetError(fixture('ragged.jsonl'), 'line 2: x[1] has 1 items, x[0] has 2');
  });

  it('rejects a featureSize mismatch, naming the record', async () => {
    await assertDatasetError(fixture('image-records.jsonl'), 'line 1: x has 9 values, the model expects 8', { featureSize: 8 });
    const ds = await readDataset(fixture('image-records.jsonl'), { featureSize: 9 });
    assert.equal(ds.featureSize, 9);
  });

  it('names the line of invalid JSON', async () => {
    await assertDatasetError(fixture('invalid-json.jsonl'), /^line 2(, column \d+)?: invalid JSON/);
  });

  it('rejects unknown fields and missing x', async () => {
    await assertDatasetError(fixture('extra-field.jsonl'), /^line 1: unexpected field "label"/);
    await assertDatasetError(await scratchFile('no-x.jsonl', '{"y": 1}\n'), 'line 1: "x" is missing');
    await assertDatasetError(await scratchFile('string-x.jsonl', '{"x": "1,2"}\n'), /^line 1: "x" must be a number or an array of numbers/);
    await assertDatasetError(await scratchFile('not-object.jsonl', '[1, 2]\n'), /^line 1: expected a record/);
  });

  it('rejects a finite value beyond float32\'s range in x or y, naming the line and element', async () => {
    await assertDatasetError(await scratchFile('big.jsonl', '{"x": [1, 2], "y": 0}\n{"x": [3, 1e39], "y": 1}\n'), "line 2: x[1]: 1e+39 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-y.jsonl', '{"x": [1, 2], "y": -5e38}\n'), "line 1: y: -5e+38 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-scaled.jsonl', '{"x": [[1], [2e38]]}\n'), "line 1: x[1][0]: 2e+38 times the input scale 2 exceeds float32's range (±3.4e38)", { inputScale: 2 });
  });

  it('rejects empty x and a file without records', async () => {
    await assertDatasetError(await scratchFile('empty-x.jsonl', '{"x": []}\n'), 'line 1: x is empty');
    await assertDatasetError(await scratchFile('blank.jsonl', '\n\n'), /^no records/);
  });
});

describe('readDataset: JSON', () => {
  it('reads an array of records', async () => {
    const ds = await readDataset(fixture('records.json'));
    assert.deepEqual(rows(ds), [
      [1, 2],
      [3, 4],
    ]);
    assert.deepEqual(labels(ds), [0, 1]);
  });

  it('reads the column form, flattening nested samples', async () => {
    const ds = await readDataset(fixture('columns.json'));
    assert.equal(ds.count, 3);
    assert.equal(ds.featureSize, 4);
    assert.equal(ds.labelSize, 2);
    assert.deepEqual(rows(ds)[2], [9, 10, 11, 12]);
    assert.deepEqual(labels(ds), [1, 0, 0, 1, 1, 0]);
  });

  it('rejects x and y columns of different lengths', async () => {
    await assertDatasetError(fixture('columns-length-mismatch.json'), '"x" has 2 samples but "y" has 1');
  });

  it('names the record index of a bad value', async () => {
    const file = await scratchFile('bad.json', '[{"x": [1, 2]}, {"x": [3, null]}]');
    await assertDatasetError(file, '[1].x[1]: expected a number, found null');
  });

  it('rejects invalid JSON with a line and column when the parser gives a position', async () => {
    const file = await scratchFile('broken.json', '[\n  {"x": [1, 2}\n]\n');
    await assertDatasetError(file, /^line 2, column \d+: invalid JSON: /);
  });

  it('rejects a finite value beyond float32\'s range, naming the record', async () => {
    await assertDatasetError(await scratchFile('big.json', '[{"x": [1, 2]}, {"x": [3, 1e300]}]'), "[1].x[1]: 1e+300 exceeds float32's range (±3.4e38)");
    await assertDatasetError(await scratchFile('big-columns.json', '{"x": [[1], [2]], "y": [0, 1e39]}'), "y[1]: 1e+39 exceeds float32's range (±3.4e38)");
  });

  it('rejects other top-level values and empty arrays', async () => {
    await assertDatasetError(await scratchFile('number.json', '42'), /^expected an array of records or an object/);
    await assertDatasetError(await scratchFile('empty-array.json', '[]'), /^no records/);
  });
});

describe('readDataset: files', () => {
  it('rejects an unsupported extension, listing the supported ones', async () => {
    await assertDatasetError(
      fixture('unsupported.txt'),
      'unsupported extension ".txt"; supported: .csv, .tsv, .json, .jsonl, .ndjson, .npy, or a folder of images with one subfolder per class',
    );
  });

  it('reports a missing file', async () => {
    await assertDatasetError(fixture('missing.csv'), 'cannot read file: no such file');
  });

  it('reports a folder given as a file', async () => {
    const dir = join(scratch, 'folder.csv');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await assertDatasetError(dir, /^cannot read file: /);
  });
});

/** A labelled dataset whose sample i has features [i, -i] and label i * 10. */
function numbered(count: number): Dataset {
  const x = new Float32Array(count * 2);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    x[i * 2] = i;
    x[i * 2 + 1] = -i;
    y[i] = i * 10;
  }
  return { file: 'numbered.csv', count, featureSize: 2, x, y, labelSize: 1 };
}

/** The original indices of the samples in `ds`, checking that features and labels stayed together. */
function sampleIds(ds: Dataset): number[] {
  return rows(ds).map(([a, b], row) => {
    assert.equal(b, -(a as number));
    assert.equal(ds.y?.[row], (a as number) * 10);
    return a as number;
  });
}

describe('splitDataset', () => {
  it('holds out round(count * split) samples, disjoint from training, covering everything', () => {
    const { train, validation } = splitDataset(numbered(100), 0.2, 1);
    assert.equal(validation.count, 20);
    assert.equal(train.count, 80);
    const trainIds = sampleIds(train);
    const validationIds = sampleIds(validation);
    assert.ok(!validationIds.some((id) => trainIds.includes(id)));
    assert.deepEqual(
      [...trainIds, ...validationIds].sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(train.featureSize, 2);
    assert.equal(validation.labelSize, 1);
    assert.equal(validation.file, 'numbered.csv');
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const ds = numbered(50);
    const a = splitDataset(ds, 0.3, 42);
    const b = splitDataset(ds, 0.3, 42);
    const c = splitDataset(ds, 0.3, 43);
    assert.deepEqual(sampleIds(a.validation), sampleIds(b.validation));
    assert.deepEqual(sampleIds(a.train), sampleIds(b.train));
    assert.notDeepEqual(sampleIds(a.validation), sampleIds(c.validation));
  });

  it('does not pick the last samples of the file', () => {
    const { validation } = splitDataset(numbered(100), 0.2, 1);
    assert.notDeepEqual(sampleIds(validation), Array.from({ length: 20 }, (_, i) => 80 + i));
  });

  it('holds out nothing with split 0', () => {
    const { train, validation } = splitDataset(numbered(10), 0, 1);
    assert.equal(validation.count, 0);
    assert.equal(validation.x.length, 0);
    assert.equal(train.count, 10);
  });

  it('holds out at least one sample and keeps at least one for training', () => {
    assert.equal(splitDataset(numbered(5), 0.01, 1).validation.count, 1);
    const tiny = splitDataset(numbered(2), 0.5, 1);
    assert.equal(tiny.validation.count, 1);
    assert.equal(tiny.train.count, 1);
    assert.equal(splitDataset(numbered(2), 0.01, 1).validation.count, 1);
  });

  it('refuses a dataset too small for its split, stating what would work', () => {
    const refused = (ds: Dataset, split: number, message: RegExp): void => {
      assert.throws(() => splitDataset(ds, split, 1), (err: unknown) => err instanceof DatasetError && err.file === 'numbered.csv' && message.test(err.message) && !err.message.includes('\n'));
    };
    refused(numbered(1), 0.2, /^only 1 sample: .*needs at least 2 samples, one to train on and one to measure on; .*--validation-data$/);
    refused(numbered(2), 0.9, /^--validation-split 0\.9 would hold out all 2 samples, leaving none to train on; use a split of at most 0\.5, or at least 6 samples$/);
    refused(numbered(10), 0.99, /^--validation-split 0\.99 would hold out all 10 samples, .* at most 0\.9, or at least 51 samples$/);
    // What the message offers does work: the largest split it names, and the smallest count.
    assert.equal(splitDataset(numbered(10), 0.9, 1).train.count, 1);
    assert.equal(splitDataset(numbered(51), 0.99, 1).train.count, 1);
    assert.equal(splitDataset(numbered(3), 0.66, 1).train.count, 1);
    refused(numbered(3), 0.9, /at most 0\.66, or at least 6 samples$/);
    // Split 0 holds nothing out, whatever the size.
    assert.equal(splitDataset(numbered(1), 0, 1).train.count, 1);
  });

  it('keeps a dataset without labels unlabelled', () => {
    const ds: Dataset = { ...numbered(10), y: undefined, labelSize: 0 };
    const { train, validation } = splitDataset(ds, 0.5, 3);
    assert.equal(train.y, undefined);
    assert.equal(validation.y, undefined);
    assert.equal(train.count + validation.count, 10);
  });

  it('rejects a split outside [0, 1)', () => {
    assert.throws(() => splitDataset(numbered(10), 1, 1), RangeError);
    assert.throws(() => splitDataset(numbered(10), -0.1, 1), RangeError);
  });
});

describe('createRng', () => {
  it('is deterministic per seed', () => {
    const a = createRng(123);
    const b = createRng(123);
    const c = createRng(124);
    const first = Array.from({ length: 10 }, () => a.next());
    assert.deepEqual(first, Array.from({ length: 10 }, () => b.next()));
    assert.notDeepEqual(first, Array.from({ length: 10 }, () => c.next()));
    assert.deepEqual(
      Array.from({ length: 5 }, () => createRng(9).normal()),
      Array.from({ length: 5 }, () => createRng(9).normal()),
    );
  });

  it('draws uniforms in [0, 1) with a plausible mean', () => {
    const rng = createRng(5);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = rng.next();
      assert.ok(v >= 0 && v < 1);
      sum += v;
    }
    assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
  });

  it('draws normals with mean about 0 and variance about 1', () => {
    const rng = createRng(11);
    const n = 20_000;
    let sum = 0;
    let sumSquares = 0;
    for (let i = 0; i < n; i++) {
      const v = rng.normal();
      assert.ok(Number.isFinite(v));
      sum += v;
      sumSquares += v * v;
    }
    const mean = sum / n;
    assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
    assert.ok(Math.abs(sumSquares / n - mean * mean - 1) < 0.05, `variance ${sumSquares / n}`);
  });

  it('shuffles in place into a permutation, deterministically', () => {
    const array = Array.from({ length: 100 }, (_, i) => i);
    const returned = createRng(1).shuffle(array);
    assert.equal(returned, array);
    assert.deepEqual([...array].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.notDeepEqual(array, Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(createRng(1).shuffle(Array.from({ length: 100 }, (_, i) => i)), array);
  });

  it('makes permutations of 0..n-1', () => {
    const p = createRng(2).permutation(1000);
    assert.ok(p instanceof Int32Array);
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(createRng(2).permutation(1000), p);
    assert.equal(createRng(2).permutation(0).length, 0);
  });

  it('draws integers in [0, n)', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(6);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 6);
      seen.add(v);
    }
    assert.equal(seen.size, 6);
  });
});
