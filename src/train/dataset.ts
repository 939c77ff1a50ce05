/**
 * Dataset readers: CSV/TSV, JSON Lines, JSON, NumPy .npy (npy.ts) and folders of images with one
 * subfolder per class (images.ts), each turned into flat Float32 feature and label arrays. Every
 * problem with the input is a DatasetError whose message names the line, column, record, field,
 * element or image, so the CLI can print it as one line.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { DatasetError, UsageError } from '../errors.js';
import { IMAGE_EXTENSIONS, readImageFolder } from './images.js';
import { readNpyDataset } from './npy.js';
import { createRng } from './random.js';

/** Samples read from a file, stored row-major. */
export interface Dataset {
  /** The file the samples came from (for messages). */
  file: string;
  /** Number of samples. */
  count: number;
  /** Values per sample (flattened). */
  featureSize: number;
  /** Features, count * featureSize, row-major. */
  x: Float32Array;
  /** Labels, count * labelSize, row-major; undefined when the file has none. */
  y: Float32Array | undefined;
  /** Values per label; 0 when there are no labels. */
  labelSize: number;
  /** For an image folder: the class folder names, indexed by label. */
  classNames?: string[];
}

/** How to read a dataset. */
export interface ReadDatasetOptions {
  /**
   * CSV label column: a header name, a 0-based column index as a string (negative counts from the
   * end), or "none" for no labels. Default: the last column. For JSON only "none" applies.
   */
  label?: string;
  /** Expected values per sample (the product of the model's input shape); other sizes are an error. */
  featureSize?: number;
  /** For .npy features only: a .npy file of labels, shape [count] or [count, k]. */
  labels?: string;
  /** For an image folder (required there): [height, width, channels], channels 1 or 3. */
  imageShape?: readonly number[];
  /** Every feature is multiplied by this as it is read (e.g. 1/255); labels are not. Default 1. */
  inputScale?: number;
}

/** File extensions readDataset understands; a folder is read as images, one subfolder per class. */
export const SUPPORTED_EXTENSIONS = ['.csv', '.tsv', '.json', '.jsonl', '.ndjson', '.npy'] as const;

/**
 * Reads a dataset, choosing the format by extension; a folder (whose name has none of these
 * extensions) is read as images with one subfolder per class.
 */
