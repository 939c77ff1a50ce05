/**
 * What `lowrank sweep` saves over running compress once per point, and what sharing more would save.
 * In one run, per fixture, the same points (svd and whiten at each rank, factorize only):
 *   - sweep(): loads the model, reads the data and evaluates the original once;
 *   - compress() per point in this process: everything per point, its size table and latency included;
 *   - `lowrank compress` per point as separate processes: what a shell loop over ranks costs.
 * And the most that sharing the plain spectra across points could save: the time of planning each
 * point (its SVDs) against the sweep's total. Prints seconds and ratios.
 *
 *   npm run build && npx tsx bench/sweep.ts [ranks]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compress } from '../src/compress/index.js';
import { planRun } from '../src/compress/factorize.js';
import { prepare } from '../src/compress/prepare.js';
import { sweep } from '../src/sweep/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ranks = (process.argv[2] ?? '2,4,8,16').split(',').map(Number);
const methods = ['svd', 'whiten'] as const;
const data = { data: path.join(root, 'fixtures/digits/train.csv'), validationData: path.join(root, 'fixtures/digits/test.csv'), backend: 'wasm' as const };
const tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-bench-sweep-'));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

console.log(`sweep bench: ranks ${ranks.join(',')} × ${methods.join(',')}, factorize only; node ${process.version}`);
console.log('| fixture | sweep | compress() per point | ratio | CLI per point | ratio | planning in the sweep | share |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const fixture of ['digits-mlp', 'digits-cnn']) {
  const model = path.join(root, 'fixtures', fixture, 'model.json');
  let t = performance.now();
  const { report } = await sweep({ model, ...data, ranks, out: path.join(tmp, `${fixture}-sweep`) });
  const sweepMs = performance.now() - t;

  t = performance.now();
  for (const method of methods) for (const rank of ranks) await compress({ model, ...data, rank, method, epochs: 0, out: path.join(tmp, `${fixture}-${method}-${rank}`) });
  const compressMs = performance.now() - t;

  t = performance.now();
  for (const method of methods) {
    for (const rank of ranks) {
      const args = [path.join(root, 'bin/lowrank.js'), 'compress', model, '--data', data.data, '--validation-data', data.validationData, '--rank', String(rank), '--method', method, '--epochs', '0', '--backend', 'wasm', '--out', path.join(tmp, `${fixture}-cli`), '--force', '-q'];
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`lowrank compress exited ${r.status}`);
    }
  }
  const cliMs = performance.now() - t;

  // Planning is the plain SVD of every layer: what sharing spectra across points could save at most.
  const run = await prepare({ model, ...data, rank: 1, epochs: 0, out: path.join(tmp, 'plan') });
  if (!('shapes' in run)) throw new Error('the bench needs a model tfjs can run');
  t = performance.now();
  for (const method of methods) for (const rank of ranks) await planRun({ ...run, options: { ...run.options, rank: { kind: 'fixed', rank }, method } });
  const planMs = performance.now() - t;
  run.original.dispose();

  const points = report.points.length;
  console.log(
    `| ${fixture} (${points} points) | ${seconds(sweepMs)} | ${seconds(compressMs)} | ${(compressMs / sweepMs).toFixed(2)}× | ${seconds(cliMs)} | ${(cliMs / sweepMs).toFixed(2)}× | ${seconds(planMs)} | ${((100 * planMs) / sweepMs).toFixed(0)}% |`,
  );
}
await rm(tmp, { recursive: true, force: true });
