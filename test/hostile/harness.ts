/**
 * Shared by the hostile-input tests: a fresh copy of the digits fixture per case, and the one
 * assertion every refusal must pass (exit 2, one `lowrank: ` line naming the file and the problem, no
 * stack trace, no output folder or temporary sibling, inputs byte-identical).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, runCli, type CliResult } from '../helpers.js';

export const DIGITS_DIR = path.join(FIXTURES, 'digits-mlp');
/** A CSV header for the digits model: 64 feature columns, then the label. */
export const DIGITS_CSV_HEADER = `${Array.from({ length: 64 }, (_, i) => `p${i}`).join(',')},label`;
export const SHARD = 'group1-shard1of1.bin';

/** model.json of the digits fixture as a plain object (a fresh copy each call). */
export type Json = Record<string, any>;

export async function readJson(dir: string): Promise<Json> {
  return JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Json;
}

export async function editJson(dir: string, edit: (json: Json) => void): Promise<void> {
  const json = await readJson(dir);
  edit(json);
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
}

/** The first manifest group's weight entries. */
export function entries(json: Json): Json[] {
  return json['weightsManifest'][0]['weights'] as Json[];
}

/** Copy the digits fixture to `<root>/model`; return the model folder. */
export async function copyDigits(root: string): Promise<string> {
  const dir = path.join(root, 'model');
  await mkdir(root, { recursive: true });
  await cp(DIGITS_DIR, dir, { recursive: true });
  return dir;
}

/** Every entry under `dir`, recursively, with the sha256 of its bytes (or `dir`, or `-> target` for links). */
export async function hashTree(dir: string, out: Record<string, string> = {}, prefix = ''): Promise<Record<string, string>> {
  for (const name of (await readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const info = await lstat(file);
    const key = prefix + name;
    if (info.isSymbolicLink()) out[key] = `-> ${await readlink(file)}`;
    else if (info.isDirectory()) {
      out[key] = 'dir';
      await hashTree(file, out, `${key}/`);
    } else out[key] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return out;
}

/** hashTree of each folder that exists. */
export async function snapshot(dirs: readonly string[]): Promise<Array<[string, Record<string, string>]>> {
  const out: Array<[string, Record<string, string>]> = [];
  for (const dir of dirs) if (existsSync(dir)) out.push([dir, await hashTree(dir)]);
  return out;
}

/**
 * Run `lowrank <args>` and check the refusal contract. `root` is the case's folder, which holds the
 * inputs and is where `out` would have been written; `inputs` are the folders that must not change.
 */
export async function expectRefused(root: string, inputs: readonly string[], args: readonly string[], mention: string, problem: RegExp): Promise<CliResult> {
  const before = await snapshot(inputs);
  const rootBefore = (await readdir(root)).sort();
  const r = await runCli(...args);
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  const line = lines[0] as string;
  assert.match(line, /^lowrank: /);
  assert.ok(line.includes(mention), `expected the message to name ${mention}: ${line}`);
  assert.match(line, problem);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
  assert.equal(r.stdout, '');
  assert.equal(existsSync(path.join(root, 'out')), false, 'an output folder was written');
  assert.deepEqual((await readdir(root)).sort(), rootBefore, 'something was left beside the output');
  assert.deepEqual(await snapshot(inputs), before, 'an input changed');
  return r;
}
