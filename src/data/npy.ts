/**
 * NumPy `.npy` reader (format versions 1.0, 2.0 and 3.0): features from one file, labels from an
 * optional second one. The header is a Python dict literal, parsed here by a small recursive-descent
 * parser (never evaluated). Everything the header claims is checked against the file's size before
 * any sample memory is allocated, and data is converted in chunks, so a 1 GB float64 file never
 * needs 1 GB of raw bytes next to its float32 copy.
 *
 * Supported dtypes: bool, int8/16/32/64, uint8/16/32/64, float16/32/64, in either byte order
 * (big-endian data is byte-swapped as it is read). 64-bit integers outside ±2^53 are refused, as are
 * NaN, ±Infinity and float64 values beyond float32's range, each naming the element.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { extname } from 'node:path';
import { DatasetError } from '../errors.js';
import { describeFloat32Overflow, describeReadError, fitsFloat32, type Dataset, type ReadDatasetOptions } from './types.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
/** numpy itself refuses headers over 10,000 bytes by default; we allow more, but not absurdly more. */
const MAX_HEADER_BYTES = 1 << 20;
/** Raw bytes converted per read; a multiple of every item size. */
const CHUNK_BYTES = 1 << 22;

type Kind = 'bool' | 'int' | 'uint' | 'float';

/** An element type the reader understands. */
export interface NpyDtype {
  /** As written in the header, e.g. `<f4`. */
  descr: string;
  kind: Kind;
  /** Bytes per element. */
  size: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

/** What a `.npy` header says. */
export interface NpyHeader {
  /** Format version, e.g. `1.0`. */
  version: string;
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
  /** Number of elements (the product of the shape). */
  elements: number;
}

/** An array read from a `.npy` file, converted to float32 in C order. */
export interface NpyArray {
  header: NpyHeader;
  data: Float32Array;
}

/** Reads a whole `.npy` file as float32 values, each multiplied by `scale`. */
export async function readNpy(file: string, scale = 1): Promise<NpyArray> {
  return withFile(file, async (handle, size) => {
    const header = await readHeader(file, handle, size);
    return { header, data: await readData(file, handle, header, scale) };
  });
}

/**
 * Reads features from `file` (shape [count, ...], each sample flattened) and labels from
 * `options.labels` (shape [count] or [count, ...]). Both headers are checked, against each other
 * and against `options.featureSize`, before either file's data is read.
 */
export async function readNpyDataset(file: string, options: ReadDatasetOptions): Promise<Dataset> {
  if (options.label !== undefined && options.label !== 'none') {
    throw new DatasetError(
      file,
      `label column "${options.label}" applies to CSV files only; .npy features take their labels from a separate .npy file (--labels)`,
    );
  }
  const labelsFile = options.label === 'none' ? undefined : options.labels;
  if (labelsFile !== undefined && extname(labelsFile).toLowerCase() !== '.npy') {
    const ext = extname(labelsFile);
    throw new DatasetError(labelsFile, `labels must be a .npy file (shape [count] or [count, k]), not ${ext === '' ? 'a file without extension' : `"${ext}"`}`);
  }

  return withFile(file, async (xHandle, xBytes) => {
    const xHeader = await readHeader(file, xHandle, xBytes);
    const { count, sampleSize } = sampleLayout(file, xHeader, 'features');
    if (options.featureSize !== undefined && sampleSize !== options.featureSize) {
      throw new DatasetError(
        file,
        `each sample has ${sampleSize} values (shape ${formatShape(xHeader.shape)}), the model expects ${options.featureSize}`,
      );
    }
    if (labelsFile === undefined) {
      const x = await readData(file, xHandle, xHeader, options.inputScale ?? 1);
      return { file, count, featureSize: sampleSize, x, y: undefined, labelSize: 0 };
    }
    return withFile(labelsFile, async (yHandle, yBytes) => {
      const yHeader = await readHeader(labelsFile, yHandle, yBytes);
      const labels = sampleLayout(labelsFile, yHeader, 'labels');
      if (labels.count !== count) {
        throw new DatasetError(
          file,
          `${count} samples (shape ${formatShape(xHeader.shape)}), but the labels file ${labelsFile} has ${labels.count} (shape ${formatShape(yHeader.shape)})`,
        );
      }
      const x = await readData(file, xHandle, xHeader, options.inputScale ?? 1);
      const y = await readData(labelsFile, yHandle, yHeader, 1);
      return { file, count, featureSize: sampleSize, x, y, labelSize: labels.sampleSize };
    });
  });
}

/** Count and values per sample of an array whose first dimension counts samples. */
function sampleLayout(file: string, header: NpyHeader, what: 'features' | 'labels'): { count: number; sampleSize: number } {
  const { shape } = header;
  if (shape.length === 0) {
    throw new DatasetError(file, `a 0-d array (a single scalar) holds no samples; ${what} need shape (count, ...)`);
  }
  const count = shape[0] as number;
  if (count === 0) throw new DatasetError(file, `no samples: shape ${formatShape(shape)}`);
  const sampleSize = shape.slice(1).reduce((a, b) => a * b, 1);
  if (sampleSize === 0) throw new DatasetError(file, `samples have no values: shape ${formatShape(shape)}`);
  return { count, sampleSize };
}

async function withFile<T>(file: string, use: (handle: FileHandle, size: number) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  let size: number;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
  }
  try {
    try {
      const stats = await handle.stat();
      if (stats.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      size = stats.size;
    } catch (err) {
      throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
    }
    return await use(handle, size);
  } finally {
    await handle.close();
  }
}

/** Reads exactly `length` bytes at `position` (the caller has checked the file is long enough). */
async function readExactly(file: string, handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, done, length - done, position + done));
    } catch (err) {
      throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
    }
    if (bytesRead === 0) throw new DatasetError(file, `the file ended after ${position + done} bytes while reading (did it change?)`);
    done += bytesRead;
  }
}

