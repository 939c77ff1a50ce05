/**
 * Shared test helpers: fixture paths, seeded random matrices, small dense linear algebra in float64,
 * temporary folders and byte-level snapshots of model folders.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../src/train/random.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(ROOT, 'fixtures');
export const DIGITS_MLP = path.join(FIXTURES, 'digits-mlp', 'model.json');
export const DIGITS_MLP_QUANTIZED = path.join(FIXTURES, 'digits-mlp-quantized', 'model.json');
export const DIGITS_TRAIN = path.join(FIXTURES, 'digits', 'train.csv');
export const DIGITS_TEST = path.join(FIXTURES, 'digits', 'test.csv');

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

/** sha256 of every file in a folder (non-recursive), by name: to prove inputs are never touched. */
export async function hashFolder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    out[name] = createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex');
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