export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const scale = options.inputScale;
  if (scale !== undefined && !(Number.isFinite(scale) && scale > 0)) {
    throw new RangeError(`inputScale must be a finite number above 0, got ${scale}`);
  }
  const extension = extname(file).toLowerCase();
  const isFileFormat = (SUPPORTED_EXTENSIONS as readonly string[]).includes(extension);
  let isFolder = false;
  if (!isFileFormat) {
    try {
      isFolder = (await stat(file)).isDirectory();
    } catch (err) {
      // A path without an extension is most likely a folder of images that is not there.
      if (extension === '') {
        const reason = describeReadError(err);
        throw new DatasetError(file, `cannot read: ${reason === 'no such file' ? 'no such file or folder' : reason}`);
      }
    }
  }
  if (options.labels !== undefined && extension !== '.npy') {
    const where = isFolder ? 'an image folder takes its labels from its class subfolders' : 'CSV and JSON files hold their labels themselves (see --label)';
    throw new UsageError(`--labels is for .npy features only; ${where}`);
  }
  if (extension === '.npy') return readNpyDataset(file, options);
  if (isFolder) return readImageFolder(file, options);
  if (!isFileFormat) {
    const what = extension === '' ? 'file has no extension' : `unsupported extension "${extension}"`;
    const hint = (IMAGE_EXTENSIONS as readonly string[]).includes(extension) ? ' (for images, give the folder that holds one subfolder per class)' : '';
    throw new DatasetError(file, `${what}; supported: ${SUPPORTED_EXTENSIONS.join(', ')}, or a folder of images with one subfolder per class${hint}`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // byte order mark
  switch (extension) {
    case '.csv':
      return parseDelimited(file, text, ',', options);
    case '.tsv':
      return parseDelimited(file, text, '\t', options);
    case '.jsonl':
    case '.ndjson':
      return parseJsonLines(file, text, options);
    default:
      return parseJson(file, text, options);
  }
}

/**
 * Splits `ds` into a training and a validation part by a seeded shuffle: the same seed always
 * picks the same validation samples. Each part keeps the file order of its samples.
 * `validationSplit` is the fraction held out, in [0, 1); above 0, heldOutCount says how many (a
 * DatasetError when the dataset is too small for the split). At 0 nothing is held out.
 */
export function splitDataset(
  ds: Dataset,
  validationSplit: number,
  seed: number,
): { train: Dataset; validation: Dataset } {
  if (!(validationSplit >= 0 && validationSplit < 1)) {
    throw new RangeError(`validationSplit must be in [0, 1), got ${validationSplit}`);
  }
  const n = ds.count;
  const validationCount = heldOutCount(ds.file, n, validationSplit);
  const order = createRng(seed).permutation(n);
  const trainIndices = order.slice(0, n - validationCount).sort();
  const validationIndices = order.slice(n - validationCount).sort();
  return { train: takeSamples(ds, trainIndices), validation: takeSamples(ds, validationIndices) };
}

/**
 * How many of the `count` samples of `file` a split of `validationSplit` holds out: round(count ·
 * split), at least one, and it must leave at least one to train on, so a split needs 2 samples or
 * more. A split that cannot is a DatasetError stating what would work. None at split 0. Streamed
 * files follow the same rule, under their cap.
 */
export function heldOutCount(file: string, count: number, validationSplit: number): number {
  if (!(validationSplit > 0)) return 0;
  const held = Math.max(1, Math.round(count * validationSplit));
  if (held < count) return held;
  if (count === 1) {
    throw new DatasetError(
      file,
      `only 1 sample: holding out part of the data for validation (--validation-split ${validationSplit}) needs at least 2 samples, one to train on and one to measure on; add samples, or measure on another file with --validation-data`,
    );
  }
  let needed = count + 1;
  while (Math.max(1, Math.round(needed * validationSplit)) >= needed) needed++;
  const digits = 10 ** (String(count).length + 1);
  const largest = Math.floor(((count - 1) / count) * digits) / digits;
  throw new DatasetError(
    file,
    `--validation-split ${validationSplit} would hold out all ${count} samples, leaving none to train on; use a split of at most ${largest}, or at least ${needed} samples`,
  );
}

/** A new dataset holding the samples at `indices`, in that order. */
function takeSamples(ds: Dataset, indices: Int32Array): Dataset {
  const { featureSize, labelSize } = ds;
  const x = new Float32Array(indices.length * featureSize);
  const y = ds.y === undefined ? undefined : new Float32Array(indices.length * labelSize);
  indices.forEach((sample, row) => {
    x.set(ds.x.subarray(sample * featureSize, (sample + 1) * featureSize), row * featureSize);
    if (y !== undefined && ds.y !== undefined) {
      y.set(ds.y.subarray(sample * labelSize, (sample + 1) * labelSize), row * labelSize);
    }
  });
  return { file: ds.file, count: indices.length, featureSize, x, y, labelSize, ...(ds.classNames ? { classNames: ds.classNames } : {}) };
}

/** A file system error in a few words, for `cannot read file: ...`. */
export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

// ---------------------------------------------------------------------------------------------
// CSV / TSV

/**
 * Parses one cell. Returns NaN when the cell is not a plain decimal number (callers then ask
 * describeBadCell why). Number() is the fast path; it also accepts a few things we do not want
 * (blank cells as 0, 0x/0o/0b literals, Infinity), which are ruled out here.
 */
function parseCell(cell: string): number {
  const n = Number(cell);
  if (n - n === 0) {
    // finite
    let i = 0;
    let c = cell.charCodeAt(0);
    while (c === 32 || c === 9) c = cell.charCodeAt(++i);
    if (i === cell.length) return NaN; // blank
    if (c === 48 /* 0 */) {
      const d = cell.charCodeAt(i + 1) | 32;
      if (d === 120 /* x */ || d === 111 /* o */ || d === 98 /* b */) return NaN;
    }
    return n;
  }
  // Quoted numbers ("1.5") are still numbers.
  const trimmed = cell.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return parseCell(trimmed.slice(1, -1));
  }
  return NaN;
}

/** float32's range as messages state it (its largest finite value is about 3.4028e38). */
const FLOAT32_RANGE = '±3.4e38';

/**
 * Why `value` (shown as `shown`), times `scale`, cannot be stored: finite as a float64 but beyond
 * float32's range, where it would become Infinity.
 */
export function describeFloat32Overflow(shown: string, scale = 1): string {
  const scaled = scale === 1 ? '' : ` times the input scale ${scale}`;
  return `${shown}${scaled} exceeds float32's range (${FLOAT32_RANGE})`;
}