// ---------------------------------------------------------------------------------------------
// Header

async function readHeader(file: string, handle: FileHandle, fileSize: number): Promise<NpyHeader> {
  const fail = (message: string): never => {
    throw new DatasetError(file, message);
  };
  const preludeLength = Math.min(fileSize, 12);
  const prelude = Buffer.alloc(preludeLength);
  await readExactly(file, handle, prelude, preludeLength, 0);
  if (fileSize < 10 || !prelude.subarray(0, 6).equals(MAGIC)) {
    if (prelude[0] === 0x50 && prelude[1] === 0x4b) {
      fail('not a .npy file: it is a zip archive (an .npz?); save a single array with np.save');
    }
    const n = Math.min(6, fileSize);
    if (fileSize < 10 && prelude.subarray(0, n).equals(MAGIC.subarray(0, n))) fail(`not a .npy file: it ends after ${fileSize} bytes, inside the preamble`);
    fail('not a .npy file: it does not start with the magic string "\\x93NUMPY"');
  }
  const major = prelude[6] as number;
  const minor = prelude[7] as number;
  const version = `${major}.${minor}`;
  if (major !== 1 && major !== 2 && major !== 3) fail(`unsupported .npy format version ${version} (supported: 1.0, 2.0, 3.0)`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (fileSize < 8 + lengthBytes) fail(`the file ends inside the header length field (${fileSize} bytes)`);
  const headerLength = major === 1 ? prelude.readUInt16LE(8) : prelude.readUInt32LE(8);
  const headerStart = 8 + lengthBytes;
  if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} bytes is implausibly large (the header is a short dict)`);
  if (headerStart + headerLength > fileSize) {
    fail(`header length ${headerLength} runs past the end of the file (${fileSize} bytes, header starts at byte ${headerStart})`);
  }
  const raw = Buffer.alloc(headerLength);
  await readExactly(file, handle, raw, headerLength, headerStart);
  // Versions 1 and 2 store the header as latin1, version 3 as UTF-8.
  const text = raw.toString(major === 3 ? 'utf8' : 'latin1');

  let dict: PyValue;
  try {
    dict = parsePythonLiteral(text);
  } catch (err) {
    if (!(err instanceof LiteralError)) throw err;
    return fail(`header is not a valid dict literal: ${err.message}`);
  }
  if (!(dict instanceof Map)) return fail(`header is ${describePy(dict)}, expected a dict`);
  const keys = [...dict.keys()];
  for (const key of keys) {
    if (key !== 'descr' && key !== 'fortran_order' && key !== 'shape') {
      fail(`header has an unexpected key ${describePy(key)} (expected 'descr', 'fortran_order' and 'shape')`);
    }
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!dict.has(key)) fail(`header has no '${key}'`);
  }

  const shapeValue = dict.get('shape');
  if (!(Array.isArray(shapeValue) && shapeValue.every((d) => typeof d === 'bigint'))) {
    return fail(`header 'shape' must be a tuple of integers, found ${describePy(shapeValue)}`);
  }
  const shape: number[] = [];
  let elements = 1;
  for (const dim of shapeValue as bigint[]) {
    if (dim < 0n) fail(`header 'shape' ${formatShape(shapeValue.map(String))} has a negative dimension`);
    if (dim > BigInt(Number.MAX_SAFE_INTEGER)) fail(`header 'shape' ${formatShape(shapeValue.map(String))} has a dimension too large to load`);
    shape.push(Number(dim));
    elements *= Number(dim);
    if (!Number.isSafeInteger(elements)) fail(`header 'shape' ${formatShape(shapeValue.map(String))} has too many elements to load`);
  }

  const fortran = dict.get('fortran_order');
  if (typeof fortran !== 'boolean') return fail(`header 'fortran_order' must be True or False, found ${describePy(fortran)}`);
  // A Fortran-order array with at most one dimension above 1 has the same layout as C order.
  if (fortran && shape.filter((d) => d > 1).length > 1) {
    fail('Fortran-order arrays are not supported; save with np.ascontiguousarray');
  }

  const dtype = parseDescr(file, dict.get('descr'));
  const dataOffset = headerStart + headerLength;
  const expectedBytes = elements * dtype.size;
  if (!Number.isSafeInteger(expectedBytes)) fail(`header 'shape' ${formatShape(shape)} is too large to load`);
  const actualBytes = fileSize - dataOffset;
  if (actualBytes < expectedBytes) {
    fail(
      `data is truncated: shape ${formatShape(shape)} of ${dtype.descr} needs ${expectedBytes} bytes after the header, the file has ${actualBytes}`,
    );
  }
  if (actualBytes > expectedBytes) {
    fail(
      `the file has ${actualBytes - expectedBytes} bytes more than shape ${formatShape(shape)} of ${dtype.descr} needs ` +
        `(${expectedBytes} after the header); is the header's shape or length wrong?`,
    );
  }
  return { version, dtype, shape, dataOffset, elements };
}

