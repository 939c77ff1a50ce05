import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetError, UsageError } from '../../src/errors.js';
import { readDataset } from '../../src/data/dataset.js';
import { parsePythonLiteral, readNpy } from '../../src/data/npy.js';
import { assertDatasetError } from '../helpers.js';

let scratch = '';
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'lowrank-npy-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface NpyParts {
  /** Format major version (1, 2 or 3). */
  version?: number;
  /** The whole header dict text, instead of one made from descr/shape/fortran. */
  dict?: string;
  fortran?: boolean;
  /** The header length to write, instead of the true one. */
  headerLength?: number;
}

/**
 * A .npy file as np.save writes it: magic, version, header length, the header dict padded with
 * spaces and ended by a newline so that the data starts at a multiple of 64, then the data.
 */
function npyBytes(descr: string, shape: readonly number[], data: Uint8Array, parts: NpyParts = {}): Buffer {
  const version = parts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = parts.dict ?? `{'descr': '${descr}', 'fortran_order': ${parts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const prelude = version === 1 ? 10 : 12;
  const unpadded = prelude + Buffer.byteLength(dict, version === 3 ? 'utf8' : 'latin1') + 1;
  const header = Buffer.from(dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n', version === 3 ? 'utf8' : 'latin1');
  const start = Buffer.alloc(prelude);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(start);
  const length = parts.headerLength ?? header.length;
  if (version === 1) start.writeUInt16LE(length, 8);
  else start.writeUInt32LE(length, 8);
  return Buffer.concat([start, header, data]);
}

/** Values as bytes of one element type, in either byte order. */
function pack(values: ReadonlyArray<number | bigint>, type: string, littleEndian = true): Uint8Array {
  const size = Number(type.slice(1));
  const view = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => {
    const at = i * size;
    switch (type) {
      case 'f2': view.setUint16(at, v as number, littleEndian); break; // raw half bits
      case 'f4': view.setFloat32(at, v as number, littleEndian); break;
      case 'f8': view.setFloat64(at, v as number, littleEndian); break;
      case 'i1': view.setInt8(at, v as number); break;
      case 'u1': view.setUint8(at, v as number); break;
      case 'b1': view.setUint8(at, v as number); break;
      case 'i2': view.setInt16(at, v as number, littleEndian); break;
      case 'u2': view.setUint16(at, v as number, littleEndian); break;
      case 'i4': view.setInt32(at, v as number, littleEndian); break;
      case 'u4': view.setUint32(at, v as number, littleEndian); break;
      case 'i8': view.setBigInt64(at, BigInt(v), littleEndian); break;
      case 'u8': view.setBigUint64(at, BigInt(v), littleEndian); break;
      default: throw new Error(type);
    }
  });
  return new Uint8Array(view.buffer);
}

let counter = 0;
async function npyFile(descr: string, shape: readonly number[], data: Uint8Array, parts?: NpyParts, name?: string): Promise<string> {
  const file = join(scratch, name ?? `a${counter++}.npy`);
  await writeFile(file, npyBytes(descr, shape, data, parts));
  return file;
}

describe('readDataset: .npy features', () => {
  it('reads float32 samples of any shape, flattened per sample, without labels', async () => {
    const values = Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
    const file = await npyFile('<f4', [3, 2, 2], pack(values, 'f4'));
    const ds = await readDataset(file, { featureSize: 4 });
    assert.equal(ds.file, file);
    assert.equal(ds.count, 3);
    assert.equal(ds.featureSize, 4);
    assert.equal(ds.labelSize, 0);
    assert.equal(ds.y, undefined);
    assert.deepEqual(Array.from(ds.x), values);
  });

  const cases: Array<[descr: string, type: string, values: Array<number | bigint>, expected: number[]]> = [
    ['<f8', 'f8', [0.1, -1e10, 3], [Math.fround(0.1), Math.fround(-1e10), 3]],
    ['|u1', 'u1', [0, 128, 255], [0, 128, 255]],
    ['|i1', 'i1', [-128, 0, 127], [-128, 0, 127]],
    ['<i2', 'i2', [-32768, 5, 32767], [-32768, 5, 32767]],
    ['<u2', 'u2', [0, 65535, 7], [0, 65535, 7]],
    ['<i4', 'i4', [-2147483648, 1, 2147483647], [-2147483648, 1, 2147483647]],
    ['<u4', 'u4', [4294967295, 0, 9], [4294967295, 0, 9]],
    ['<i8', 'i8', [-(2n ** 53n), 42n, 2n ** 53n], [-(2 ** 53), 42, 2 ** 53]],
    ['<u8', 'u8', [0n, 2n ** 53n, 1n], [0, 2 ** 53, 1]],
    ['|b1', 'b1', [1, 0, 1], [1, 0, 1]],
    // Half-precision bits: 1.5, -2, 65504 (the largest half).
    ['<f2', 'f2', [0x3e00, 0xc000, 0x7bff], [1.5, -2, 65504]],
    // Big-endian data is byte-swapped as it is read.
    ['>f4', 'f4', [1.25, -3, 1e-3], [1.25, -3, Math.fround(1e-3)]],
    ['>i4', 'i4', [-7, 65536, 1], [-7, 65536, 1]],
    ['>i8', 'i8', [-5n, 2n ** 40n, 3n], [-5, 2 ** 40, 3]],
    ['>f8', 'f8', [0.5, 2, -4], [0.5, 2, -4]],
  ];
  for (const [descr, type, values, expected] of cases) {
    it(`reads dtype ${descr}`, async () => {
      const file = await npyFile(descr, [3], pack(values, type, !descr.startsWith('>')));
      const ds = await readDataset(file);
      assert.equal(ds.count, 3);
      assert.equal(ds.featureSize, 1);
      assert.deepEqual(Array.from(ds.x), expected.map(Math.fround)); // features are float32, as the model sees them
    });
  }

  it('reads format versions 2.0 and 3.0 (a UTF-8 header)', async () => {
    for (const version of [2, 3]) {
      const file = await npyFile('<f4', [2, 2], pack([1, 2, 3, 4], 'f4'), { version });
      const { header, data } = await readNpy(file);
      assert.equal(header.version, `${version}.0`);
      assert.deepEqual(Array.from(data), [1, 2, 3, 4]);
    }
  });

  it('reads a header written by Python 2 (long integers, no trailing comma)', async () => {
    const file = await npyFile('<f4', [], pack([1, 2], 'f4'), { dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L)}` });
    const ds = await readDataset(file);
    assert.equal(ds.count, 2);
    assert.equal(ds.featureSize, 1);
  });

  it('accepts fortran_order True when the layout is the same as C order', async () => {
    const file = await npyFile('<f4', [3, 1], pack([1, 2, 3], 'f4'), { fortran: true });
    assert.deepEqual(Array.from((await readDataset(file)).x), [1, 2, 3]);
  });

  it('reads data spanning several read chunks', async () => {
    const n = 1_500_000; // 12 MB of float64: three 4 MB chunks
    const values = new Float64Array(n).map((_, i) => i / 4);
    const file = await npyFile('<f8', [n / 3, 3], new Uint8Array(values.buffer));
    const ds = await readDataset(file, { featureSize: 3 });
    assert.equal(ds.count, n / 3);
    assert.equal(ds.x[0], 0);
    assert.equal(ds.x[524_288], 131_072);
    assert.equal(ds.x[n - 1], (n - 1) / 4);
  });

  it('multiplies features by inputScale', async () => {
    const file = await npyFile('|u1', [2, 2], pack([0, 51, 255, 102], 'u1'));
    const ds = await readDataset(file, { inputScale: 1 / 255 });
    assert.deepEqual(Array.from(ds.x), [0, 0.2, 1, 0.4].map(Math.fround));
  });
});