function isBlank(cell: string): boolean {
  const trimmed = cell.trim();
  return trimmed === '' || trimmed === '""';
}

function describeBadCell(cell: string): string {
  if (isBlank(cell)) return 'empty cell';
  const shown = JSON.stringify(truncate(cell.trim(), 40));
  const n = Number(cell.trim().replace(/^"(.*)"$/, '$1'));
  return Number.isNaN(n) || Number.isFinite(n) ? `${shown} is not a number` : `${shown} is not a finite number`;
}

function headerName(cell: string): string {
  const trimmed = cell.trim();
  return trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')
    ? trimmed.slice(1, -1).replaceAll('""', '"')
    : trimmed;
}

/**
 * Parses the lines of a CSV/TSV file one by one: header detection on the first non-blank line, the
 * label column, and every check with its line number. Used whole-file and streaming alike.
 */
export class DelimitedParser {
  private columns = -1;
  private header: string[] | undefined;
  private labelColumn = -1; // -1: no label column
  private size = 0;
  private rows = 0;
  private scratch = new Float32Array(0);
  private readonly scale: number;

  constructor(
    private readonly file: string,
    private readonly delimiter: string,
    private readonly options: ReadDatasetOptions,
  ) {
    this.scale = options.inputScale ?? 1;
  }

  /** Features per row (known after the first non-blank line). */
  get featureSize(): number {
    return this.size;
  }

  get hasLabel(): boolean {
    return this.labelColumn !== -1;
  }

  /**
   * One line (without its newline) → the row's features (a view valid until the next call) and
   * label; null for a blank line or the header.
   */
  parse(rawLine: string, lineNumber: number): { x: Float32Array; y: number | undefined } | null {
    const line = rawLine.charCodeAt(rawLine.length - 1) === 13 ? rawLine.slice(0, -1) : rawLine; // CRLF
    if (line.trim() === '') return null;
    const cells = line.split(this.delimiter);
    if (this.columns === -1) {
      // First non-blank row: it is a header when any cell is not a number.
      this.columns = cells.length;
      const isHeader = cells.some((cell) => !isBlank(cell) && Number.isNaN(parseCell(cell)));
      if (isHeader) this.header = cells.map(headerName);
      this.labelColumn = resolveLabelColumn(this.options.label, this.columns, this.header, (m) => this.fail(m));
      this.size = this.labelColumn === -1 ? this.columns : this.columns - 1;
      if (this.size === 0) {
        this.fail(`the only column is the label, so there are no features` + (this.options.label === undefined ? ' (use --label none when the file has no label column)' : ''));
      }
      this.scratch = new Float32Array(this.size);
      if (isHeader) return null;
    }
    if (this.rows === 0 && this.options.featureSize !== undefined && this.options.featureSize !== this.size) {
      this.fail(`line ${lineNumber}: ${featureCountMismatch(this.size, this.options.featureSize, this.labelColumn !== -1, this.options.label)}`);
    }
    if (cells.length !== this.columns) this.fail(`line ${lineNumber}: expected ${this.columns} cells, found ${cells.length}`);
    let offset = 0;
    let y: number | undefined;
    for (let column = 0; column < this.columns; column++) {
      const cell = cells[column] as string;
      const value = parseCell(cell);
      if (Number.isNaN(value)) this.fail(`line ${lineNumber}, column ${column + 1}: ${describeBadCell(cell)}`);
      const isLabel = column === this.labelColumn;
      // What is stored is float32: a finite float64 beyond its range would become Infinity there.
      const stored = Math.fround(isLabel ? value : value * this.scale);
      if (stored - stored !== 0) this.fail(`line ${lineNumber}, column ${column + 1}: ${describeFloat32Overflow(headerName(cell), isLabel ? 1 : this.scale)}`);
      if (isLabel) y = value;
      else this.scratch[offset++] = stored;
    }
    this.rows++;
    return { x: this.scratch, y };
  }

  /** The error for a file that had no data rows. */
  empty(): never {
    return this.fail(this.header === undefined ? 'no data rows (the file is empty)' : 'no data rows (only a header)');
  }

  private fail(message: string): never {
    throw new DatasetError(this.file, message);
  }
}