const DTYPE_NAMES: Record<string, string> = {
  b: 'bool',
  i: 'int',
  u: 'uint',
  f: 'float',
  c: 'complex',
  O: 'object',
  U: 'unicode string',
  S: 'byte string',
  a: 'byte string',
  V: 'void/raw bytes',
  M: 'datetime',
  m: 'timedelta',
};
const SUPPORTED_DTYPES = 'bool, int8/16/32/64, uint8/16/32/64, float16/32/64';

function parseDescr(file: string, descr: PyValue | undefined): NpyDtype {
  const fail = (message: string): never => {
    throw new DatasetError(file, message);
  };
  if (Array.isArray(descr)) return fail(`structured arrays (a record dtype) are not supported; save a plain numeric array`);
  if (typeof descr !== 'string') return fail(`header 'descr' must be a dtype string like '<f4', found ${describePy(descr)}`);
  const match = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (match === null) return fail(`unsupported dtype '${descr}'; supported: ${SUPPORTED_DTYPES}`);
  const [, order = '', code = '', digits = ''] = match;
  if (code === 'O') return fail(`object arrays (dtype '${descr}') hold pickled Python objects, not numbers; save a numeric array (e.g. x.astype(np.float32))`);
  const size = digits === '' ? (code === 'b' ? 1 : 0) : Number(digits);
  const kind: Kind | undefined = code === 'b' ? 'bool' : code === 'i' ? 'int' : code === 'u' ? 'uint' : code === 'f' ? 'float' : undefined;
  const valid =
    kind !== undefined &&
    (kind === 'bool' ? size === 1 : kind === 'float' ? size === 2 || size === 4 || size === 8 : size === 1 || size === 2 || size === 4 || size === 8);
  if (!valid) {
    const name = DTYPE_NAMES[code];
    return fail(`unsupported dtype '${descr}'${name === undefined ? '' : ` (${name}${size > 0 ? ` of ${size} bytes` : ''})`}; supported: ${SUPPORTED_DTYPES}`);
  }
  if (order === '|' && size > 1) fail(`dtype '${descr}' has no byte order ('|' is for 1-byte types)`);
  const littleEndian = order === '>' ? false : order === '=' ? endianness() === 'LE' : true;
  return { descr, kind, size: size as NpyDtype['size'], littleEndian };
}