describe('readDataset: .npy values beyond float32', () => {
  it('refuses a finite float64 feature beyond float32\'s range, naming the element', async () => {
    const file = await npyFile('<f8', [2, 3], pack([1, 2, 3, 4, -1e39, 6], 'f8'));
    await assertDatasetError(file, "element [1, 1]: -1e+39 exceeds float32's range (±3.4e38)");
    const big = await npyFile('>f8', [1, 2], pack([0, 1.7976931348623157e308], 'f8', false));
    await assertDatasetError(big, "element [0, 1]: 1.7976931348623157e+308 exceeds float32's range (±3.4e38)");
  });

  it('refuses a value that overflows float32 only once scaled', async () => {
    const file = await npyFile('<f4', [2, 1], pack([1, 3e38], 'f4'));
    await assertDatasetError(file, `element [1, 0]: ${Math.fround(3e38)} times the input scale 2 exceeds float32's range (±3.4e38)`, { inputScale: 2 });
  });

  it('refuses a float64 label beyond float32\'s range, naming the labels file', async () => {
    const x = await npyFile('<f4', [2, 1], pack([1, 2], 'f4'));
    const y = await npyFile('<f8', [2], pack([0, 1e39], 'f8'));
    await assertDatasetError(x, "element [1]: 1e+39 exceeds float32's range (±3.4e38)", { labels: y }, y);
  });

  it('keeps float64 values up to float32\'s largest', async () => {
    const file = await npyFile('<f8', [3], pack([3.4e38, -3.4028235e38, 1e-50], 'f8'));
    assert.deepEqual(Array.from((await readDataset(file)).x), [3.4e38, -3.4028235e38, 0].map(Math.fround));
  });
});