function parseDelimited(file: string, text: string, delimiter: string, options: ReadDatasetOptions): Dataset {
  const parser = new DelimitedParser(file, delimiter, options);
  // Upper bound on data rows, so the arrays are allocated once.
  let lineCount = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineCount++;
  let x: Float32Array | undefined;
  let y: Float32Array | undefined;
  let count = 0;
  let pos = 0;
  let lineNumber = 0;
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    lineNumber++;
    const row = parser.parse(text.slice(pos, end), lineNumber);
    pos = end + 1;
    if (row === null) continue;
    if (x === undefined) {
      x = new Float32Array(lineCount * parser.featureSize);
      y = parser.hasLabel ? new Float32Array(lineCount) : undefined;
    }
    x.set(row.x, count * parser.featureSize);
    if (y !== undefined) y[count] = row.y as number;
    count++;
  }
  if (x === undefined || count === 0) return parser.empty();
  const featureSize = parser.featureSize;
  if (count < lineCount) {
    x = x.slice(0, count * featureSize);
    y = y?.slice(0, count);
  }
  return { file, count, featureSize, x, y, labelSize: y === undefined ? 0 : 1 };
}

function featureCountMismatch(found: number, expected: number, hasLabel: boolean, label: string | undefined): string {
  let hint = '';
  if (hasLabel && label === undefined && found === expected - 1) {
    hint = ' (use --label none when the file has no label column)';
  } else if (!hasLabel && found === expected + 1) {
    hint = ' (is one of the columns a label? pick it with --label)';
  }
  return `row has ${found} features, the model expects ${expected}${hint}`;
}

/** The 0-based label column, or -1 for none. */
function resolveLabelColumn(
  label: string | undefined,
  columns: number,
  header: string[] | undefined,
  fail: (message: string) => never,
): number {
  if (label === undefined) return columns - 1;
  if (label === 'none') return -1;
  if (header !== undefined) {
    const matches = header.flatMap((name, index) => (name === label ? [index] : []));
    if (matches.length > 1) {
      fail(
        `label column "${label}" is ambiguous: columns ${matches.map((m) => m + 1).join(', ')} have that name; pick one by index`,
      );
    }
    if (matches.length === 1) return matches[0] as number;
  }
  if (/^[+-]?\d+$/.test(label.trim())) {
    const index = Number(label.trim());
    if (index >= columns || index < -columns) {
      fail(`label column index ${index} is out of range: the file has ${columns} columns (0..${columns - 1}, or -${columns}..-1)`);
    }
    return index < 0 ? columns + index : index;
  }
  if (header === undefined) fail(`label column "${label}" is a name, but the file has no header row`);
  const names = header.slice(0, 20).map((name) => JSON.stringify(name)).join(', ');
  const more = header.length > 20 ? `, and ${header.length - 20} more` : '';
  return fail(`no column named "${label}"; the header has ${names}${more}`);
}

// ---------------------------------------------------------------------------------------------
// JSON and JSON Lines

/** A sample's x or y: a number or (nested) arrays of numbers; the elements are checked by flatten. */
const sampleValueSchema = z.union([z.number(), z.custom<unknown[]>((value) => Array.isArray(value))]);
/** One record: `{"x": [...], "y": ...}`, y optional. */
const recordSchema = z.strictObject({ x: sampleValueSchema, y: sampleValueSchema.optional() });
/** The column form of a .json file: `{"x": [sample, ...], "y": [label, ...]}`. */
const columnsSchema = z.strictObject({
  x: z.custom<unknown[]>((value) => Array.isArray(value)),
  y: z.custom<unknown[]>((value) => Array.isArray(value)).optional(),
});

/** Where a sample is, for messages: `name` the sample, `prefix` starts its messages, `x`/`y` name its fields. */
interface Location {
  name: string;
  prefix: string;
  x: string;
  y: string;
}

/** Gathers samples one by one, checking that they all have the same sizes. */
class SampleCollector {
  readonly x: number[] = [];
  readonly y: number[] = [];
  count = 0;
  featureSize = -1;
  labelSize = -1; // -1 until the first sample; 0 when samples have no y
  private first: Location | undefined;

  constructor(
    private readonly file: string,
    private readonly options: ReadDatasetOptions,
  ) {}

