/**
 * Hostile datasets through the built CLI: each case writes a small broken dataset for the digits model
 * (64 features, 10 classes) and runs `lowrank compress --data`. Every one must be refused with exit 2 and
 * one line naming the file and the line/element, nothing written, the inputs untouched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DIGITS_MLP, makeTempDir, removeTempDir, runCli } from '../helpers.js';
import { DIGITS_CSV_HEADER, DIGITS_DIR, expectRefused } from './harness.js';

let tmp = '';
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeTempDir(tmp);
});

const header = DIGITS_CSV_HEADER;
const row = (label: number | string, fill = 1): string => `${Array(64).fill(fill).join(',')},${label}`;
const rows = (n: number): string[] => Array.from({ length: n }, (_, i) => row(i % 10, i % 16));

/** A .npy file: header for `shape` (float32 unless `descr` says otherwise), then `dataBytes` bytes of data. */
function npy(shape: number[], dataBytes: number, descr = '<f4'): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + dict.length + 1;
  const padded = dict + ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1'), Buffer.alloc(dataBytes)]);
}

/** A float64 .npy file holding `values` with `shape`. */
function npyFloat64(shape: number[], values: readonly number[]): Buffer {
  const head = npy(shape, 0, '<f8');
  return Buffer.concat([head, Buffer.from(Float64Array.from(values).buffer)]);
}

/** 64 features per row for `n` rows, 1e39 (finite as float64, Infinity as float32) at row `bad`, column 5. */
const bigFeatures = (n: number, bad: number): number[] => Array.from({ length: n * 64 }, (_, i) => (i === bad * 64 + 5 ? 1e39 : i % 16));
const record = (x: number[], y: number): string => JSON.stringify({ x, y });

interface Case {
  name: string;
  /** Write the dataset under `root`; return the --data path (and extra args, and the file the error names when not --data). */
  make: (root: string) => Promise<{ data: string; args?: string[]; mention?: string }>;
  problem: RegExp;
}

/** Datasets live in `<root>/in`, which is snapshotted before and after. */
const file = (name: string, contents: string | Buffer) => async (root: string) => {
  const data = path.join(root, 'in', name);
  await writeFile(data, contents);
  return { data };
};

const cases: Case[] = [
  { name: 'a row with a column too few', make: file('narrow.csv', [header, ...rows(5), row(3).replace(/^1,/, ''), ...rows(5)].join('\n')), problem: /line 7: expected 65 cells, found 64/ },
  { name: 'a non-numeric cell', make: file('cell.csv', [header, ...rows(3), row(2).replace(/^1,/, 'abc,'), ...rows(3)].join('\n')), problem: /line 5.*"abc"/ },
  { name: 'a NaN cell', make: file('nan.csv', [header, ...rows(3), row(2).replace(/^1,/, 'NaN,'), ...rows(3)].join('\n')), problem: /line 5.*NaN/ },
  { name: 'an empty file', make: file('empty.csv', ''), problem: /empty|no rows|no samples/ },
  { name: 'a header only', make: file('header.csv', `${header}\n`), problem: /no rows|no samples|no data/ },
  { name: 'a label out of range', make: file('label.csv', [header, ...rows(4), row(12), ...rows(4)].join('\n')), problem: /label 12 is not a class index of this model \(0\.\.9\)/ },
  { name: 'a truncated .npy', make: file('cut.npy', npy([20, 64], 20 * 64 * 4 - 10)), problem: /cut\.npy/ },
  { name: 'an .npy header claiming 2 GB', make: file('huge.npy', npy([8_388_608, 64], 256)), problem: /8388608/ },
  {
    name: 'a corrupt image in a class folder',
    make: async (root) => {
      const data = path.join(root, 'in', 'images');
      for (const c of ['0', '1']) await mkdir(path.join(data, c), { recursive: true });
      await writeFile(path.join(data, '0', 'broken.png'), Buffer.from('\x89PNG\r\n\x1a\n this is not a png'));
      await writeFile(path.join(data, '1', 'also.png'), Buffer.from('not an image either'));
      return { data, args: ['--image-shape', '8,8,1'] };
    },
    problem: /images\/[01]\/\w+\.png: cannot decode image: not a supported image/,
  },
  { name: 'a CSV cell beyond float32\'s range', make: file('big.csv', [header, ...rows(3), row(2).replace(/^1,/, '1e39,'), ...rows(3)].join('\n')), problem: /line 5, column 1: 1e39 exceeds float32's range \(±3\.4e38\)/ },
  { name: 'a CSV label beyond float32\'s range', make: file('big-label.csv', [header, ...rows(3), row('-4e38'), ...rows(3)].join('\n')), problem: /line 5, column 65: -4e38 exceeds float32's range/ },
  { name: 'a JSONL value beyond float32\'s range', make: file('big.jsonl', [0, 1, 2].map((i) => record(bigFeatures(1, i === 2 ? 0 : -1), i)).join('\n')), problem: /line 3: x\[5\]: 1e\+39 exceeds float32's range/ },
  { name: 'a JSON value beyond float32\'s range', make: file('big.json', `[${[0, 1, 2].map((i) => record(bigFeatures(1, i === 1 ? 0 : -1), i)).join(',')}]`), problem: /\[1\]\.x\[5\]: 1e\+39 exceeds float32's range/ },
  { name: 'a float64 .npy value beyond float32\'s range', make: file('big.npy', npyFloat64([4, 64], bigFeatures(4, 2))), problem: /element \[2, 5\]: 1e\+39 exceeds float32's range/ },
  {
    name: 'a float64 .npy label beyond float32\'s range',
    make: async (root) => {
      const data = path.join(root, 'in', 'x.npy');
      const labels = path.join(root, 'in', 'big-labels.npy');
      await writeFile(data, npyFloat64([4, 64], bigFeatures(4, -1)));
      await writeFile(labels, npyFloat64([4], [1, 2, 3e39, 4]));
      return { data, args: ['--labels', labels], mention: labels };
    },
    problem: /element \[2\]: 3e\+39 exceeds float32's range/,
  },
  { name: 'a JSONL record with a bad line', make: file('bad.jsonl', `{"x": [${Array(64).fill(0).join(',')}], "y": 1}\n{"x": [1, 2,\n`), problem: /line 2/ },
];

describe('hostile datasets are refused with exit 2 and nothing written', { concurrency: 2 }, () => {
  assert.ok(cases.length >= 8);
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const root = path.join(tmp, `case-${i}`);
      await mkdir(path.join(root, 'in'), { recursive: true });
      const { data, args = [], mention = data } = await c.make(root);
      await expectRefused(root, [path.join(root, 'in'), DIGITS_DIR], ['compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, ...args, '--out', path.join(root, 'out')], mention, c.problem);
    });
  });
});

describe('a dataset with a byte-order mark and CRLF line ends', () => {
  it('is read like any other', async () => {
    const root = path.join(tmp, 'bom');
    await mkdir(root, { recursive: true });
    const data = path.join(root, 'bom.csv');
    await writeFile(data, `\uFEFF${[header, ...rows(40)].join('\r\n')}\r\n`);
    const out = path.join(root, 'out');
    const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--epochs', '1', '--data', data, '--out', out, '--quiet');
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readdir(out)).includes('report.json'));
  });
});
