/**
 * Write a Layers model as model.json + binary shards, and do it atomically: everything goes into a
 * temporary sibling folder that is renamed into place only when complete.
 */
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OutputExistsError, throwIfAborted } from '../errors.js';
import type { StoredWeight } from './load.js';
import type { ModelJson } from './model-json.js';

/** tfjs-converter's shard size; browsers cache and fetch shards one by one. */
export const SHARD_BYTES = 4 * 1024 * 1024;

export interface ModelFiles {
  modelJson: ModelJson;
  /** Shard file name → contents. */
  shards: Map<string, Uint8Array>;
}

/**
 * Lay weights out as tfjs does: one group, the concatenated bytes cut into shards of at most
 * SHARD_BYTES named group1-shardNofM.bin (a weight may straddle two shards).
 */
export function buildModelFiles(
  base: Omit<ModelJson, 'weightsManifest'>,
  weights: readonly StoredWeight[],
): ModelFiles {
  let total = 0;
  for (const w of weights) total += w.bytes.byteLength;
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = new Map<string, Uint8Array>();
  const all = new Uint8Array(total);
  let offset = 0;
  for (const w of weights) {
    all.set(w.bytes, offset);
    offset += w.bytes.byteLength;
  }
  for (let i = 0; i < count; i++) {
    shards.set(`group1-shard${i + 1}of${count}.bin`, all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)));
  }
  const modelJson = {
    ...base,
    weightsManifest: [{ paths: [...shards.keys()], weights: weights.map((w) => w.entry) }],
  } as ModelJson;
  return { modelJson, shards };
}

/** True when `dir` exists and holds at least one entry. */
export async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) return true;
    return (await readdir(dir)).length > 0;
  } catch {
    return false;
  }
}

/** Refuse early (before any work) when the output exists and --force was not given. */
export async function checkOutputFree(dir: string, force: boolean): Promise<void> {
  if (!force && (await isNonEmptyDir(dir))) throw new OutputExistsError(dir);
}

/**
 * Write `files` (relative name → contents) as the folder `dir`. The folder appears whole or not at all:
 * files go to a temporary sibling first; an existing `dir` is replaced only with `force`, and only once
 * the new folder is complete. When `signal` is aborted before the rename, the temporary folder is removed
 * and AbortedError thrown: nothing appears.
 */
export async function writeFolderAtomically(dir: string, files: Map<string, Uint8Array | string>, force: boolean, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const target = path.resolve(dir);
  await checkOutputFree(target, force);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const temporary = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);
  await mkdir(temporary);
  try {
    for (const [name, contents] of files) {
      throwIfAborted(signal);
      await writeFile(path.join(temporary, name), contents);
    }
    throwIfAborted(signal);
    let old: string | undefined;
    try {
      await stat(target);
      old = path.join(parent, `.${path.basename(target)}.old-${suffix}`);
      await rename(target, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(temporary, target);
    if (old !== undefined) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(temporary, { recursive: true, force: true });
    throw err;
  }
}

/** Files of a model folder as writeFolderAtomically takes them. */
export function modelFolderFiles(model: ModelFiles): Map<string, Uint8Array | string> {
  const files = new Map<string, Uint8Array | string>();
  files.set('model.json', JSON.stringify(model.modelJson));
  for (const [name, data] of model.shards) files.set(name, data);
  return files;
}
