/**
 * Write a Layers model as model.json + binary shards, and do it atomically: everything goes into a
 * temporary sibling folder that is renamed into place only when complete.
 */
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { OutputExistsError, throwIfAborted } from '../errors.js';
import type { StoredWeight } from './model-json.js';
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

/**
 * What stands at `dir`: nothing (absent or an empty folder), a lowrank output folder (which --force may
 * replace), or anything else (which is never replaced).
 */
export async function outputState(dir: string): Promise<'free' | 'lowrank-output' | 'other'> {
  let s;
  try {
    s = await lstat(dir);
  } catch {
    return 'free';
  }
  if (!s.isDirectory()) return 'other';
  const entries = await readdir(dir, { withFileTypes: true });
  if (entries.length === 0) return 'free';
  return (await isLowrankOutput(dir, entries)) ? 'lowrank-output' : 'other';
}

/** The record lowrank writes beside a model: compress's report.json, convert's conversion.json, merge's merge.json. */
const LOWRANK_MARKERS = ['report.json', 'conversion.json', 'merge.json'] as const;

/** What `lowrank sweep` writes: sweep.json (the record) and its renderings, no model. */
export const SWEEP_FILES = ['sweep.json', 'sweep.md', 'sweep.html', 'sweep.svg'] as const;

/**
 * A folder lowrank wrote: model.json, exactly the shards its manifest names, and one record that
 * lowrank wrote (`tool.name` "lowrank": report.json, conversion.json or merge.json); an adapter folder:
 * adapter.json (lowrank's, holding the manifest) and exactly its shards; or a sweep's folder (sweep.json
 * by lowrank and its renderings). Regular files only. This is the only kind of folder --force replaces,
 * so `--out ~ --force` can never delete a home folder.
 */
async function isLowrankOutput(dir: string, entries: readonly Dirent[]): Promise<boolean> {
  if (entries.some((e) => !e.isFile())) return false;
  const names = new Set(entries.map((e) => e.name));
  if (names.has('sweep.json') && !names.has('model.json') && !names.has('adapter.json')) return isSweepOutput(dir, names);
  const holder = names.has('model.json') ? 'model.json' : names.has('adapter.json') ? 'adapter.json' : undefined;
  const marker = holder === 'adapter.json' ? holder : LOWRANK_MARKERS.find((m) => names.has(m));
  if (holder === undefined || marker === undefined) return false;
  const model = await readJsonSmall(path.join(dir, holder));
  const record = await readJsonSmall(path.join(dir, marker));
  if ((record as { tool?: { name?: unknown } } | undefined)?.tool?.name !== 'lowrank') return false;
  const manifest = (model as { weightsManifest?: unknown } | undefined)?.weightsManifest;
  if (!Array.isArray(manifest)) return false;
  const expected = new Set([holder, marker]);
  for (const group of manifest) {
    const paths = (group as { paths?: unknown } | null)?.paths;
    if (!Array.isArray(paths)) return false;
    for (const p of paths) {
      // lowrank writes flat shard names; a path with a separator is not ours.
      if (typeof p !== 'string' || p !== path.basename(p)) return false;
      expected.add(p);
    }
  }
  return expected.size === names.size && [...names].every((n) => expected.has(n));
}

/** A sweep's folder: sweep.json that lowrank wrote, and nothing but the files a sweep writes. */
async function isSweepOutput(dir: string, names: ReadonlySet<string>): Promise<boolean> {
  if (![...names].every((n) => (SWEEP_FILES as readonly string[]).includes(n))) return false;
  const record = await readJsonSmall(path.join(dir, 'sweep.json'));
  return (record as { tool?: { name?: unknown } } | undefined)?.tool?.name === 'lowrank';
}

/** JSON of a file of at most 64 MB, or undefined when it is larger or not JSON. */
async function readJsonSmall(file: string): Promise<unknown> {
  try {
    if ((await stat(file)).size > 64 * 1024 * 1024) return undefined;
    return JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Refuse early (before any work) when the output is taken: a non-empty folder without --force, or,
 * even with --force, anything that is not a lowrank output folder.
 */
export async function checkOutputFree(dir: string, force: boolean): Promise<void> {
  const state = await outputState(dir);
  if (state === 'free') return;
  if (state === 'other') throw new OutputExistsError(dir, true);
  if (!force) throw new OutputExistsError(dir, false);
}

/** Extra files computed once the others are written, given how long writing them took (ms). */
export type LastFiles = (writeMs: number) => Map<string, Uint8Array | string>;

/**
 * Write `files` (relative name → contents) as the folder `dir`. The folder appears whole or not at all:
 * files go to a temporary sibling first; an existing `dir` is replaced only with `force` and only when it
 * is a lowrank output, once the new folder is complete. `last`, when given, adds files after the others
 * are written (a report that states the write time). When `signal` is aborted before the rename, the
 * temporary folder is removed and AbortedError thrown: nothing appears.
 */
export async function writeFolderAtomically(
  dir: string,
  files: Map<string, Uint8Array | string>,
  force: boolean,
  signal?: AbortSignal,
  last?: LastFiles,
): Promise<void> {
  throwIfAborted(signal);
  const target = path.resolve(dir);
  await checkOutputFree(target, force);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  const temporary = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);
  await mkdir(temporary);
  try {
    const started = performance.now();
    for (const [name, contents] of files) {
      throwIfAborted(signal);
      await writeFile(path.join(temporary, name), contents);
    }
    if (last !== undefined) {
      for (const [name, contents] of last(performance.now() - started)) await writeFile(path.join(temporary, name), contents);
    }
    throwIfAborted(signal);
    // Checked again just before replacing: the folder may have changed since the run began.
    await checkOutputFree(target, force);
    let old: string | undefined;
    try {
      await lstat(target);
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
