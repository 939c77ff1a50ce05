/**
 * Read a TF.js Layers model from disk without tfjs's own file handlers (they only exist with
 * tfjs-node): validate model.json, resolve every shard inside the model's folder, check byte lengths
 * against the manifest before anything is decoded, and keep each weight's bytes exactly as stored so
 * untouched weights can be written back unchanged (quantization included).
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ModelFormatError } from '../errors.js';
import {
  describeZodError,
  elementCount,
  ModelJsonSchema,
  storedElementBytes,
  type ModelJson,
  type WeightEntry,
} from './model-json.js';

/** One weight as stored: its manifest entry and its raw bytes (still quantized if it was). */
export interface StoredWeight {
  entry: WeightEntry;
  bytes: Uint8Array;
}

/** A model read from disk, validated, with its weights in manifest order. */
export interface LoadedModel {
  /** Absolute path of model.json. */
  file: string;
  json: ModelJson;
  weights: StoredWeight[];
}

/** Keep model.json parsing cheap to refuse: a Layers topology is kilobytes, not hundreds of MB. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

export async function readModel(modelPath: string): Promise<LoadedModel> {
  const file = path.resolve(modelPath);
  let text: string;
  try {
    const buffer = await readFile(file);
    if (buffer.byteLength > MAX_MODEL_JSON_BYTES) {
      throw new ModelFormatError(modelPath, `model.json is ${buffer.byteLength} bytes, more than the ${MAX_MODEL_JSON_BYTES} allowed`);
    }
    text = buffer.toString('utf8');
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(modelPath, `cannot read model: ${systemMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(modelPath, `not valid JSON: ${(err as Error).message}`);
  }
  if (isObject(raw) && raw['format'] === 'graph-model') {
    throw new ModelFormatError(modelPath, 'this is a TF.js graph model; lowrank works on Layers models (format "layers-model")');
  }
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFormatError(modelPath, `not a TF.js Layers model.json: ${describeZodError(parsed.error)}`);
  const json = parsed.data;
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw new ModelFormatError(modelPath, `unsupported format "${json.format}" (expected "layers-model")`);
  }
  const weights = await readWeights(modelPath, file, json);
  return { file, json, weights };
}

async function readWeights(displayPath: string, file: string, json: ModelJson): Promise<StoredWeight[]> {
  const dir = path.dirname(file);
  const realDir = await realpath(dir);
  const seen = new Set<string>();
  const weights: StoredWeight[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    // Validate sizes first: nothing is read before we know how many bytes the group must hold.
    let expected = 0;
    for (const entry of group.weights) {
      if (seen.has(entry.name)) throw new ModelFormatError(displayPath, `weight "${entry.name}" appears twice in weightsManifest`);
      seen.add(entry.name);
      expected += elementCount(entry.shape) * storedElementBytes(entry);
    }
    const buffers: Buffer[] = [];
    for (const shard of group.paths) {
      const shardPath = resolveInside(displayPath, dir, shard);
      let real: string;
      try {
        real = await realpath(shardPath);
      } catch (err) {
        throw new ModelFormatError(displayPath, `cannot read weight file "${shard}": ${systemMessage(err)}`);
      }
      if (!isInside(realDir, real)) throw new ModelFormatError(displayPath, `weight file "${shard}" links outside the model's folder`);
      buffers.push(await readFile(real));
    }
    const data = Buffer.concat(buffers);
    if (data.byteLength !== expected) {
      throw new ModelFormatError(
        displayPath,
        `weightsManifest[${g}] describes ${expected} bytes but its files hold ${data.byteLength} (${group.paths.join(', ')})`,
      );
    }
    weights.push(...splitWeights(group.weights, data));
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