describe('readDataset: .npy labels', () => {
  it('reads labels of shape [count] from a second file, not scaled', async () => {
    const x = await npyFile('<f4', [3, 2], pack([1, 2, 3, 4, 5, 6], 'f4'));
    const y = await npyFile('<i8', [3], pack([2n, 0n, 1n], 'i8'));
    const ds = await readDataset(x, { labels: y, inputScale: 2 });
    assert.equal(ds.labelSize, 1);
    assert.deepEqual(Array.from(ds.y ?? []), [2, 0, 1]);
    assert.deepEqual(Array.from(ds.x), [2, 4, 6, 8, 10, 12]);
  });

  it('reads labels of shape [count, k]', async () => {
    const x = await npyFile('<f4', [2, 1], pack([1, 2], 'f4'));
    const y = await npyFile('<f4', [2, 3], pack([1, 0, 0, 0, 0, 1], 'f4'));
    const ds = await readDataset(x, { labels: y });
    assert.equal(ds.labelSize, 3);
    assert.deepEqual(Array.from(ds.y ?? []), [1, 0, 0, 0, 0, 1]);
  });

  it('drops labels with label "none" and refuses a label column', async () => {
    const x = await npyFile('<f4', [2, 1], pack([1, 2], 'f4'));
    const y = await npyFile('<f4', [2], pack([1, 0], 'f4'));
    const ds = await readDataset(x, { labels: y, label: 'none' });
    assert.equal(ds.y, undefined);
    await assertDatasetError(x, /^label column "y" applies to CSV files only/, { label: 'y' });
  });

  it('names both files when the sample counts differ', async () => {
    const x = await npyFile('<f4', [3, 2], pack([1, 2, 3, 4, 5, 6], 'f4'));
    const y = await npyFile('<i4', [2], pack([0, 1], 'i4'), undefined, 'short-labels.npy');
    await assertDatasetError(x, `3 samples (shape (3, 2)), but the labels file ${y} has 2 (shape (2,))`, { labels: y });
  });

  it('names the labels file when it is broken', async () => {
    const x = await npyFile('<f4', [2, 1], pack([1, 2], 'f4'));
    const y = join(scratch, 'broken-labels.npy');
    await writeFile(y, 'not numpy');
    await assertDatasetError(x, /^not a \.npy file/, { labels: y }, y);
    const csv = join(scratch, 'labels.csv');
    await assertDatasetError(x, 'labels must be a .npy file (shape [count] or [count, k]), not ".csv"', { labels: csv }, csv);
  });

  it('refuses --labels for features that are not .npy (a usage error)', async () => {
    const csv = join(scratch, 'x.csv');
    await writeFile(csv, '1,2\n3,4\n');
    await assert.rejects(readDataset(csv, { labels: 'y.npy' }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^--labels is for \.npy features only/);
      return true;
    });
  });
});

