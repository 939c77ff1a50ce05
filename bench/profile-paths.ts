/**
 * Where a fine-tuning step's time goes on wasm, kernel by kernel, for each training path the
 * fixtures exercise: the digits CNN (Conv2D, a residual Add, MaxPool), the text Embedding model, the
 * two-input MLP, and a depthwise-separable CNN built here (no fixture has one). Each model is
 * factorized at rank 8 as `lowrank compress` would, then ten Adam steps on batch 32 are profiled.
 * A kernel over 10% of a step is flagged: the issue asks for none of those to run slowly.
 *
 *   npx tsx bench/profile-paths.ts
 */
import path from 'node:path';
import { initBackend, tf } from '../src/tf.js';
import { applyPlan, planModel } from '../src/factorize/index.js';
import { loadModel } from '../src/io/index.js';
import { createRng } from '../src/data/random.js';

const root = path.resolve(import.meta.dirname, '..');
const BATCH = 32;
const STEPS = 10;

interface Case {
  label: string;
  model: () => Promise<tf.LayersModel>;
}

async function fixture(name: string): Promise<tf.LayersModel> {
  return (await loadModel(path.join(root, 'fixtures', name, 'model.json'))).model;
}

function depthwiseCnn(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.depthwiseConv2d({ inputShape: [28, 28, 8], kernelSize: 3, depthMultiplier: 2, activation: 'relu' }),
      tf.layers.conv2d({ filters: 32, kernelSize: 1, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  return model;
}

const cases: Case[] = [
  { label: 'digits-cnn (Conv2D, residual Add, MaxPool)', model: () => fixture('digits-cnn') },
  { label: 'text-embedding (Embedding, GlobalAveragePooling1D)', model: () => fixture('text-embedding') },
  { label: 'two-input (Dense, Concatenate)', model: () => fixture('two-input') },
  { label: 'depthwise-separable CNN (built here)', model: async () => depthwiseCnn() },
];

/** A random batch for each input: integer token ids for int32 inputs (an Embedding's), normals else. */
function batchFor(model: tf.LayersModel, rng: ReturnType<typeof createRng>): tf.Tensor[] {
  return model.inputs.map((input) => {
    const shape = [BATCH, ...(input.shape.slice(1) as number[])];
    const size = shape.reduce((a, b) => a * b, 1);
    if (model.layers.some((l) => l.getClassName() === 'Embedding')) {
      return tf.tensor(Int32Array.from({ length: size }, () => rng.int(100)), shape, 'int32');
    }
    return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
  });
}

async function profile(c: Case): Promise<void> {
  const original = await c.model();
  const topology = original.toJSON(null, false) as unknown as Record<string, unknown>;
  const plan = planModel(c.label, topology, original, { kind: 'fixed', rank: 8 });
  const { model } = await applyPlan(c.label, topology, original, plan);
  original.dispose();
  const rng = createRng(3);
  const xs = batchFor(model, rng);
  const classes = (model.outputs[0]?.shape[1] as number) ?? 1;
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, () => rng.int(classes)), 'int32'), classes);
  const optimizer = tf.train.adam(1e-3);
  const step = (): void => {
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs.length === 1 ? (xs[0] as tf.Tensor) : xs, { training: true }) as tf.Tensor) as tf.Scalar);
    });
  };
  step();
  const byKernel = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < STEPS; i++) {
    const info = await tf.profile(step);
    // Op-level entries (names ending in __op) wrap kernels that are listed on their own.
    for (const k of info.kernels) if (!k.name.endsWith('__op')) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number) / STEPS);
  }
  const wall = (performance.now() - started) / STEPS;
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  console.log(`${c.label}: ${wall.toFixed(1)} ms per step (kernels ${total.toFixed(1)} ms)`);
  for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 5)) {
    const share = ms / total;
    console.log(`  ${share > 0.1 ? '>10%' : '    '} ${name.padEnd(36)} ${ms.toFixed(2).padStart(7)} ms ${(share * 100).toFixed(1).padStart(5)}%`);
  }
  tf.dispose([...xs, ys]);
  optimizer.dispose();
  model.dispose();
}

await initBackend('wasm');
for (const c of cases) await profile(c);
