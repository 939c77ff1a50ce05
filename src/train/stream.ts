/**
 * Datasets larger than memory: a CSV/TSV file is read as a stream, never whole. One pass checks every
 * row (so bad input fails before any training) and keeps the validation samples, which are few and
 * fixed: row i is held out when a seeded hash of i falls below the split, up to a cap. Each training
 * epoch streams the file again through a seeded shuffle buffer.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../errors.js';
import { DelimitedParser, describeReadError, type Dataset, type ReadDatasetOptions } from './dataset.js';
import type { Rng } from './random.js';

/** Where training batches come from: a dataset in memory or a file streamed each epoch. */
export interface BatchSource {
  file: string;
  /** Training samples per epoch. */
  count: number;
  featureSize: number;
  labelSize: number;
  /** One epoch's batches in a seeded order; each batch is a small in-memory Dataset. */
  batches(batchSize: number, rng: Rng): AsyncIterable<Dataset>;
}

/** Files above this size are streamed unless told otherwise. */
export const STREAM_THRESHOLD_BYTES = 256 * 1024 * 1024;
/** At most this many samples are held out from a streamed file (they are kept in memory). */
export const MAX_STREAMED_VALIDATION = 10_000;

export const STREAMABLE_EXTENSIONS = ['.csv', '.tsv'];

/** A source over an in-memory dataset: a seeded permutation per epoch, cut into batches. */
export function memorySource(ds: Dataset): BatchSource {
  return {
    file: ds.file,
    count: ds.count,
    featureSize: ds.featureSize,
    labelSize: ds.labelSize,
    async *batches(batchSize, rng) {
      const order = rng.permutation(ds.count);
      for (let start = 0; start < ds.count; start += batchSize) yield gather(ds, order.subarray(start, Math.min(ds.count, start + batchSize)));
    },
  };
}

function gather(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const x = new Float32Array(indices.length * ds.featureSize);
  const y = ds.y === undefined ? undefined : new Float32Array(indices.length * ds.labelSize);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r] as number;
    x.set(ds.x.subarray(i * ds.featureSize, (i + 1) * ds.featureSize), r * ds.featureSize);
    if (y !== undefined && ds.y !== undefined) y.set(ds.y.subarray(i * ds.labelSize, (i + 1) * ds.labelSize), r * ds.labelSize);
  }
  return { file: ds.file, count: indices.length, featureSize: ds.featureSize, x, y, labelSize: ds.labelSize };
}

/** Whether `file` should be streamed: `stream` forces it either way, else its size decides. */
export async function shouldStream(file: string, stream: boolean | undefined): Promise<boolean> {
  if (!STREAMABLE_EXTENSIONS.includes(extname(file).toLowerCase())) {
    if (stream === true) throw new DatasetError(file, `only ${STREAMABLE_EXTENSIONS.join(' and ')} files can be streamed`);
    return false;
  }
  if (stream !== undefined) return stream;
  try {
    return (await stat(file)).size > STREAM_THRESHOLD_BYTES;
  } catch {
    return false; // the reader reports the missing file
  }
}

