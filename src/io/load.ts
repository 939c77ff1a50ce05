/**
 * Read a TF.js Layers model from disk without tfjs's own file handlers (they only exist with
 * tfjs-node): validate model.json, resolve every shard inside the model's folder, check byte lengths
 * against the manifest before anything is decoded, and keep each weight's bytes exactly as stored so
 * untouched weights can be written back unchanged (quantization included).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelFormatError } from '../errors.js';
import { normalizeTopology, type Conversion } from './keras3.js';
import { ONE_WEIGHT_AT_A_TIME_ABOVE, tfjsClassLookup } from './layers-model.js';
import {
  describeZodError,
  elementCount,
  ModelJsonSchema,
  storedElementBytes,
  type ModelJson,
  type StoredWeight,
  type WeightEntry,
} from './model-json.js';

export type { StoredWeight } from './model-json.js';

/** A model read from disk, validated, with its weights in manifest order. */
export interface LoadedModel {
  /** Absolute path of model.json. */
  file: string;
  json: ModelJson;
  weights: StoredWeight[];
  /** Byte size of each weight file, per weightsManifest group (to write the shards back as they were). */
  shardBytes: number[][];
  /**
   * What reading rewrote to bring a Keras 3 model.json into the form tfjs reads: `json` holds the
   * result. Both lists are empty for a model already in that form.
   */
  conversion: Conversion;
}

/** Keep model.json parsing cheap to refuse: a Layers topology is kilobytes, not hundreds of MB. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
/**
 * Deepest nesting of arrays/objects accepted in model.json. Real topologies nest about ten levels;
 * tfjs walks the topology recursively, so thousands of levels would overflow its stack.
 */
export const MAX_JSON_DEPTH = 500;
/** Most elements one weight may have (tfjs's typed arrays and wasm heap top out well below 2^31). */
export const MAX_WEIGHT_ELEMENTS = 2 ** 31 - 1;

/** What readModel may be asked to do besides reading. */
export interface ReadModelOptions {
  /** Called with the parsed model.json before any weight file is read (a check that throws refuses the model). */
  beforeWeights?: (json: ModelJson) => void;
  /** Weight bytes of a group above which its weights are read on demand (default ONE_WEIGHT_AT_A_TIME_ABOVE). */
  onDemandAbove?: number;
}

export async function readModel(modelPath: string, options: ReadModelOptions = {}): Promise<LoadedModel> {
  const file = path.resolve(modelPath);
  let text: string;
  try {
    // Size first: a hostile multi-GB model.json is refused without reading it.
    const info = await stat(file);
    if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    if (info.size > MAX_MODEL_JSON_BYTES) {
      throw new ModelFormatError(modelPath, `model.json is ${info.size} bytes, more than the ${MAX_MODEL_JSON_BYTES} allowed`);
    }
    const buffer = await readFile(file);
    if (buffer.byteLength > MAX_MODEL_JSON_BYTES) {
      throw new ModelFormatError(modelPath, `model.json is ${buffer.byteLength} bytes, more than the ${MAX_MODEL_JSON_BYTES} allowed`);
    }
    text = buffer.toString('utf8');
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(modelPath, `cannot read model: ${systemMessage(err)}`);
  }
  if (text.trim() === '') throw new ModelFormatError(modelPath, 'model.json is empty');
  const depth = jsonDepthOver(text, MAX_JSON_DEPTH);
  if (depth !== undefined) throw new ModelFormatError(modelPath, `JSON is nested more than ${MAX_JSON_DEPTH} levels deep (at character ${depth})`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // A RangeError (stack or string size) is as much a bad file as a SyntaxError.
    throw new ModelFormatError(modelPath, `not valid JSON: ${(err as Error).message}`);
  }
  if (isObject(raw) && raw['format'] === 'graph-model') {
    throw new ModelFormatError(modelPath, 'this is a TF.js graph model; lowrank works on Layers models (format "layers-model")');
  }
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFormatError(modelPath, `not a TF.js Layers model.json: ${describeZodError(parsed.error, raw)}`);
  if (parsed.data.format !== undefined && parsed.data.format !== 'layers-model') {
    throw new ModelFormatError(modelPath, `unsupported format "${parsed.data.format}" (expected "layers-model")`);
  }
  // Keras 3 → the form tfjs reads, before anything looks at the topology; weight names are matched
  // once tfjs has built it (loadModel).
  const normalized = normalizeTopology(modelPath, parsed.data.modelTopology, { lookup: tfjsClassLookup });
  const json: ModelJson = { ...parsed.data, modelTopology: normalized.topology };
  // Before any shard is read: whether the model could be built at all where it is going.
  options.beforeWeights?.(json);
  const { weights, shardBytes } = await readWeights(modelPath, file, json, options.onDemandAbove ?? ONE_WEIGHT_AT_A_TIME_ABOVE);
  return { file, json, weights, shardBytes, conversion: { changes: normalized.changes, renames: [] } };
}

