/**
 * Does a second core pay? Two upper bounds, measured in this run, each as one thread against two
 * worker threads (every worker with its own tfjs and wasm instance), alternating, median of 3:
 * - data-parallel fine-tuning: the CNN at rank 16, N gradient steps at batch 32 in one thread
 *   against N steps at batch 16 in each of two workers at once. The workers do not exchange or
 *   average gradients, so this bounds what a real data-parallel loop (which must) could gain;
 * - SVDs of different layers at once: two 1024×1024 randomized SVDs at rank 64 one after the other
 *   against one in each worker.
 *
 *   npx tsx bench/two-cores.ts
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';

const STEPS = 20;

/** Code each worker (and the single-thread run) executes: returns ms of the work itself. */
async function work(kind: 'train' | 'svd', batch: number, steps: number): Promise<number> {
  const { initBackend, tf } = await import('../src/tf.js');
  await initBackend('wasm');
  if (kind === 'svd') {
    const { randomizedSvd } = await import('../src/factorize/svd.js');
    const { createRng } = await import('../src/data/random.js');
    const rng = createRng(batch);
    const w = Float32Array.from({ length: 1024 * 1024 }, () => rng.normal());
    randomizedSvd(w.subarray(0, 128 * 128), 128, 128, 8); // warm-up
    const started = performance.now();
    for (let i = 0; i < steps; i++) randomizedSvd(w, 1024, 1024, 64, { seed: i });
    return performance.now() - started;
  }
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, useBias: false }),
      tf.layers.conv2d({ filters: 64, kernelSize: 1, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 16, useBias: false }),
      tf.layers.dense({ units: 128, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  const xs = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10);
  const optimizer = tf.train.adam(1e-3);
  const step = (): void => {
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as typeof ys) as ReturnType<typeof tf.scalar>);
    });
  };
  step();
  const started = performance.now();
  for (let i = 0; i < steps; i++) step();
  return performance.now() - started;
}

function inWorker(kind: 'train' | 'svd', batch: number, steps: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // Workers do not take --import: register tsx's loader inside, then load this file as a module.
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(bootstrap, { eval: true, workerData: { kind, batch, steps } });
    worker.once('message', (ms: number) => resolve(ms));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wall ms of the work in one worker (whole batch / both SVDs) and split over two workers at once. */
async function compare(kind: 'train' | 'svd'): Promise<{ one: number; two: number }> {
  const one: number[] = [];
  const two: number[] = [];
  for (let round = 0; round < 3; round++) {
    // One thread does it all: a worker too, so both sides pay the same start-up outside the timing.
    one.push(kind === 'train' ? await inWorker('train', 32, STEPS) : await inWorker('svd', 1, 2));
    const parts = kind === 'train' ? [inWorker('train', 16, STEPS), inWorker('train', 16, STEPS)] : [inWorker('svd', 1, 1), inWorker('svd', 2, 1)];
    const times = await Promise.all(parts);
    // The slower worker decides; start-up is excluded as on the other side (each reports its own work).
    two.push(Math.max(...times));
  }
  return { one: median(one), two: median(two) };
}

export interface TwoCoresRow {
  train: { one: number; two: number };
  svd: { one: number; two: number };
}

export async function benchTwoCores(): Promise<TwoCoresRow> {
  return { train: await compare('train'), svd: await compare('svd') };
}

export function formatTwoCoresRows(r: TwoCoresRow): string[] {
  return [
    `two cores, data-parallel CNN (upper bound: no gradient exchange): ${STEPS} steps of batch 32 in one thread ${r.train.one.toFixed(0)} ms vs 16 + 16 in two workers ${r.train.two.toFixed(0)} ms → ${(r.train.one / r.train.two).toFixed(2)}×`,
    `two cores, SVDs of two 1024² layers at once: one thread ${r.svd.one.toFixed(0)} ms vs one per worker ${r.svd.two.toFixed(0)} ms → ${(r.svd.one / r.svd.two).toFixed(2)}×`,
  ];
}

const { isMainThread, parentPort, workerData } = await import('node:worker_threads');
if (!isMainThread) {
  const { kind, batch, steps } = workerData as { kind: 'train' | 'svd'; batch: number; steps: number };
  parentPort?.postMessage(await work(kind, batch, steps));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(1)}`);
  for (const line of formatTwoCoresRows(await benchTwoCores())) console.log(line);
}