describe('readDataset: malformed .npy', () => {
  const f4 = pack([1, 2, 3, 4, 5, 6], 'f4');

  it('refuses a file without the magic string, and names an .npz', async () => {
    const bad = join(scratch, 'bad-magic.npy');
    await writeFile(bad, Buffer.concat([Buffer.from('\x93NUMPZ'), npyBytes('<f4', [2, 3], f4).subarray(6)]));
    await assertDatasetError(bad, 'not a .npy file: it does not start with the magic string "\\x93NUMPY"');
    const zip = join(scratch, 'archive.npy');
    await writeFile(zip, Buffer.from('PK\x03\x04rest of a zip file'));
    await assertDatasetError(zip, /^not a \.npy file: it is a zip archive \(an \.npz\?\)/);
    const tiny = join(scratch, 'tiny.npy');
    await writeFile(tiny, Buffer.from([0x93, 0x4e, 0x55]));
    await assertDatasetError(tiny, 'not a .npy file: it ends after 3 bytes, inside the preamble');
  });

  it('refuses an unknown format version', async () => {
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { version: 4 }), 'unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)');
  });

  it('refuses truncated data before allocating, naming expected and actual bytes', async () => {
    const file = join(scratch, 'truncated.npy');
    const whole = npyBytes('<f4', [2, 3], f4);
    await writeFile(file, whole.subarray(0, whole.length - 4));
    await assertDatasetError(file, 'data is truncated: shape (2, 3) of <f4 needs 24 bytes after the header, the file has 20');
    // A shape far beyond the file is refused the same way, without trying to allocate it.
    await assertDatasetError(await npyFile('<f8', [1e12, 1000], f4), /^data is truncated: shape \(1000000000000, 1000\) of <f8 needs 8000000000000000 bytes/);
  });

  it('refuses bytes beyond what the shape accounts for', async () => {
    const file = await npyFile('<f4', [2, 2], f4);
    await assertDatasetError(file, /^the file has 8 bytes more than shape \(2, 2\) of <f4 needs \(16 after the header\)/);
  });

  it('refuses a header length that lies', async () => {
    // Past the end of the file.
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { headerLength: 5000 }), /^header length 5000 runs past the end of the file \(152 bytes, header starts at byte 10\)$/);
    // Shorter than the header: the dict is cut off.
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { headerLength: 30 }), /^header is not a valid dict literal: /);
    // Shorter, but ending in the padding: the padding is taken for data.
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { headerLength: 62 }), /^the file has 56 bytes more than shape \(2, 3\) of <f4 needs .*is the header's shape or length wrong\?$/);
    // Longer than the header: data bytes follow the dict.
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { headerLength: 118 + 8 }), /^header is not a valid dict literal: unexpected "\\u0000" at character 119 after the dict \(is the header length right\?\)$/);
  });

  it('refuses Fortran order', async () => {
    await assertDatasetError(await npyFile('<f4', [2, 3], f4, { fortran: true }), 'Fortran-order arrays are not supported; save with np.ascontiguousarray');
  });

  it('refuses object, structured, complex and string dtypes', async () => {
    await assertDatasetError(await npyFile('|O', [2, 3], f4), /^object arrays \(dtype '\|O'\) hold pickled Python objects, not numbers/);
    const record = await npyFile('', [], f4, { dict: `{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }` });
    await assertDatasetError(record, /^structured arrays \(a record dtype\) are not supported/);
    await assertDatasetError(await npyFile('<c8', [3], f4), /^unsupported dtype '<c8' \(complex of 8 bytes\); supported: bool, int8/);
    await assertDatasetError(await npyFile('<U2', [3], f4), /^unsupported dtype '<U2' \(unicode string/);
    await assertDatasetError(await npyFile('<f16', [1], pack([0, 0], 'f8')), /^unsupported dtype '<f16'/);
  });

  it('refuses a 0-d array and empty arrays', async () => {
    await assertDatasetError(await npyFile('<f4', [], pack([1], 'f4')), /^a 0-d array \(a single scalar\) holds no samples; features need shape \(count, \.\.\.\)/);
    await assertDatasetError(await npyFile('<f4', [0, 3], new Uint8Array(0)), 'no samples: shape (0, 3)');
    await assertDatasetError(await npyFile('<f4', [3, 0], new Uint8Array(0)), 'samples have no values: shape (3, 0)');
  });

  it('refuses a feature size the model does not expect', async () => {
    await assertDatasetError(await npyFile('<f4', [2, 3], f4), 'each sample has 3 values (shape (2, 3)), the model expects 4', { featureSize: 4 });
  });

  it('refuses 64-bit integers beyond ±2^53, naming the element', async () => {
    const signed = await npyFile('<i8', [2, 2], pack([1n, 2n, 3n, -(2n ** 53n) - 1n], 'i8'));
    await assertDatasetError(signed, 'element [1, 1]: -9007199254740993 is outside ±2^53, beyond which <i8 values cannot be converted exactly');
    const unsigned = await npyFile('<u8', [3], pack([1n, 2n ** 64n - 1n, 0n], 'u8'));
    await assertDatasetError(unsigned, /^element \[1\]: 18446744073709551615 is outside ±2\^53/);
  });

  it('refuses NaN and infinity, naming the element', async () => {
    await assertDatasetError(await npyFile('<f4', [2, 3], pack([1, 2, 3, 4, NaN, 6], 'f4')), 'element [1, 1]: NaN is not a finite number');
    await assertDatasetError(await npyFile('<f8', [3], pack([1, -Infinity, 3], 'f8')), 'element [1]: -Infinity is not a finite number');
  });

  it('refuses headers that are not plain literals, never evaluating them', async () => {
    const evil = `{'descr': __import__('os').system('touch pwned'), 'fortran_order': False, 'shape': (6,), }`;
    await assertDatasetError(await npyFile('', [], f4, { dict: evil }), /^header is not a valid dict literal: unexpected "__import__" at character 11/);
    await assertDatasetError(await npyFile('', [], f4, { dict: `{'descr': '<f4', 'shape': (6,), }` }), "header has no 'fortran_order'");
    await assertDatasetError(
      await npyFile('', [], f4, { dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}` }),
      "header has an unexpected key 'extra' (expected 'descr', 'fortran_order' and 'shape')",
    );
    await assertDatasetError(await npyFile('', [], f4, { dict: `{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}` }), "header 'fortran_order' must be True or False, found 0");
    await assertDatasetError(await npyFile('', [], f4, { dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}` }), "header 'shape' (-6,) has a negative dimension");
    await assertDatasetError(await npyFile('', [], f4, { dict: `{'descr': '<f4', 'fortran_order': False, 'shape': 6}` }), "header 'shape' must be a tuple of integers, found 6");
    await assertDatasetError(await npyFile('', [], f4, { dict: `['descr', '<f4']` }), 'header is a tuple, expected a dict');
  });

  it('reports a missing file', async () => {
    await assertDatasetError(join(scratch, 'missing.npy'), 'cannot read file: no such file');
  });
});

