/**
 * The README's adapter example, measured: a digits model on the shifted digits (fixtures/digits-shifted,
 * every image moved 2 pixels down and right) as the base, with a lowrank adapter, and fully fine-tuned.
 *
 *   npx tsx bench/adapt-domain-shift.ts [mlp|cnn] [--rank 3] [--alpha 12] [--epochs 40] [--learning-rate 0.003]
 *
 * - adapter: `lowrank adapt` itself (the library's adapt(), written to a temporary folder, then merged
 *   with merge() and the merged model evaluated);
 * - full fine-tune: every weight of the base trained by the same fineTune code, on the same training
 *   part of train.csv (same seed, same split, same batches), the same epochs, batch size and learning rate,
 *   keeping the best epoch by the same held-out part's loss, as adapt does;
 * - every model scored on fixtures/digits-shifted/test.csv, which neither run trains or selects on.
 * Bytes are those of the weight shards as written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapt, merge } from '../src/adapt/index.js';
import { readData, type SplitData } from '../src/compress/data.js';
import { readDataset } from '../src/data/dataset.js';
import { loadModel } from '../src/io/index.js';
import { tf } from '../src/tf.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { fineTune } from '../src/train/fine-tune.js';
import { chooseLoss } from '../src/train/loss.js';
import { outputSize, readOptionsFor } from '../src/train/model-data.js';
import { requireInputShapes } from '../src/train/tensors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHIFTED_TRAIN = path.join(ROOT, 'fixtures', 'digits-shifted', 'train.csv');
export const SHIFTED_TEST = path.join(ROOT, 'fixtures', 'digits-shifted', 'test.csv');
export const MODELS = { mlp: path.join(ROOT, 'fixtures', 'digits-mlp', 'model.json'), cnn: path.join(ROOT, 'fixtures', 'digits-cnn', 'model.json') } as const;

export interface ShiftSettings {
  model: keyof typeof MODELS;
  rank: number;
  /** LoRA alpha (default: the rank, scale 1). */
  alpha?: number;
  /** --layers for adapt. */
  layers?: string;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  backend: 'auto' | 'cpu' | 'wasm' | 'node';
}

/** The README's example: rank 3 with alpha 12 (scale 4), 40 epochs at learning rate 0.003, batch 32, seed 42. */
export const README_SETTINGS: ShiftSettings = { model: 'mlp', rank: 3, alpha: 12, epochs: 40, learningRate: 0.003, batchSize: 32, seed: 42, backend: 'auto' };

export interface ShiftResult {
  settings: ShiftSettings;
  accuracy: { base: number; adapted: number; fullFineTune: number };
  bytes: { base: number; adapter: number; adapterShare: number };
  adaptedLayers: string[];
}

export async function measureDomainShift(settings: ShiftSettings): Promise<ShiftResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'lowrank-adapt-bench-'));
  try {
    const modelFile = MODELS[settings.model];
    const common = { data: SHIFTED_TRAIN, epochs: settings.epochs, learningRate: settings.learningRate, batchSize: settings.batchSize, seed: settings.seed, backend: settings.backend };
    const adapterDir = path.join(work, 'adapter');
    const { adapter } = await adapt({ model: modelFile, rank: settings.rank, ...(settings.alpha !== undefined ? { alpha: settings.alpha } : {}), ...(settings.layers !== undefined ? { layers: settings.layers } : {}), out: adapterDir, ...common });
    const mergedDir = path.join(work, 'merged');
    await merge({ model: modelFile, adapter: adapterDir, out: mergedDir, backend: settings.backend });

    const { stored, model: full } = await loadModel(modelFile);
    const merged = (await loadModel(path.join(mergedDir, 'model.json'))).model;
    const base = (await loadModel(modelFile)).model;
    try {
      const shapes = requireInputShapes(full, SHIFTED_TRAIN);
      // The same split adapt trained and selected on: same file, split and seed.
      const data = (await readData({ data: SHIFTED_TRAIN, validationSplit: 0.2, seed: settings.seed }, shapes)) as SplitData;
      const loss = chooseLoss(stored.json.trainingConfig?.['loss'], full, data.labelSize, outputSize(full));
      await fineTune(full, data.train, data.validation, {
        objective: { ...loss, distill: 0, temperature: 1 },
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        learningRate: settings.learningRate,
        seed: settings.seed,
        shapes,
      });
      const test = await readDataset(SHIFTED_TEST, readOptionsFor(shapes, {}));
      const score = (m: tf.LayersModel): number => {
        const { metrics, predictions } = evaluateModel(m, loss, test, shapes);
        predictions.dispose();
        return metrics.accuracy ?? NaN;
      };
      const report = adapter.report;
      if (report === null) throw new Error('adapt wrote no report');
      return {
        settings,
        accuracy: { base: score(base), adapted: score(merged), fullFineTune: score(full) },
        bytes: { base: report.bytes.base, adapter: report.bytes.adapter, adapterShare: report.bytes.adapter / report.bytes.base },
        adaptedLayers: adapter.layers.map((l) => l.name),
      };
    } finally {
      for (const m of [full, merged, base]) m.dispose();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const model = (args[0] === 'cnn' ? 'cnn' : 'mlp') as ShiftSettings['model'];
  const settings: ShiftSettings = {
    model,
    rank: flag(args, '--rank', README_SETTINGS.rank),
    alpha: flag(args, '--alpha', README_SETTINGS.alpha as number),
    ...(args.includes('--layers') ? { layers: args[args.indexOf('--layers') + 1] as string } : {}),
    epochs: flag(args, '--epochs', README_SETTINGS.epochs),
    learningRate: flag(args, '--learning-rate', README_SETTINGS.learningRate),
    batchSize: flag(args, '--batch-size', 32),
    seed: flag(args, '--seed', 42),
    backend: 'auto',
  };
  const r = await measureDomainShift(settings);
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  process.stdout.write(
    [
      `digits-${model} on fixtures/digits-shifted/test.csv (${settings.epochs} epochs, lr ${settings.learningRate}, batch ${settings.batchSize}, seed ${settings.seed}; adapter rank ${settings.rank} on ${r.adaptedLayers.join(', ')})`,
      `  base model:        ${pct(r.accuracy.base)}`,
      `  base + adapter:    ${pct(r.accuracy.adapted)}`,
      `  full fine-tune:    ${pct(r.accuracy.fullFineTune)}`,
      `  bytes: base ${r.bytes.base}, adapter ${r.bytes.adapter} (${pct(r.bytes.adapterShare)} of the base)`,
      '',
    ].join('\n'),
  );
}
