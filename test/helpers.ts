/**
 * Shared test helpers: fixture paths, seeded random matrices, small dense linear algebra in float64,
 * temporary folders and byte-level snapshots of model folders.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRng } from '../src/data/random.js';
import { readDataset, type ReadDatasetOptions } from '../src/data/dataset.js';
import { DatasetError } from '../src/errors.js';
import { initBackend, tf } from '../src/tf.js';
import { loadModel, saveModel, type OpenedModel } from '../src/io/index.js';
import { chosen, liveLayer, truncate, type Plan } from '../src/factorize/index.js';

const runFile = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(ROOT, 'fixtures');
export const DIGITS_MLP = path.join(FIXTURES, 'digits-mlp', 'model.json');
export const DIGITS_MLP_QUANTIZED = path.join(FIXTURES, 'digits-mlp-quantized', 'model.json');
export const DIGITS_TRAIN = path.join(FIXTURES, 'digits', 'train.csv');
export const DIGITS_TEST = path.join(FIXTURES, 'digits', 'test.csv');
export const DIGITS_CNN = path.join(FIXTURES, 'digits-cnn', 'model.json');
export const TEXT_EMBEDDING = path.join(FIXTURES, 'text-embedding', 'model.json');
/** The digits moved 2 pixels down and right: the adapters' domain shift. */
export const SHIFTED_TRAIN = path.join(FIXTURES, 'digits-shifted', 'train.csv');
export const SHIFTED_TEST = path.join(FIXTURES, 'digits-shifted', 'test.csv');

/** Row-major m×n matrix of seeded standard normals (float64). */
export function randomMatrix(m: number, n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const out = new Float64Array(m * n);
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
  return out;
}

/** Seeded standard normals as float32. */
export function randomFloat32(count: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.normal() * scale;
  return out;
}

/** C = A[m×k] · B[k×n], all row-major, accumulated in float64. */
export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p] as number;
      if (aip === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] = (c[i * n + j] as number) + aip * (b[p * n + j] as number);
    }
  }
  return c;
}

/** Transpose of a row-major m×n matrix. */
export function transpose(a: ArrayLike<number>, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j] as number;
  return t;
}

/** ‖a − b‖_F (or ‖a‖_F when b is omitted), in float64. */
export function frobenius(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b === undefined ? 0 : (b[i] as number));
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= worst)) worst = d; // NaN propagates as the worst
  }
  return worst;
}

/** Features and labels of a digits CSV (header, label column last). */
export async function readDigits(file: string): Promise<{ x: Float32Array; labels: Int32Array; count: number; features: number }> {
  const lines = (await readFile(file, 'utf8')).trim().split(/\r?\n/).slice(1);
  const features = (lines[0] ?? '').split(',').length - 1;
  const x = new Float32Array(lines.length * features);
  const labels = new Int32Array(lines.length);
  lines.forEach((line, r) => {
    const cells = line.split(',').map(Number);
    for (let c = 0; c < features; c++) x[r * features + c] = cells[c] as number;
    labels[r] = cells[features] as number;
  });
  return { x, labels, count: lines.length, features };
}

/** A fresh temporary folder; remove it with `removeTempDir`. */
export function makeTempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'lowrank-'));
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** sha256 of every file in a folder and its subfolders, by relative name: to prove inputs are never touched. */
export async function hashFolder(dir: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = prefix + entry.name;
    if (entry.isDirectory()) Object.assign(out, { [`${name}/`]: 'folder' }, await hashFolder(path.join(dir, entry.name), `${name}/`));
    else out[name] = createHash('sha256').update(await readFile(path.join(dir, entry.name))).digest('hex');
  }
  return out;
}

/** argmax of each row of a row-major [rows×cols] array. */
export function argmaxRows(values: ArrayLike<number>, cols: number): Int32Array {
  const rows = values.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if ((values[r * cols + c] as number) > (values[r * cols + best] as number)) best = c;
    out[r] = best;
  }
  return out;
}

/** Row-major m×n float32 matrix of exact rank r: (A[m×r] · B[r×n]) with seeded normal factors. */
export function rankMatrix(m: number, n: number, r: number, seed: number, scale = 0.5): Float32Array {
  return Float32Array.from(matmul(randomFloat32(m * r, seed, scale), randomFloat32(r * n, seed + 1, scale), m, r, n));
}

/** Set a live layer's weights from plain arrays (shapes from the layer's current weights). */
export function setWeightValues(layer: tf.layers.Layer, values: ReadonlyArray<Float32Array>): void {
  const current = layer.getWeights();
  if (current.length !== values.length) throw new Error(`${layer.name} has ${current.length} weights, got ${values.length}`);
  const tensors = values.map((v, i) => tf.tensor(v, (current[i] as tf.Tensor).shape, 'float32'));
  layer.setWeights(tensors);
  tf.dispose(tensors);
}