function formatShape(shape: ReadonlyArray<number | string>): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

// ---------------------------------------------------------------------------------------------
// Data

async function readData(file: string, handle: FileHandle, header: NpyHeader, scale: number): Promise<Float32Array> {
  const { dtype, elements, shape } = header;
  let out: Float32Array;
  try {
    out = new Float32Array(elements);
  } catch {
    throw new DatasetError(file, `shape ${formatShape(shape)} has too many elements to hold in memory as float32`);
  }
  const chunkElements = Math.max(1, Math.floor(CHUNK_BYTES / dtype.size));
  const buffer = Buffer.allocUnsafe(Math.min(elements, chunkElements) * dtype.size);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const read = elementReader(dtype);
  const le = dtype.littleEndian;
  const step = dtype.size;
  const bad = (index: number, what: string): never => {
    throw new DatasetError(file, `element ${formatIndex(index, shape)}: ${what}`);
  };
  for (let start = 0; start < elements; start += chunkElements) {
    const n = Math.min(chunkElements, elements - start);
    await readExactly(file, handle, buffer, n * step, header.dataOffset + start * step);
    for (let i = 0; i < n; i++) {
      const value = read(view, i * step, le);
      if (value - value !== 0) {
        // Not finite: NaN or ±Infinity from a float, or a 64-bit integer we could not convert.
        if (dtype.kind === 'float') bad(start + i, `${value} is not a finite number`);
        const big = dtype.kind === 'int' ? view.getBigInt64(i * step, le) : view.getBigUint64(i * step, le);
        bad(start + i, `${big} is outside ±2^53, beyond which ${dtype.descr} values cannot be converted exactly`);
      }
      // Stored as float32: a finite float64 (or a value times `scale`) beyond its range would be Infinity.
      const scaled = value * scale;
      if (!fitsFloat32(scaled)) bad(start + i, describeFloat32Overflow(String(value), scale));
      out[start + i] = scaled;
    }
  }
  return out;
}

/** Reads one element; 64-bit integers outside ±2^53 come back as NaN for the caller to report. */
function elementReader(dtype: NpyDtype): (view: DataView, offset: number, le: boolean) => number {
  const { kind, size } = dtype;
  if (kind === 'bool') return (view, offset) => (view.getUint8(offset) === 0 ? 0 : 1);
  if (kind === 'float') {
    if (size === 2) return (view, offset, le) => halfToNumber(view.getUint16(offset, le));
    if (size === 4) return (view, offset, le) => view.getFloat32(offset, le);
    return (view, offset, le) => view.getFloat64(offset, le);
  }
  if (kind === 'int') {
    if (size === 1) return (view, offset) => view.getInt8(offset);
    if (size === 2) return (view, offset, le) => view.getInt16(offset, le);
    if (size === 4) return (view, offset, le) => view.getInt32(offset, le);
    return (view, offset, le) => {
      const value = view.getBigInt64(offset, le);
      return value > LIMIT || value < -LIMIT ? NaN : Number(value);
    };
  }
  if (size === 1) return (view, offset) => view.getUint8(offset);
  if (size === 2) return (view, offset, le) => view.getUint16(offset, le);
  if (size === 4) return (view, offset, le) => view.getUint32(offset, le);
  return (view, offset, le) => {
    const value = view.getBigUint64(offset, le);
    return value > LIMIT ? NaN : Number(value);
  };
}

const LIMIT = 2n ** 53n;

