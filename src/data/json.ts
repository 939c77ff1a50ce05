/**
 * JSON Lines and JSON: records `{"x": [...], "y": ...}` (x may be nested, e.g. an image), or one
 * object of columns. Every problem names the line, record, field or element.
 */
import { z } from 'zod';
import { DatasetError } from '../errors.js';
import { describeFloat32Overflow, fitsFloat32, linesOf, truncate, type Dataset, type ReadDatasetOptions } from './types.js';
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
  const fits = (n: number): boolean => fitsFloat32(n * scale);
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

export function parseJsonLines(file: string, text: string, options: ReadDatasetOptions): Dataset {
  checkLabelOption(file, options);
  const collector = new SampleCollector(file, options);
  for (const [line, lineNumber] of linesOf(text)) {
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

export function parseJson(file: string, text: string, options: ReadDatasetOptions): Dataset {
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
