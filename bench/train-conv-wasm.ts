/**
 * Training speed of a small CNN on wasm (with the cpu fallbacks for the kernels wasm lacks) against
 * the pure-JS cpu backend, measured in one run so both numbers share the machine's state.
 *
 *   npx tsx bench/train-conv-wasm.ts [seconds]
 *
 * Each backend gets one untimed warm-up step, then timed steps until `seconds` (default 10) have
 * passed, at least two. The cpu backend needs about a minute per step here (its
 * Conv2DBackpropFilter), so expect the whole run to take two to three minutes.
 *
 * Model: 28×28×1 → Conv2D(16, 3×3, relu) → Conv2D(32, 3×3, relu) → Flatten → Dense(10, softmax),
 * batch 64, SGD. Both backends start from the same weights and see the same batch. Also prints
 * where one wasm step's time goes, kernel by kernel, so the share of this module's kernels shows.
 */
import { initBackend, tf } from '../src/tf.js';
import { registerCpuFallbacks } from '../src/kernels/wasm-fallbacks.js';

const BATCH = 64;
const SECONDS = Number(process.argv[2] ?? 10);

/** Deterministic uniform values in [-scale, scale). */
function seeded(count: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

function buildModel(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(seeded(w.size, 100 + i, 0.05), w.shape)));
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  return model;
}

interface Result {
  samplesPerSecond: number;
  steps: number;
  losses: number[];
}

async function measure(backend: 'wasm' | 'cpu'): Promise<Result> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} unavailable`);
  const model = buildModel();
  const xs = tf.tensor4d(seeded(BATCH * 28 * 28, 7), [BATCH, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), 'int32'), 10);
  const losses: number[] = [(await model.trainOnBatch(xs, ys)) as number]; // warm-up, not timed
  const start = performance.now();
  let steps = 0;
  while (steps < 2 || performance.now() - start < SECONDS * 1000) {
    losses.push((await model.trainOnBatch(xs, ys)) as number);
    steps++;
  }
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([xs, ys]);
  model.optimizer.dispose();
  model.dispose();
  return { samplesPerSecond: (steps * BATCH) / seconds, steps, losses };
}

/** Kernel time of one wasm training step, summed per kernel name, largest first. */
async function profileWasmStep(): Promise<Array<[string, number]>> {
  await tf.setBackend('wasm');
  const model = buildModel();
  const xs = tf.tensor4d(seeded(BATCH * 28 * 28, 7), [BATCH, 28, 28, 1]);
  const ys = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 7) % 10), 'int32'), 10);
  await model.trainOnBatch(xs, ys);
  const info = await tf.profile(() => {
    // The optimizer step inside fit is async; one minimize call is the same computation, synchronously.
    model.optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar);
  });
  const totals = new Map<string, number>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    totals.set(k.name, (totals.get(k.name) ?? 0) + ms);
  }
  tf.dispose([xs, ys]);
  model.optimizer.dispose();
  model.dispose();
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

await initBackend('wasm');
const fallbacks = new Set(registerCpuFallbacks());
const wasm = await measure('wasm');
const cpu = await measure('cpu');
// Same weights, same batch: the loss curves must agree over the steps both backends ran.
const common = Math.min(wasm.losses.length, cpu.losses.length);
const rel = (i: number): number => Math.abs((wasm.losses[i] as number) - (cpu.losses[i] as number)) / Math.abs(cpu.losses[i] as number);
const maxRel = Math.max(...Array.from({ length: common }, (_, i) => rel(i)));

console.log(`train small CNN (28x28x1 → Conv2D 16 → Conv2D 32 → Dense 10), batch ${BATCH}`);
console.log(`  wasm + fallbacks: ${wasm.samplesPerSecond.toFixed(1).padStart(8)} samples/s (${wasm.steps} timed steps)`);
console.log(`  cpu:              ${cpu.samplesPerSecond.toFixed(1).padStart(8)} samples/s (${cpu.steps} timed steps)`);
console.log(`  ratio wasm/cpu:   ${(wasm.samplesPerSecond / cpu.samplesPerSecond).toFixed(1)}x`);
console.log(`  loss curves agree to ${maxRel.toExponential(1)} relative over ${common} steps`);

const profile = await profileWasmStep();
const total = profile.reduce((sum, [, ms]) => sum + ms, 0);
const fallbackMs = profile.filter(([name]) => fallbacks.has(name)).reduce((sum, [, ms]) => sum + ms, 0);
console.log(`one wasm step: ${total.toFixed(1)} ms of kernel time, ${((100 * fallbackMs) / total).toFixed(0)}% in this module's kernels`);
for (const [name, ms] of profile.slice(0, 6)) {
  console.log(`  ${name.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms${fallbacks.has(name) ? '  (registered by wasm-fallbacks)' : ''}`);
}