/** IEEE 754 half precision bits as a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A flat C-order index as a NumPy index, e.g. `[3, 0, 2]`. */
function formatIndex(flat: number, shape: readonly number[]): string {
  const index: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    const dim = shape[d] as number;
    index.push(flat % dim);
    flat = Math.floor(flat / dim);
  }
  return `[${index.reverse().join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Python literals

/** A Python literal as parsed: dict → Map, tuple/list → array, int → bigint. */
export type PyValue = string | bigint | boolean | null | PyValue[] | Map<PyValue, PyValue>;

class LiteralError extends Error {}

/**
 * Parses the Python literals a `.npy` header uses: dicts, tuples, lists, strings, integers (a
 * Python 2 `L` suffix included), True, False and None. Anything else is an error naming the
 * character position; nothing is evaluated.
 */
export function parsePythonLiteral(text: string): PyValue {
  let pos = 0;
  const fail = (message: string): never => {
    throw new LiteralError(message);
  };
  const at = (): string => (pos >= text.length ? 'the end' : `${JSON.stringify(text[pos])} at character ${pos + 1}`);
  const skipSpace = (): void => {
    while (pos < text.length && /\s/.test(text[pos] as string)) pos++;
  };
  const expect = (char: string): void => {
    skipSpace();
    if (text[pos] !== char) fail(`expected '${char}', found ${at()}`);
    pos++;
  };

  /** Items up to `close`, separated by commas, a trailing comma allowed; reports whether any comma was seen. */
  const sequence = <T>(close: string, item: () => T): { items: T[]; comma: boolean } => {
    const items: T[] = [];
    let comma = false;
    for (;;) {
      skipSpace();
      if (text[pos] === close) {
        pos++;
        return { items, comma };
      }
      items.push(item());
      skipSpace();
      if (text[pos] === ',') {
        comma = true;
        pos++;
      } else if (text[pos] !== close) {
        fail(`expected ',' or '${close}', found ${at()}`);
      }
    }
  };

  const value = (): PyValue => {
    skipSpace();
    const c = text[pos];
    if (c === undefined) return fail('the header ends where a value should be');
    if (c === '{') {
      pos++;
      const map = new Map<PyValue, PyValue>();
      sequence('}', () => {
        const start = pos;
        const key = value();
        if (typeof key !== 'string') fail(`dict keys must be strings, found ${describePy(key)} at character ${start + 1}`);
        if (map.has(key)) fail(`key ${describePy(key)} appears twice`);
        expect(':');
        map.set(key, value());
      });
      return map;
    }
    if (c === '(') {
      pos++;
      const { items, comma } = sequence(')', value);
      // `(3)` is just 3 in Python; `(3,)` and `()` are tuples.
      return items.length === 1 && !comma ? (items[0] as PyValue) : items;
    }
    if (c === '[') {
      pos++;
      return sequence(']', value).items;
    }
    if (c === "'" || c === '"' || ((c === 'u' || c === 'b') && (text[pos + 1] === "'" || text[pos + 1] === '"'))) {
      if (c === 'u' || c === 'b') pos++;
      const quote = text[pos] as string;
      const start = pos;
      pos++;
      let result = '';
      for (;;) {
        const d = text[pos];
        if (d === undefined || d === '\n') return fail(`string starting at character ${start + 1} is not closed`);
        pos++;
        if (d === quote) return result;
        if (d === '\\') {
          const escaped = text[pos];
          if (escaped === undefined) return fail(`string starting at character ${start + 1} is not closed`);
          pos++;
          result += escaped;
        } else {
          result += d;
        }
      }
    }
    const word = /^(?:[A-Za-z_]\w*|[+-]?\d[\w.+-]*)/.exec(text.slice(pos))?.[0];
    if (word !== undefined) {
      const start = pos;
      pos += word.length;
      if (word === 'True') return true;
      if (word === 'False') return false;
      if (word === 'None') return null;
      const int = /^([+-]?\d+)[lL]?$/.exec(word);
      if (int) return BigInt(int[1] as string);
      pos = start;
      return fail(`unexpected ${JSON.stringify(word)} at character ${start + 1} (only strings, integers, True, False, None, tuples, lists and dicts are allowed)`);
    }
    return fail(`unexpected ${at()}`);
  };

  const result = value();
  skipSpace();
  if (pos < text.length) fail(`unexpected ${at()} after the dict (is the header length right?)`);
  return result;
}

function describePy(value: PyValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 39)}…` : value}'`;
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Map) return 'a dict';
  return 'a tuple';
}
