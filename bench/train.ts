/**
 * Fine-tuning speed on wasm, with and without issue 11's kernels, measured in the same run: each
 * configuration trains in its own process (the kernels are chosen when the backend starts), the
 * processes alternate, and the median of the rounds is reported.
 *
 *   npx tsx bench/train.ts [cnn|mlp|all] [--rounds 3] [--profile] [--torch [1,2]]
 *
 * Models (issue 11), built in memory with seeded weights and factorized by lowrank's own planModel /
 * applyPlan: the CNN Conv2D 32 3×3 → MaxPool → Conv2D 64 3×3 → MaxPool → Dense 128 → Dense 10 on
 * 28×28×1 at rank 16, and the MLP 784-512-256-10 at rank 24. Data: Fashion-MNIST from Debian's
 * dataset-fashion-mnist when installed, else seeded noise of the same shape (the speed is the same).
 * Training is lowrank's fineTune (Adam, batch 32, sparse categorical cross-entropy); samples/s is
 * that of the second epoch, the first being warm-up. `--profile` prints one step's kernel times.
 *
 * With LOWRANK_REFERENCE_KERNELS=1 the kernels are those before issue 11 (src/kernels). The MLP also
 * runs with the new kernels and the general training step (LOWRANK_GENERAL_STEP=1), the measure of
 * src/train/dense-step.ts, and with the Dense-chain step but the backend's XNNPACK products
 * (LOWRANK_XNNPACK_PRODUCTS=1), the measure of src/train/wasm-matmul.ts. `--torch` runs bench/reference.py's PyTorch training with 1 thread (`--torch 1,2`:
 * with 1 and with 2) in every round too (where /usr/bin/python3 has torch), so that its ratio pairs
 * runs made under the same load. Each
 * rate is also given per CPU-second, which moves less with the machine's load.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { initBackend, tf } from '../src/tf.js';
import { applyPlan, planModel } from '../src/factorize/index.js';
import { fineTune } from '../src/train/fine-tune.js';
import { createRng } from '../src/data/random.js';
import type { Dataset } from '../src/data/types.js';

export type TrainModel = 'cnn' | 'mlp';

/** How many samples one epoch trains on, per model and kernel set: about 10 s each at the expected speed. */
const SAMPLES: Record<TrainModel, { fast: number; reference: number }> = {
  cnn: { fast: 3200, reference: 320 },
  mlp: { fast: 32_000, reference: 32_000 },
};
const RANKS: Record<TrainModel, number> = { cnn: 16, mlp: 24 };
export const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

/** The model as Keras layers, before factorizing. */
function buildModel(kind: TrainModel): tf.Sequential {
  const layers =
    kind === 'cnn'
      ? [
          tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 128, activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ]
      : [
          tf.layers.dense({ inputShape: [784], units: 512, activation: 'relu' }),
          tf.layers.dense({ units: 256, activation: 'relu' }),
          tf.layers.dense({ units: 10, activation: 'softmax' }),
        ];
  const model = tf.sequential({ layers });
  // Seeded Glorot-uniform weights, so every process starts from the same model.
  const rng = createRng(7);
  model.setWeights(
    model.getWeights().map((w) => {
      const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 0;
      const fanOut = w.shape[w.shape.length - 1] as number;
      const limit = fanIn === 0 ? 0 : Math.sqrt(6 / (fanIn + fanOut));
      return tf.tensor(Float32Array.from({ length: w.size }, () => (rng.next() * 2 - 1) * limit), w.shape);
    }),
  );
  return model;
}

/** Fashion-MNIST's first `count` training images (scaled to [0, 1]) and labels, or seeded noise. */
export function readImages(count: number): { x: Float32Array; y: Float32Array; source: string } {
  const images = path.join(FASHION_MNIST, 'train-images-idx3-ubyte.gz');
  const labels = path.join(FASHION_MNIST, 'train-labels-idx1-ubyte.gz');
  const x = new Float32Array(count * 784);
  const y = new Float32Array(count);
  if (existsSync(images) && existsSync(labels)) {
    // IDX: a 16-byte header (magic, count, rows, cols) before the pixels, 8 bytes before the labels.
    const pixels = gunzipSync(readFileSync(images));
    const classes = gunzipSync(readFileSync(labels));
    const available = pixels.readUInt32BE(4);
    for (let i = 0; i < count; i++) {
      const from = 16 + (i % available) * 784;
      for (let j = 0; j < 784; j++) x[i * 784 + j] = (pixels[from + j] as number) / 255;
      y[i] = classes[8 + (i % available)] as number;
    }
    return { x, y, source: 'Fashion-MNIST' };
  }
  const rng = createRng(11);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  for (let i = 0; i < count; i++) y[i] = rng.int(10);
  return { x, y, source: 'seeded noise' };
}