async function readWeights(displayPath: string, file: string, json: ModelJson, onDemandAbove: number): Promise<{ weights: StoredWeight[]; shardBytes: number[][] }> {
  const dir = path.dirname(file);
  const realDir = await realpath(dir);
  const seen = new Set<string>();
  const weights: StoredWeight[] = [];
  const shardBytes: number[][] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    // Validate sizes first: nothing is read before we know how many bytes the group must hold.
    let expected = 0;
    for (const entry of group.weights) {
      if (seen.has(entry.name)) throw new ModelFormatError(displayPath, `weight "${entry.name}" appears twice in weightsManifest`);
      seen.add(entry.name);
      const count = elementCount(entry.shape);
      if (!Number.isSafeInteger(count) || count > MAX_WEIGHT_ELEMENTS) {
        throw new ModelFormatError(displayPath, `weight "${entry.name}" has shape [${entry.shape.join(', ')}], ${count} elements: too large (at most ${MAX_WEIGHT_ELEMENTS})`);
      }
      expected += count * storedElementBytes(entry);
    }
    // The shards' sizes bound the group before any of them is read.
    let onDisk = 0;
    const sizes: number[] = [];
    const shardPaths: Array<[string, string]> = [];
    for (const shard of group.paths) {
      const shardPath = resolveInside(displayPath, dir, shard);
      let real: string;
      try {
        real = await realpath(shardPath);
      } catch (err) {
        throw new ModelFormatError(displayPath, `cannot read weight file "${shard}": ${systemMessage(err)}`);
      }
      if (!isInside(realDir, real)) throw new ModelFormatError(displayPath, `weight file "${shard}" links outside the model's folder`);
      try {
        const info = await stat(real);
        if (info.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
        onDisk += info.size;
        sizes.push(info.size);
      } catch (err) {
        throw new ModelFormatError(displayPath, `cannot read weight file "${shard}": ${systemMessage(err)}`);
      }
      shardPaths.push([shard, real]);
    }
    if (onDisk !== expected) {
      throw new ModelFormatError(
        displayPath,
        `weightsManifest[${g}] describes ${expected} bytes but its files hold ${onDisk} (${group.paths.join(', ')})`,
      );
    }
    weights.push(
      ...(expected > onDemandAbove
        ? readOnDemand(displayPath, group.weights, shardPaths.map(([shard, real], i) => ({ shard, real, size: sizes[i] as number })))
        : await cutShards(displayPath, group.weights, shardPaths, expected, `weightsManifest[${g}]`)),
    );
    shardBytes.push(sizes);
  }
  return { weights, shardBytes };
}

/**
 * Weights whose `bytes` are read from the shards each time they are asked for, into a fresh buffer
 * the caller may keep or drop. The live model holds the values anyway; keeping a second copy of a
 * large model's weights in memory for the few later passes over them (the NaN check, the size table,
 * gzip, unchanged weights written back) would double its footprint. Sizes were checked against the
 * manifest before this is called; a shard that changes size later is an error when read.
 */
function readOnDemand(displayPath: string, entries: readonly WeightEntry[], shards: ReadonlyArray<{ shard: string; real: string; size: number }>): StoredWeight[] {
  let start = 0; // of the weight, in the group's concatenated bytes
  return entries.map((entry) => {
    const size = elementCount(entry.shape) * storedElementBytes(entry);
    const from = start;
    start += size;
    return {
      entry,
      get bytes(): Uint8Array {
        return readRange(displayPath, shards, from, size);
      },
    };
  });
}