describe('parsePythonLiteral', () => {
  it('parses the literals .npy headers use', () => {
    const dict = parsePythonLiteral(`{"descr": u'<f4', 'fortran_order': True, 'shape': (3, 4,), 'x': [None, ()], 'y': (5), 'z': (7,)}`);
    assert.ok(dict instanceof Map);
    assert.equal(dict.get('descr'), '<f4');
    assert.equal(dict.get('fortran_order'), true);
    assert.deepEqual(dict.get('shape'), [3n, 4n]);
    assert.deepEqual(dict.get('x'), [null, []]);
    assert.equal(dict.get('y'), 5n);
    assert.deepEqual(dict.get('z'), [7n]);
    assert.equal(parsePythonLiteral(`'it\\'s'`), "it's");
  });

  it('names the position of what it cannot parse', () => {
    assert.throws(() => parsePythonLiteral(`{'a': 1.5}`), /unexpected "1\.5" at character 7/);
    assert.throws(() => parsePythonLiteral(`{'a' 1}`), /expected ':', found "1" at character 6/);
    assert.throws(() => parsePythonLiteral(`{'a': (1, 2}`), /expected ',' or '\)', found "}" at character 12/);
    assert.throws(() => parsePythonLiteral(`{'a': 1, 'a': 2}`), /key 'a' appears twice/);
    assert.throws(() => parsePythonLiteral(`{'a`), /string starting at character 2 is not closed/);
    assert.throws(() => parsePythonLiteral(`{1: 2}`), /dict keys must be strings/);
  });
});
