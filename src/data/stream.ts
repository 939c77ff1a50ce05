/**
 * Datasets larger than memory: a CSV/TSV file is read as a stream, never whole. One pass checks every
 * row (so bad input fails before any training) and keeps the validation samples, which are few and
 * fixed: a seeded uniform sample of the whole file (the rows whose seeded per-row keys are smallest),
 * as many as a file read whole would hold out, up to a cap. Each training epoch streams the file
 * again through a seeded shuffle buffer, skipping the held-out rows.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../errors.js';
import { DelimitedParser } from './csv.js';
import { heldOutCount } from './dataset.js';
import { describeReadError, type Dataset, type ReadDatasetOptions } from './types.js';
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
/** At most this many samples are held out from a streamed file (they, and up to this many candidates during the first pass, are kept in memory). */
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

/** A fixed, seeded draw in [0, 1) for data row `i` (splitmix32 of seed and index): the row's sampling key. */
function heldOutDraw(seed: number, i: number): number {
  let h = (Math.imul(i, 0x9e3779b9) ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/**
 * The rows with the smallest keys seen so far, at most `capacity` of them, with their features and
 * labels: a max-heap of slots on (key, row index). Each row's key is an independent seeded uniform
 * draw, so the k smallest keys pick k rows uniformly from the whole file whatever its order
 * (reservoir sampling by random keys), and the k smallest of the kept rows are the k smallest of all.
 * Memory grows with the rows kept, up to `capacity`.
 */
class Reservoir {
  private size = 0;
  /** Slots in heap order: the largest (key, row) first. */
  private readonly heap: Int32Array;
  private readonly keys: Float64Array;
  private readonly rows: Int32Array;
  private x: Float32Array;
  private y: Float32Array;

  constructor(
    private readonly capacity: number,
    private readonly featureSize: number,
    private readonly labelSize: number,
  ) {
    this.heap = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
    this.rows = new Int32Array(capacity);
    const start = Math.min(capacity, 1024);
    this.x = new Float32Array(start * featureSize);
    this.y = new Float32Array(start * labelSize);
  }

  /** Keeps row `row` when it is among the `capacity` smallest keys so far. */
  offer(row: number, key: number, x: Float32Array, y: number | undefined): void {
    let slot: number;
    if (this.size < this.capacity) {
      slot = this.size;
      this.grow(slot + 1);
      this.heap[this.size++] = slot;
      this.set(slot, row, key, x, y);
      this.siftUp(this.size - 1);
      return;
    }
    slot = this.heap[0] as number;
    if (!(key < (this.keys[slot] as number))) return; // ties go to the earlier row, already kept
    this.set(slot, row, key, x, y);
    this.siftDown(0);
  }

  /** The `k` kept rows with the smallest keys, in file order. */
  take(k: number): { rows: Int32Array; x: Float32Array; y: Float32Array } {
    const slots = Array.from(this.heap.subarray(0, this.size));
    slots.sort((a, b) => (this.larger(a, b) ? 1 : -1));
    const chosen = slots.slice(0, k).sort((a, b) => (this.rows[a] as number) - (this.rows[b] as number));
    const { featureSize, labelSize } = this;
    const x = new Float32Array(chosen.length * featureSize);
    const y = new Float32Array(chosen.length * labelSize);
    chosen.forEach((slot, r) => {
      x.set(this.x.subarray(slot * featureSize, (slot + 1) * featureSize), r * featureSize);
      y.set(this.y.subarray(slot * labelSize, (slot + 1) * labelSize), r * labelSize);
    });
    return { rows: Int32Array.from(chosen, (slot) => this.rows[slot] as number), x, y };
  }

  private set(slot: number, row: number, key: number, x: Float32Array, y: number | undefined): void {
    this.keys[slot] = key;
    this.rows[slot] = row;
    this.x.set(x, slot * this.featureSize);
    if (this.labelSize > 0) this.y[slot] = y as number;
  }

  /** Room for `slots` rows: doubling, up to the capacity. */
  private grow(slots: number): void {
    const have = this.x.length / Math.max(1, this.featureSize);
    if (slots <= have || this.featureSize === 0) return;
    const rows = Math.min(this.capacity, Math.max(slots, have * 2));
    const x = new Float32Array(rows * this.featureSize);
    x.set(this.x);
    this.x = x;
    const y = new Float32Array(rows * this.labelSize);
    y.set(this.y);
    this.y = y;
  }

  /** Whether slot `a` comes after slot `b` in (key, row) order. */
  private larger(a: number, b: number): boolean {
    const ka = this.keys[a] as number;
    const kb = this.keys[b] as number;
    return ka > kb || (ka === kb && (this.rows[a] as number) > (this.rows[b] as number));
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.larger(this.heap[i] as number, this.heap[parent] as number)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      let top = i;
      if (left < this.size && this.larger(this.heap[left] as number, this.heap[top] as number)) top = left;
      if (left + 1 < this.size && this.larger(this.heap[left + 1] as number, this.heap[top] as number)) top = left + 1;
      if (top === i) return;
      this.swap(i, top);
      i = top;
    }
  }

  private swap(i: number, j: number): void {
    const slot = this.heap[i] as number;
    this.heap[i] = this.heap[j] as number;
    this.heap[j] = slot;
  }
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
 * share: as many rows as a file read whole would hold out (heldOutCount), at most `maxValidation`,
 * a seeded uniform sample of the whole file. With `validation` given (--validation-data), none is
 * held out.
 */
export async function openStream(
  file: string,
  options: ReadDatasetOptions,
  split: number,
  seed: number,
  validation?: Dataset,
  maxValidation = MAX_STREAMED_VALIDATION,
): Promise<StreamedData> {
  let reservoir: Reservoir | undefined;
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
    if (validation === undefined && split > 0) {
      reservoir ??= new Reservoir(maxValidation, featureSize, hasLabel ? 1 : 0);
      reservoir.offer(i, heldOutDraw(seed, i), row.x, row.y);
    }
  }
  const labelSize = hasLabel ? 1 : 0;
  // The same count as a file read whole, refused the same way when the file is too small for the split.
  const kept = reservoir?.take(Math.min(maxValidation, heldOutCount(file, samples, split)));
  // Sorted row indices, so each epoch's pass skips them with one moving pointer.
  const heldOut = kept?.rows ?? new Int32Array(0);
  const trainCount = samples - heldOut.length;
  const held: Dataset = validation ?? {
    file,
    count: heldOut.length,
    featureSize,
    x: kept?.x ?? new Float32Array(0),
    y: hasLabel ? (kept?.y ?? new Float32Array(0)) : undefined,
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
      let next = 0; // the next held-out row, an index into heldOut
      for await (const row of rows(file, options)) {
        i++;
        if (next < heldOut.length && heldOut[next] === i) {
          next++;
          continue;
        }
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