/** The factorized model, as `lowrank compress --rank r` builds it. */
async function factorized(kind: TrainModel): Promise<tf.LayersModel> {
  const original = buildModel(kind);
  const topology = original.toJSON(null, false) as unknown as Record<string, unknown>;
  const plan = planModel('bench', topology, original, { kind: 'fixed', rank: RANKS[kind] });
  const { model } = await applyPlan('bench', topology, original, plan);
  original.dispose();
  return model;
}

interface WorkerResult {
  samplesPerSecond: number;
  /** Samples per second of CPU time (user + system) in the timed epoch. */
  cpuSamplesPerSecond: number;
  /** Which training step fineTune took (src/train/dense-step.ts or the general one). */
  step: string;
  samples: number;
  source: string;
  referenceKernels: boolean;
}

/** One measurement in this process: two epochs of fineTune, the second one timed. */
async function measure(kind: TrainModel, profile: boolean): Promise<WorkerResult> {
  await initBackend('wasm');
  const reference = process.env['LOWRANK_REFERENCE_KERNELS'] === '1';
  const count = SAMPLES[kind][reference ? 'reference' : 'fast'];
  const data = readImages(count);
  const train: Dataset = { file: data.source, count, featureSize: 784, x: data.x, y: data.y, labelSize: 1 };
  const model = await factorized(kind);
  const shapes = [kind === 'cnn' ? [28, 28, 1] : [784]];
  const objective = { kind: 'sparse-categorical-crossentropy' as const, distill: 0, temperature: 2, fromLogits: false };
  // CPU time of the timed epoch too: on a loaded machine it moves less than the wall-clock rate.
  const cpu: number[] = [];
  const onEvent = (e: { status: string }): void => {
    if (e.status === 'epoch') cpu.push(process.cpuUsage().user + process.cpuUsage().system);
  };
  let step = '';
  const result = await fineTune(model, train, undefined, { objective, epochs: 2, batchSize: 32, learningRate: 1e-3, seed: 42, shapes, onEvent, onStep: (s) => (step = s) });
  if (profile) await printProfile(model, train, shapes[0] as number[]);
  model.dispose();
  const cpuSeconds = ((cpu[1] ?? NaN) - (cpu[0] ?? NaN)) / 1e6;
  return { samplesPerSecond: result.history[1]?.samplesPerSecond ?? NaN, cpuSamplesPerSecond: count / cpuSeconds, step, samples: count, source: data.source, referenceKernels: reference };
}

/** Kernel time of a training step (mean of ten), by kernel, largest first (stderr). */
async function printProfile(model: tf.LayersModel, train: Dataset, shape: number[]): Promise<void> {
  const optimizer = tf.train.adam(1e-3);
  const xs = tf.tensor(train.x.subarray(0, 32 * 784), [32, ...shape]);
  const ys = tf.tensor1d(train.y?.subarray(0, 32) ?? new Float32Array(32));
  const step = (): void => {
    tf.tidy(() => {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(tf.oneHot(ys.toInt(), 10), model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
    });
  };
  step();
  // Ten profiled steps, averaged: one step's times vary too much on a shared machine.
  const steps = 10;
  const byKernel = new Map<string, number>();
  for (let i = 0; i < steps; i++) {
    const info = await tf.profile(step);
    for (const k of info.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number) / steps);
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(`  kernel time per step: ${total.toFixed(1)} ms\n`);
  for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    process.stderr.write(`  ${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%\n`);
  }
  tf.dispose([xs, ys]);
  optimizer.dispose();
}