/** `size` bytes from `from` in the concatenation of `shards`. */
function readRange(displayPath: string, shards: ReadonlyArray<{ shard: string; real: string; size: number }>, from: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let shardStart = 0;
  let done = 0;
  for (const { shard, real, size: shardSize } of shards) {
    const shardEnd = shardStart + shardSize;
    if (done < size && from + done < shardEnd && from + done >= shardStart) {
      const take = Math.min(size - done, shardEnd - (from + done));
      let fd: number | undefined;
      try {
        fd = openSync(real, 'r');
        const read = readSync(fd, out, done, take, from + done - shardStart);
        if (read !== take) throw Object.assign(new Error(`read ${read} of ${take} bytes: the file changed`), { code: 'ECHANGED' });
      } catch (err) {
        throw new ModelFormatError(displayPath, `cannot read weight file "${shard}": ${systemMessage(err)}`);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      done += take;
    }
    shardStart = shardEnd;
  }
  return out;
}

/**
 * A group's weights read shard by shard: each weight's bytes are copied once, straight from the
 * shard(s) holding them, into a buffer of its own. Neither the whole group nor a second copy of it is
 * ever held, so reading a model takes its weight bytes plus one shard.
 */
async function cutShards(
  displayPath: string,
  entries: readonly WeightEntry[],
  shardPaths: ReadonlyArray<[string, string]>,
  expected: number,
  label: string,
): Promise<StoredWeight[]> {
  const weights = entries.map((entry) => ({ entry, bytes: new Uint8Array(elementCount(entry.shape) * storedElementBytes(entry)) }));
  let index = 0; // the weight being filled
  let filled = 0; // bytes of it filled so far
  let total = 0;
  for (const [shard, real] of shardPaths) {
    let data: Buffer;
    try {
      data = await readFile(real);
    } catch (err) {
      throw new ModelFormatError(displayPath, `cannot read weight file "${shard}": ${systemMessage(err)}`);
    }
    total += data.byteLength;
    // A file that changed size since it was measured would overrun the weights.
    if (total > expected) break;
    let offset = 0;
    while (offset < data.byteLength) {
      const weight = weights[index] as StoredWeight;
      const take = Math.min(weight.bytes.byteLength - filled, data.byteLength - offset);
      weight.bytes.set(data.subarray(offset, offset + take), filled);
      offset += take;
      filled += take;
      if (filled === weight.bytes.byteLength) {
        index++;
        filled = 0;
      }
    }
  }
  if (total !== expected) {
    throw new ModelFormatError(displayPath, `${label} describes ${expected} bytes but its files hold ${total} (${shardPaths.map(([s]) => s).join(', ')})`);
  }
  return weights;
}

/** Cut a group's concatenated shard bytes into its weights, in manifest order. */
export function splitWeights(entries: readonly WeightEntry[], data: Uint8Array): StoredWeight[] {
  let offset = 0;
  return entries.map((entry) => {
    const size = elementCount(entry.shape) * storedElementBytes(entry);
    // Copy: the weight outlives the shard buffer and must be aligned for typed-array views.
    const bytes = new Uint8Array(data.subarray(offset, offset + size));
    offset += size;
    return { entry, bytes };
  });
}

function resolveInside(displayPath: string, dir: string, shard: string): string {
  let decoded = shard;
  try {
    decoded = decodeURIComponent(shard);
  } catch {
    // Not URL-encoded; use as written.
  }
  if (path.isAbsolute(decoded) || /^[a-z][a-z0-9+.-]*:/i.test(decoded)) {
    throw new ModelFormatError(displayPath, `weight path "${shard}" must be relative to the model's folder`);
  }
  const resolved = path.resolve(dir, decoded);
  if (!isInside(dir, resolved)) throw new ModelFormatError(displayPath, `weight path "${shard}" leaves the model's folder`);
  return resolved;
}

function isInside(dir: string, candidate: string): boolean {
  const rel = path.relative(dir, candidate);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * The index of the first character at which arrays/objects nest deeper than `limit`, or undefined.
 * A linear scan that skips strings, so it costs nothing next to JSON.parse and never recurses.
 */
export function jsonDepthOver(text: string, limit: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/** Where a weight first holds NaN or ±Infinity, after dequantizing. */
export interface NonfiniteValue {
  name: string;
  index: number;
  value: number;
}

/** The first NaN/±Infinity among float weights (stored float32, float16, or a non-finite min/scale). */
export function findNonfinite(weights: readonly StoredWeight[]): NonfiniteValue | undefined {
  for (const { entry, bytes } of weights) {
    if (entry.dtype !== 'float32') continue;
    const q = entry.quantization;
    if (q === undefined) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i * 4 < bytes.byteLength; i++) {
        const v = view.getFloat32(i * 4, true);
        if (!Number.isFinite(v)) return { name: entry.name, index: i, value: v };
      }
    } else if (q.dtype === 'float16') {
      for (let i = 0; i * 2 < bytes.byteLength; i++) {
        const bits = (bytes[i * 2] as number) | ((bytes[i * 2 + 1] as number) << 8);
        if ((bits & 0x7c00) === 0x7c00) {
          const value = (bits & 0x03ff) !== 0 ? NaN : bits & 0x8000 ? -Infinity : Infinity;
          return { name: entry.name, index: i, value };
        }
      }
    } else {
      for (const v of [q.min, q.scale]) if (v !== undefined && !Number.isFinite(v)) return { name: entry.name, index: 0, value: v };
    }
  }
  return undefined;
}

/** Refuse weights holding NaN/Infinity, naming the first; `--allow-nonfinite` skips this. */
export function checkFinite(displayPath: string, weights: readonly StoredWeight[]): void {
  const bad = findNonfinite(weights);
  if (bad !== undefined) {
    throw new ModelFormatError(displayPath, `weight "${bad.name}" holds ${bad.value} at element ${bad.index} (use --allow-nonfinite to proceed anyway)`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function systemMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a folder';
  return e.message ?? String(err);
}
