/**
 * --ratio against a uniform --rank k holding the same parameters, before fine-tuning, for each
 * allocation score: the measured per-layer loss (`measured`, the default with data), and the whitened
 * spectra's `relative` and `absolute` shares. Each ratio is exactly the share of the factorizable
 * parameters rank k keeps. Accuracy on held-out TEST data (digits: fixtures/digits/test.csv, 359 rows;
 * fashion-mlp: the 500 committed Fashion-MNIST test images); the allocation itself only reads the
 * calibration rows of the training file.
 *
 *   npx tsx bench/ratio-uniform.ts [fixture ...] [--scores measured,relative,absolute] [--ranks fixture:k,k,...]
 */
import os from 'node:os';
import path from 'node:path';
import { prepare } from '../src/compress/prepare.js';
import { planRun } from '../src/compress/factorize.js';
import { whitenPlan } from '../src/compress/calibrate.js';
import { applyPlan, type AllocationScore, type Plan } from '../src/factorize/index.js';
import { predictAll } from '../src/train/tensors.js';
import type { CompressInput } from '../src/compress/options.js';
import { tf } from '../src/tf.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && (args[i - 1] as string).startsWith('--')));
const fixtures = positional.length > 0 ? positional : ['digits-mlp', 'digits-cnn', 'fashion-mlp'];
const scores = (flag('--scores') ?? 'measured,relative,absolute').split(',') as AllocationScore[];
const RANKS: Record<string, number[]> = { 'digits-mlp': [3, 4, 6, 8, 12, 16], 'digits-cnn': [2, 3, 4, 6, 9, 12], 'fashion-mlp': [4, 7, 10, 15, 20, 30] };
for (const spec of (flag('--ranks') ?? '').split(';').filter(Boolean)) {
  const [name, list] = spec.split(':');
  RANKS[name as string] = (list as string).split(',').map(Number);
}

function data(fixture: string): Pick<CompressInput, 'data' | 'labels' | 'validationData' | 'validationLabels' | 'inputScale'> {
  if (fixture === 'fashion-mlp') {
    const f = (name: string) => path.join('fixtures/fashion', name);
    return { data: f('train.npy'), labels: f('train-labels.npy'), validationData: f('test.npy'), validationLabels: f('test-labels.npy'), inputScale: 1 / 255 };
  }
  return { data: 'fixtures/digits/train.csv', validationData: 'fixtures/digits/test.csv' };
}

/** Plan, whiten, factorize and measure accuracy on the validation (test) file; `spec` as compress takes it. */
async function point(fixture: string, how: { rank: number } | { ratio: number; score: AllocationScore }) {
  const input: CompressInput = { model: `fixtures/${fixture}/model.json`, ...('rank' in how ? { rank: how.rank } : { ratio: how.ratio }), ...data(fixture), epochs: 0, out: path.join(os.tmpdir(), 'ratio-uniform-bench'), force: true, backend: 'wasm' };
  const run = await prepare(input);
  if (!('original' in run) || run.data === undefined || run.shapes === null) throw new Error(`${fixture}: needs a runnable model and data`);
  try {
    if ('score' in how) run.options.rank = { kind: 'ratio', fraction: how.ratio, score: how.score };
    const started = performance.now();
    const plan: Plan = await planRun(run);
    const planSeconds = (performance.now() - started) / 1000;
    await whitenPlan(run, plan);
    const f = await applyPlan(run.options.model, run.stored.json.modelTopology, run.original, plan);
    const ds = run.data.validation;
    const labels = Array.from(ds.y as ArrayLike<number>);
    const accuracy = (model: tf.LayersModel): number => {
      const predicted = tf.tidy(() => predictAll(model, ds, run.shapes!).argMax(-1).dataSync());
      return labels.filter((y, i) => y === predicted[i]).length / labels.length;
    };
    const result = {
      original: accuracy(run.original),
      accuracy: accuracy(f.model),
      before: plan.entries.reduce((s, e) => s + e.paramsBefore, 0),
      after: plan.entries.reduce((s, e) => s + e.paramsAfter, 0),
      ranks: plan.entries.map((e) => e.rank ?? 'whole').join('/'),
      planSeconds,
    };
    f.model.dispose();
    return result;
  } finally {
    run.original.dispose();
  }
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
console.log(`| fixture | rank k (share) | \`--rank k\` | ${scores.map((s) => `${s} (ranks)`).join(' | ')} |`);
console.log(`| --- | --- | --- | ${scores.map(() => '---').join(' | ')} |`);
const wins = new Map<string, { wins: number; total: number; sum: number }>();
for (const fixture of fixtures) {
  for (const rank of RANKS[fixture] ?? []) {
    const uniform = await point(fixture, { rank });
    const ratio = uniform.after / uniform.before;
    const cells: string[] = [];
    for (const score of scores) {
      const r = await point(fixture, { ratio, score });
      if (r.after > uniform.after) throw new Error(`${fixture} ${score}: over the uniform rank's parameters`);
      const w = wins.get(score) ?? { wins: 0, total: 0, sum: 0 };
      w.total++;
      w.sum += r.accuracy - uniform.accuracy;
      if (r.accuracy > uniform.accuracy) w.wins++;
      wins.set(score, w);
      cells.push(`${pct(r.accuracy)} (${r.ranks}${score === 'measured' ? `, ${r.planSeconds.toFixed(1)} s` : ''})`);
    }
    console.log(`| ${fixture} | ${rank} (${(ratio * 100).toFixed(1)}%) | ${pct(uniform.accuracy)} | ${cells.join(' | ')} |`);
  }
}
console.log();
for (const [score, w] of wins) console.log(`${score}: beats uniform in ${w.wins} of ${w.total}, mean ${(w.sum / w.total * 100).toFixed(2)} points against it`);