/**
 * The configurations measured: issue 11's kernels and training step ("fast"), the same kernels with
 * the general training step (LOWRANK_GENERAL_STEP=1: model.apply under tfjs's tape; MLP only, the
 * Dense-chain step does not apply to the CNN), and everything as before issue 11 ("reference":
 * LOWRANK_REFERENCE_KERNELS=1, which also turns the Dense-chain step off).
 */
type Config = 'fast' | 'xnnpack' | 'general' | 'reference';

/** Run `measure` in a child process in one configuration. */
function child(kind: TrainModel, config: Config): WorkerResult {
  const run = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--worker', kind], {
    encoding: 'utf8',
    env: {
      ...process.env,
      LOWRANK_REFERENCE_KERNELS: config === 'reference' ? '1' : '0',
      LOWRANK_GENERAL_STEP: config === 'general' ? '1' : '0',
      LOWRANK_XNNPACK_PRODUCTS: config === 'xnnpack' ? '1' : '0',
    },
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) throw new Error(`bench worker (${kind}, ${config}) exited ${run.status}: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as WorkerResult;
}

/** bench/reference.py's training run (PyTorch), or undefined where /usr/bin/python3 lacks torch. */
function torchChild(kind: TrainModel, threads: number): { samplesPerSecond: number; cpuSamplesPerSecond: number } | undefined {
  const run = spawnSync('/usr/bin/python3', [path.join(import.meta.dirname, 'reference.py'), 'train', kind, String(threads)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) return undefined;
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as { samplesPerSecond: number; cpuSamplesPerSecond: number };
}

export interface TrainBenchRow {
  model: TrainModel;
  rank: number;
  /** Median samples/s over the rounds, with issue 11's kernels and with the ones before. */
  fast: number;
  reference: number;
  /** The MLP with issue 11's kernels but the general training step (model.apply and the tape). */
  general?: number;
  /** The MLP's Dense-chain step with the backend's (XNNPACK) products instead of wasm-matmul.ts's. */
  xnnpack?: number;
  /** Median samples/s of CPU time, the same configurations. */
  cpu: { fast: number; reference: number; general?: number; xnnpack?: number };
  /** PyTorch (bench/reference.py) in the same rounds, by thread count, when asked and installed. */
  torch?: Record<number, number>;
  /** The same per CPU-second (all of its threads' time). */
  torchCpu?: Record<number, number>;
  rounds: number;
  source: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/**
 * Alternate the configurations `rounds` times per model and take medians. With `torch`, PyTorch
 * with 1 and 2 threads runs in every round too, so that its figures pair with ours under the same load.
 */
export function benchTraining(models: readonly TrainModel[], rounds = 3, log: (line: string) => void = () => {}, torchThreads: readonly number[] = []): TrainBenchRow[] {
  return models.map((kind) => {
    const configs: Config[] = kind === 'mlp' ? ['fast', 'xnnpack', 'general', 'reference'] : ['fast', 'reference'];
    const wall = new Map<Config, number[]>(configs.map((c) => [c, []]));
    const cpu = new Map<Config, number[]>(configs.map((c) => [c, []]));
    const torchRuns = new Map<number, number[]>(torchThreads.map((t) => [t, []]));
    const torchCpu = new Map<number, number[]>(torchThreads.map((t) => [t, []]));
    let source = '';
    for (let r = 0; r < rounds; r++) {
      const parts: string[] = [];
      for (const config of configs) {
        const result = child(kind, config);
        wall.get(config)?.push(result.samplesPerSecond);
        cpu.get(config)?.push(result.cpuSamplesPerSecond);
        source = result.source;
        parts.push(`${config} ${result.samplesPerSecond.toFixed(0)} (${result.step} step; ${result.cpuSamplesPerSecond.toFixed(0)} per CPU-second)`);
      }
      log(`  ${kind} round ${r + 1}, load ${os.loadavg()[0]?.toFixed(1)}: ${parts.join(', ')} samples/s`);
      for (const threads of torchThreads) {
        const rate = torchChild(kind, threads);
        if (rate === undefined) continue;
        torchRuns.get(threads)?.push(rate.samplesPerSecond);
        torchCpu.get(threads)?.push(rate.cpuSamplesPerSecond);
        log(`  ${kind} round ${r + 1}, load ${os.loadavg()[0]?.toFixed(1)}: PyTorch with ${threads} thread(s) ${rate.samplesPerSecond.toFixed(0)} samples/s (${rate.cpuSamplesPerSecond.toFixed(0)} per CPU-second)`);
      }
    }
    const m = (c: Config): number => median(wall.get(c) ?? []);
    const mc = (c: Config): number => median(cpu.get(c) ?? []);
    const medians = (runs: Map<number, number[]>): Record<number, number> => Object.fromEntries([...runs].filter(([, xs]) => xs.length > 0).map(([t, xs]) => [t, median(xs)]));
    const torchMedians = medians(torchRuns);
    return {
      model: kind,
      rank: RANKS[kind],
      fast: m('fast'),
      reference: m('reference'),
      ...(configs.includes('general') ? { general: m('general') } : {}),
      ...(configs.includes('xnnpack') ? { xnnpack: m('xnnpack') } : {}),
      cpu: {
        fast: mc('fast'),
        reference: mc('reference'),
        ...(configs.includes('general') ? { general: mc('general') } : {}),
        ...(configs.includes('xnnpack') ? { xnnpack: mc('xnnpack') } : {}),
      },
      ...(Object.keys(torchMedians).length > 0 ? { torch: torchMedians, torchCpu: medians(torchCpu) } : {}),
      rounds,
      source,
    };
  });
}

export function formatTrainRows(rows: readonly TrainBenchRow[]): string[] {
  return rows.map((r) => {
    const general = r.general === undefined ? '' : `; ${r.general.toFixed(0)} with the new kernels but the general step (${(r.fast / r.general).toFixed(2)}× faster)`;
    const xnnpack =
      r.xnnpack === undefined || r.cpu.xnnpack === undefined
        ? ''
        : `; ${r.xnnpack.toFixed(0)} with the backend's products in the Dense-chain step (SIMD products ${(r.fast / r.xnnpack).toFixed(2)}× faster, ${(r.cpu.fast / r.cpu.xnnpack).toFixed(2)}× per CPU-second)`;
    const torch =
      r.torch === undefined
        ? ''
        : `; PyTorch in the same rounds ${Object.entries(r.torch)
            .map(([t, v]) => `${v.toFixed(0)} with ${t} thread(s)`)
            .join(', ')} → lowrank ${(r.fast / Math.max(...Object.values(r.torch))).toFixed(2)}× the faster; per CPU-second lowrank ${r.cpu.fast.toFixed(0)}, PyTorch ${Object.values(r.torchCpu ?? {})
            .map((v) => v.toFixed(0))
            .join(' / ')} → ${(r.cpu.fast / Math.max(...Object.values(r.torchCpu ?? {}))).toFixed(2)}×`;
    return `fine-tune ${r.model.toUpperCase()} rank ${r.rank}, batch 32 (${r.source}): ${r.fast.toFixed(0)} samples/s with the new kernels vs ${r.reference.toFixed(1)} before → ${(r.fast / r.reference).toFixed(1)}× (median of ${r.rounds})${xnnpack}${general}${torch}`;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === '--worker') {
    const result = await measure(args[1] as TrainModel, process.env['LOWRANK_BENCH_PROFILE'] === '1');
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (args.includes('--profile')) {
    const kind = (args.find((a) => a === 'cnn' || a === 'mlp') ?? 'cnn') as TrainModel;
    const result = await measure(kind, true);
    console.log(`${kind}: ${result.samplesPerSecond.toFixed(1)} samples/s (reference kernels: ${result.referenceKernels})`);
  } else {
    const which = args.find((a) => !a.startsWith('--') && !/^[\d,]+$/.test(a)) ?? 'all';
    const roundsAt = args.indexOf('--rounds');
    const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
    const models: TrainModel[] = which === 'all' ? ['cnn', 'mlp'] : [which as TrainModel];
    // --torch: PyTorch with 1 thread in every round (its 2-thread runs collapse under load); --torch 1,2: both.
    const torchAt = args.indexOf('--torch');
    const torchThreads = torchAt < 0 ? [] : /^[\d,]+$/.test(args[torchAt + 1] ?? '') ? (args[torchAt + 1] as string).split(',').map(Number) : [1];
    for (const line of formatTrainRows(benchTraining(models, rounds, (l) => console.error(l), torchThreads))) console.log(line);
  }
}