  add(where: Location, x: unknown, y: unknown): void {
    const dropLabels = this.options.label === 'none';
    const xSize = flatten(this.file, x, where.prefix, where.x, this.x, this.options.inputScale ?? 1);
    const first = this.first;
    if (first === undefined) {
      this.first = where;
      if (this.options.featureSize !== undefined && xSize !== this.options.featureSize) {
        this.fail(`${where.prefix}${where.x} has ${xSize} values, the model expects ${this.options.featureSize}`);
      }
      this.featureSize = xSize;
      this.labelSize = y === undefined || dropLabels ? 0 : flatten(this.file, y, where.prefix, where.y, this.y, 1);
    } else {
      if (xSize !== this.featureSize) {
        const expectation =
          this.options.featureSize !== undefined
            ? `the model expects ${this.featureSize}`
            : `expected ${this.featureSize} (as in ${first.name})`;
        this.fail(`${where.prefix}${where.x} has ${xSize} values, ${expectation}`);
      }
      if (!dropLabels) {
        if (y === undefined && this.labelSize > 0) {
          this.fail(`${where.name}: "y" is missing, but ${first.name} has one (either every record has "y" or none does)`);
        }
        if (y !== undefined && this.labelSize === 0) {
          this.fail(`${where.name}: has "y", but ${first.name} has none (either every record has "y" or none does)`);
        }
        if (y !== undefined) {
          const ySize = flatten(this.file, y, where.prefix, where.y, this.y, 1);
          if (ySize !== this.labelSize) {
            this.fail(`${where.prefix}${where.y} has ${ySize} values, expected ${this.labelSize} (as in ${first.name})`);
          }
        }
      }
    }
    this.count++;
  }

  finish(emptyMessage: string): Dataset {
    if (this.count === 0) this.fail(emptyMessage);
    const scale = this.options.inputScale ?? 1;
    return {
      file: this.file,
      count: this.count,
      featureSize: this.featureSize,
      x: scale === 1 ? Float32Array.from(this.x) : Float32Array.from(this.x, (v) => v * scale),
      y: this.labelSize > 0 ? Float32Array.from(this.y) : undefined,
      labelSize: this.labelSize,
    };
  }

  private fail(message: string): never {
    throw new DatasetError(this.file, message);
  }
}

/**
 * Appends the numbers in `value` (a number or rectangular nested arrays of numbers) to `out`
 * and returns how many there were. Messages start with `prefix` (`line 3: `) and name the value
 * by `label` (`x`). Each number times `scale` must fit float32, as which it is stored.
 */
function flatten(file: string, value: unknown, prefix: string, label: string, out: number[], scale: number): number {
  const fail = (message: string): never => {
    throw new DatasetError(file, prefix + message);
  };
  const fits = (n: number): boolean => {
    const stored = Math.fround(n * scale);
    return stored - stored === 0;
  };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(`${label}: ${describeValue(value)} is not a finite number`);
    if (!fits(value)) fail(`${label}: ${describeFloat32Overflow(String(value), scale)}`);
    out.push(value);
    return 1;
  }
  if (!Array.isArray(value)) return fail(`${label}: expected a number or an array of numbers, found ${describeValue(value)}`);

  // The shape comes from the first element at each depth; every other element must match it.
  const shape: number[] = [];
  for (let current: unknown = value; Array.isArray(current); current = current[0]) shape.push(current.length);
  if (shape.includes(0)) fail(`${label} is empty`);

  const path: number[] = [];
  const at = (): string => label + path.map((i) => `[${i}]`).join('');
  const walk = (array: unknown[], depth: number): void => {
    if (array.length !== shape[depth]) {
      fail(`${at()} has ${array.length} items, ${label}${'[0]'.repeat(depth)} has ${shape[depth]}`);
    }
    const leaf = depth === shape.length - 1;
    for (let i = 0; i < array.length; i++) {
      const element = array[i];
      path.push(i);
      if (leaf) {
        if (typeof element !== 'number') fail(`${at()}: expected a number, found ${describeValue(element)}`);
        else if (!Number.isFinite(element)) fail(`${at()}: ${describeValue(element)} is not a finite number`);
        else if (!fits(element)) fail(`${at()}: ${describeFloat32Overflow(String(element), scale)}`);
        else out.push(element);
      } else if (Array.isArray(element)) {
        walk(element, depth + 1);
      } else {
        fail(`${at()}: expected an array, found ${describeValue(element)}`);
      }
      path.pop();
    }
  };
  const start = out.length;
  walk(value, 0);
  return out.length - start;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number') return String(value);
  return truncate(JSON.stringify(value) ?? String(value), 40);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Our message for the first zod issue of a record that does not have the record shape. */