/** Rows of a CSV/TSV file, parsed and checked as they stream past. */
async function* rows(file: string, options: ReadDatasetOptions): AsyncGenerator<{ x: Float32Array; y: number | undefined; line: number }> {
  const parser = new DelimitedParser(file, extname(file).toLowerCase() === '.tsv' ? '\t' : ',', options);
  const input = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let any = false;
  try {
    for await (const text of lines) {
      line++;
      const row = parser.parse(line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, line);
      if (row === null) continue;
      any = true;
      yield { ...row, line };
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(file, `cannot read file: ${describeReadError(err)}`);
  } finally {
    lines.close();
    input.destroy();
  }
  if (!any) parser.empty();
}

/** A fixed, seeded draw in [0, 1) for data row `i` (splitmix32 of seed and index). */
function heldOutDraw(seed: number, i: number): number {
  let h = (Math.imul(i, 0x9e3779b9) ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** What the checking pass over a streamed file found. */
export interface StreamedData {
  /** Every row: count and sizes (the features themselves are not kept). */
  samples: number;
  featureSize: number;
  labelSize: number;
  train: BatchSource;
  validation: Dataset;
  /** Smallest and largest label, and the first line of a label that is not a whole number. */
  labels?: { min: number; minLine: number; max: number; maxLine: number; fractionalLine?: number };
}

/**
 * The checking pass: every row parsed and checked, the held-out rows kept. `split` is the held-out
 * share (at most MAX_STREAMED_VALIDATION rows); with `validation` given (--validation-data), none is
 * held out.
 */
export async function openStream(file: string, options: ReadDatasetOptions, split: number, seed: number, validation?: Dataset): Promise<StreamedData> {
  const heldOut = new Set<number>();
  const vx: number[] = [];
  const vy: number[] = [];
  let samples = 0;
  let featureSize = 0;
  let hasLabel = false;
  let labels: StreamedData['labels'];
  for await (const row of rows(file, options)) {
    const i = samples++;
    featureSize = row.x.length;
    hasLabel = row.y !== undefined;
    if (row.y !== undefined) {
      const y = row.y;
      if (labels === undefined) labels = { min: y, minLine: row.line, max: y, maxLine: row.line };
      if (y < labels.min) Object.assign(labels, { min: y, minLine: row.line });
      if (y > labels.max) Object.assign(labels, { max: y, maxLine: row.line });
      if (labels.fractionalLine === undefined && !Number.isInteger(y)) labels.fractionalLine = row.line;
    }
    if (validation === undefined && heldOut.size < MAX_STREAMED_VALIDATION && heldOutDraw(seed, i) < split) {
      heldOut.add(i);
      for (const v of row.x) vx.push(v);
      if (row.y !== undefined) vy.push(row.y);
    }
  }
  const labelSize = hasLabel ? 1 : 0;
  const trainCount = samples - heldOut.size;
  if (trainCount === 0) throw new DatasetError(file, 'every row was held out for validation; lower --validation-split');
  const held: Dataset = validation ?? {
    file,
    count: heldOut.size,
    featureSize,
    x: Float32Array.from(vx),
    y: hasLabel ? Float32Array.from(vy) : undefined,
    labelSize,
  };
  const train: BatchSource = {
    file,
    count: trainCount,
    featureSize,
    labelSize,
    async *batches(batchSize, rng) {
      // A shuffle buffer (as tf.data's shuffle): rows enter in file order, leave in a seeded random
      // order. Memory is the buffer, whatever the file's size.
      const capacity = Math.max(4096, batchSize * 32);
      const bx = new Float32Array(capacity * featureSize);
      const by = new Float32Array(capacity * labelSize);
      let filled = 0;
      let out: { x: Float32Array; y: Float32Array; n: number } = { x: new Float32Array(batchSize * featureSize), y: new Float32Array(batchSize * labelSize), n: 0 };
      const emit = (slot: number): Dataset | undefined => {
        out.x.set(bx.subarray(slot * featureSize, (slot + 1) * featureSize), out.n * featureSize);
        if (labelSize > 0) out.y[out.n] = by[slot] as number;
        out.n++;
        if (out.n < batchSize) return undefined;
        const batch = { file, count: out.n, featureSize, x: out.x, y: labelSize > 0 ? out.y : undefined, labelSize };
        out = { x: new Float32Array(batchSize * featureSize), y: new Float32Array(batchSize * labelSize), n: 0 };
        return batch;
      };
      let i = -1;
      for await (const row of rows(file, options)) {
        i++;
        if (heldOut.has(i)) continue;
        let slot = filled;
        if (filled === capacity) {
          // Full: send a random row out and put the new one in its place.
          slot = rng.int(capacity);
          const batch = emit(slot);
          if (batch !== undefined) yield batch;
        } else {
          filled++;
        }
        bx.set(row.x, slot * featureSize);
        if (labelSize > 0) by[slot] = row.y as number;
      }
      // Drain what is left in random order.
      const rest = rng.permutation(filled);
      for (const slot of rest) {
        const batch = emit(slot);
        if (batch !== undefined) yield batch;
      }
      if (out.n > 0) yield { file, count: out.n, featureSize, x: out.x.slice(0, out.n * featureSize), y: labelSize > 0 ? out.y.slice(0, out.n) : undefined, labelSize };
    },
  };
  return { samples, featureSize, labelSize, train, validation: held, ...(labels !== undefined ? { labels } : {}) };
}