/** Save a live model with lowrank's saveModel into `dir`, then load it back as a user's model would be. */
export async function saveAndLoad(model: tf.LayersModel, dir: string): Promise<{ file: string; opened: OpenedModel }> {
  await saveModel(model, dir);
  const file = path.join(dir, 'model.json');
  return { file, opened: await loadModel(file) };
}

/** Load a model folder with plain tfjs only (tf.io.fromMemory over the files' bytes): no lowrank code. */
export async function stockLoad(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const b = await readFile(path.join(dir, p));
      buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    }
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: tf.io.concatenateArrayBuffers(buffers),
    }),
  );
}

/** model.predict as plain arrays, one per output. Inputs are not disposed. */
export function predictArrays(model: tf.LayersModel, inputs: tf.Tensor | tf.Tensor[]): Float32Array[] {
  const out = model.predict(inputs);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

/** max |a − b| over every output of two predictions. */
export function maxAbsDiffAll(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  if (a.length !== b.length) throw new Error(`${a.length} outputs vs ${b.length}`);
  return a.reduce((worst, x, i) => Math.max(worst, maxAbsDiff(x, b[i] as Float32Array)), 0);
}

/** The rank-k reconstruction A·B of a chosen plan entry's kernel, as float32 row-major m×n. */
export function reconstructedKernel(plan: Plan, name: string): Float32Array {
  const e = plan.entries.find((x) => x.name === name);
  const d = plan.decompositions.get(name);
  if (e === undefined || d === undefined || e.rank === null) throw new Error(`${name} is not chosen in the plan`);
  const f = truncate(d, e.rank);
  return Float32Array.from(matmul(f.a, f.b, e.m, e.rank, e.n));
}

/**
 * Replace each chosen layer's kernel (its first weight, any class) in `model` by its rank-k
 * reconstruction, reshaped to the kernel's shape; other weights (bias) are kept. Plan names are paths
 * (`outer/inner`), resolved with liveLayer.
 */
export function setReconstructedKernels(model: tf.LayersModel, plan: Plan): void {
  for (const e of chosen(plan)) {
    const layer = liveLayer(model, e.name.split('/'));
    const values: Float32Array[] = layer.getWeights().map((t) => Float32Array.from(t.dataSync()));
    values[0] = reconstructedKernel(plan, e.name);
    setWeightValues(layer, values);
  }
}

/**
 * A row-major m×n float32 matrix with exactly the singular values `s` (at most min(m, n) of them):
 * W = U·diag(s)·Vᵀ where U and V are seeded signed permutations, so W has one ±s_c per used row and
 * column and its spectrum is known exactly.
 */
export function spectrumMatrix(m: number, n: number, s: readonly number[], seed: number): Float32Array {
  if (s.length > Math.min(m, n)) throw new Error(`${s.length} singular values for ${m}×${n}`);
  const rng = createRng(seed);
  const shuffle = (count: number): number[] => {
    const p = [...Array(count).keys()];
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [p[i], p[j]] = [p[j] as number, p[i] as number];
    }
    return p;
  };
  const rows = shuffle(m);
  const cols = shuffle(n);
  const w = new Float32Array(m * n);
  s.forEach((value, c) => {
    const sign = rng.next() < 0.5 ? -1 : 1;
    w[(rows[c] as number) * n + (cols[c] as number)] = sign * value;
  });
  return w;
}

/** What a run of the built CLI printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (bin/lowrank.js) as a user does: from the repository root, with NO_COLOR=1. */
export function runCli(...args: string[]): Promise<CliResult> {
  return runCliIn(ROOT, ...args);
}

/** Run the built CLI from `cwd`, as a user working in that folder does (NO_COLOR=1). */
export async function runCliIn(cwd: string, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [path.join(ROOT, 'bin', 'lowrank.js'), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A CLI run refused as bad input: exit 2 and one stderr line `lowrank: ...` matching `pattern`. */
export function assertRefusedOneLine(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^lowrank: /);
  assert.match(lines[0] as string, pattern);
}

/**
 * Register before/after hooks for a test file: the wasm backend, a temp folder (removed after), and a
 * check that the file disposed every tensor it made. Returns a getter for the folder.
 */
export function useTempDirAndLeakCheck(): () => string {
  let dir = '';
  let tensorsAtStart = 0;
  before(async () => {
    await initBackend('wasm');
    dir = await makeTempDir();
    tensorsAtStart = tf.memory().numTensors;
  });
  after(async () => {
    await removeTempDir(dir);
    assert.equal(tf.memory().numTensors, tensorsAtStart, 'tensors leaked');
  });
  return () => dir;
}

/**
 * Asserts that reading `file` fails with a one-line DatasetError about `errorFile` (default `file`)
 * whose message equals `message` (a string) or matches it (a RegExp).
 */
export async function assertDatasetError(file: string, message: string | RegExp, options?: ReadDatasetOptions, errorFile = file): Promise<void> {
  await assert.rejects(readDataset(file, options), (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
    assert.equal(err.file, errorFile);
    assert.equal(err.code, 'DATASET');
    assert.doesNotMatch(err.message, /\n/);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}