function describeRecordIssue(record: unknown, issues: readonly z.core.$ZodIssue[]): string {
  const issue = issues[0];
  const field = issue?.path[0];
  if (issue?.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    return `unexpected field${issue.keys.length > 1 ? 's' : ''} ${keys} (a record has "x" and an optional "y")`;
  }
  if (field === 'x' || field === 'y') {
    const value = (record as Record<string, unknown>)[field];
    if (value === undefined) return `"${field}" is missing`;
    return `"${field}" must be a number or an array of numbers, found ${describeValue(value)}`;
  }
  return `expected a record like {"x": [...], "y": ...}, found ${describeValue(record)}`;
}

function checkLabelOption(file: string, options: ReadDatasetOptions): void {
  if (options.label !== undefined && options.label !== 'none') {
    throw new DatasetError(
      file,
      `label column "${options.label}" applies to CSV files only; JSON records carry their label in "y" (use --label none to ignore it)`,
    );
  }
}

/** JSON.parse's message, made one line and lower-case, with the position as line and column. */
function describeJsonError(err: unknown, text: string): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  const positioned = /^(.*) in JSON at position (\d+)/.exec(message);
  if (positioned) {
    const position = Number(positioned[2]);
    const before = text.slice(0, position);
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n');
    return `line ${line}, column ${column}: invalid JSON: ${lowerFirst(positioned[1] ?? '')}`;
  }
  // V8 quotes a snippet of the input after "Unexpected token 'a', ..."; the token is enough.
  const token = /^(Unexpected token '.*?'),/.exec(message);
  return `invalid JSON: ${lowerFirst(token?.[1] ?? truncate(message, 80))}`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function parseJsonLines(file: string, text: string, options: ReadDatasetOptions): Dataset {
  checkLabelOption(file, options);
  const collector = new SampleCollector(file, options);
  let pos = 0;
  let lineNumber = 0;
  while (pos <= text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    lineNumber++;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (err) {
      // Positions in a one-line parse are columns of this line.
      const message = describeJsonError(err, line).replace(/^line 1, /, '');
      throw new DatasetError(file, `line ${lineNumber}${message.startsWith('column') ? ', ' : ': '}${message}`);
    }
    const where = `line ${lineNumber}`;
    const parsed = recordSchema.safeParse(record);
    if (!parsed.success) throw new DatasetError(file, `${where}: ${describeRecordIssue(record, parsed.error.issues)}`);
    collector.add({ name: where, prefix: `${where}: `, x: 'x', y: 'y' }, parsed.data.x, parsed.data.y);
  }
  return collector.finish('no records (the file has no non-blank lines)');
}

function parseJson(file: string, text: string, options: ReadDatasetOptions): Dataset {
  checkLabelOption(file, options);
  if (text.trim() === '') throw new DatasetError(file, 'no records (the file is empty)');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(file, describeJsonError(err, text));
  }
  const collector = new SampleCollector(file, options);

  if (Array.isArray(data)) {
    data.forEach((record: unknown, index) => {
      const where = `[${index}]`;
      const parsed = recordSchema.safeParse(record);
      if (!parsed.success) throw new DatasetError(file, `${where}: ${describeRecordIssue(record, parsed.error.issues)}`);
      collector.add({ name: where, prefix: '', x: `${where}.x`, y: `${where}.y` }, parsed.data.x, parsed.data.y);
    });
    return collector.finish('no records (the array is empty)');
  }

  const parsed = columnsSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0];
    if (typeof data === 'object' && data !== null && (field === 'x' || field === 'y')) {
      const value = (data as Record<string, unknown>)[field];
      throw new DatasetError(
        file,
        value === undefined ? `"x" is missing` : `"${field}" must be an array with one entry per sample, found ${describeValue(value)}`,
      );
    }
    const extra = issue?.code === 'unrecognized_keys' ? ` with no other fields (found ${issue.keys.map((k) => JSON.stringify(k)).join(', ')})` : '';
    throw new DatasetError(file, `expected an array of records or an object {"x": [...], "y": [...]}${extra}`);
  }
  const { x, y } = parsed.data;
  if (y !== undefined && y.length !== x.length) {
    throw new DatasetError(file, `"x" has ${x.length} samples but "y" has ${y.length}`);
  }
  x.forEach((sample, index) => {
    collector.add({ name: `x[${index}]`, prefix: '', x: `x[${index}]`, y: `y[${index}]` }, sample, y?.[index]);
  });
  return collector.finish('no records ("x" is empty)');
}
