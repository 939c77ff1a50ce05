/**
 * Reading and laying out an adapter folder: adapter.json (validated with zod before anything else is
 * read) and the shards its weightsManifest names, flat file names inside the folder only, each group's
 * bytes checked against the manifest before they are read.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelFormatError } from '../errors.js';
import { buildModelFiles } from '../io/save.js';
import { describeZodError, elementCount, storedElementBytes, type StoredWeight } from '../io/model-json.js';
import { splitWeights } from '../io/load.js';
import { AdapterJsonSchema, type AdapterJson } from './format.js';

/** adapter.json is a few kilobytes; anything far larger is not one. */
const MAX_ADAPTER_JSON_BYTES = 16 * 1024 * 1024;

export interface AdapterFolder {
  /** Path of adapter.json as the user would name it (the folder as given + adapter.json). */
  file: string;
  json: AdapterJson;
  /** Weights by manifest name. */
  weights: Map<string, StoredWeight>;
}

/** Read an adapter folder (or its adapter.json); every problem is one line naming adapter.json. */
export async function readAdapterFolder(given: string): Promise<AdapterFolder> {
  const file = path.basename(given) === 'adapter.json' ? given : path.join(given, 'adapter.json');
  let text: string;
  try {
    const info = await stat(file);
    if (info.size > MAX_ADAPTER_JSON_BYTES) throw new ModelFormatError(file, `is ${info.size} bytes, more than an adapter.json can be (${MAX_ADAPTER_JSON_BYTES})`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof ModelFormatError) throw err;
    throw new ModelFormatError(file, `cannot read the adapter: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is this an adapter folder lowrank adapt wrote?)' : (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(file, `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = AdapterJsonSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFormatError(file, `not a lowrank adapter.json: ${describeZodError(parsed.error, raw)}`);
  const json = parsed.data;
  const dir = path.dirname(path.resolve(file));
  const weights = new Map<string, StoredWeight>();
  for (const [g, group] of json.weightsManifest.entries()) {
    let expected = 0;
    for (const entry of group.weights) expected += elementCount(entry.shape) * storedElementBytes(entry);
    const buffers: Buffer[] = [];
    for (const shard of group.paths) {
      // adapt writes flat shard names; anything else could reach outside the folder.
      if (shard !== path.basename(shard) || shard === '..' || shard === '.') throw new ModelFormatError(file, `weight file "${shard}" is not a file name inside the adapter folder`);
      const shardPath = path.join(dir, shard);
      try {
        const info = await stat(shardPath);
        if (!info.isFile()) throw new Error('not a file');
        if (info.size > expected) throw new ModelFormatError(file, `weightsManifest[${g}] describes ${expected} bytes but "${shard}" alone holds ${info.size}`);
        buffers.push(await readFile(shardPath));
      } catch (err) {
        if (err instanceof ModelFormatError) throw err;
        throw new ModelFormatError(file, `cannot read weight file "${shard}": ${(err as Error).message}`);
      }
    }
    const data = Buffer.concat(buffers);
    if (data.byteLength !== expected) throw new ModelFormatError(file, `weightsManifest[${g}] describes ${expected} bytes but its files hold ${data.byteLength} (${group.paths.join(', ')})`);
    for (const w of splitWeights(group.weights, data)) {
      if (weights.has(w.entry.name)) throw new ModelFormatError(file, `weight "${w.entry.name}" appears twice in weightsManifest`);
      weights.set(w.entry.name, w);
    }
  }
  return { file, json, weights };
}

/** The files of an adapter folder: the shards, and adapter.json given the manifest they make. */
export function adapterFiles(weights: readonly StoredWeight[]): { manifest: AdapterJson['weightsManifest']; shards: Map<string, Uint8Array> } {
  const built = buildModelFiles({ modelTopology: {} }, weights);
  return { manifest: built.modelJson.weightsManifest as AdapterJson['weightsManifest'], shards: built.shards };
}
