/**
 * What bounds the cost of --ratio's measured allocation: its passes run the whole model over the
 * calibration rows (`--calibration-samples`, default 512), once per measured rank of each layer, so
 * their time scales with that count. This bench plans and factorizes fashion-mlp at --ratio 0.1 on all
 * 60,000 Fashion-MNIST training images (Debian's dataset-fashion-mnist) with several counts, and
 * prints for each the time of the allocation (planRun) and of the whitened factorization, the ranks
 * chosen, and the accuracy before fine-tuning on the 10,000 test images.
 *
 *   npx tsx bench/ratio-cost.ts [--samples 512,256,128] [--ratio 0.1] [--seed 42]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepare } from '../src/compress/prepare.js';
import { factorizeModel, planRun } from '../src/compress/factorize.js';
import { readDataset } from '../src/data/dataset.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { FASHION_PIXELS, npyUint8, readFashion } from '../fixtures/make/fashion-data.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const counts = (flag('--samples') ?? '512,256,128').split(',').map(Number);
const ratio = Number(flag('--ratio') ?? 0.1);
const seed = Number(flag('--seed') ?? 42);

const temp = mkdtempSync(path.join(os.tmpdir(), 'lowrank-ratio-cost-'));
process.on('exit', () => rmSync(temp, { recursive: true, force: true }));
const file = (name: string): string => path.join(temp, name);
const train = readFashion('train');
const test = readFashion('t10k');
writeFileSync(file('train.npy'), npyUint8([train.count, FASHION_PIXELS], train.pixels));
writeFileSync(file('train-labels.npy'), npyUint8([train.count], train.labels));
writeFileSync(file('test.npy'), npyUint8([test.count, FASHION_PIXELS], test.pixels));
writeFileSync(file('test-labels.npy'), npyUint8([test.count], test.labels));
const testSet = await readDataset(file('test.npy'), { labels: file('test-labels.npy'), inputScale: 1 / 255 });

console.log(`bench/ratio-cost.ts, ${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, load ${os.loadavg()[0]?.toFixed(1)}, Node ${process.version}, wasm`);
console.log(`fashion-mlp --ratio ${ratio}, seed ${seed}, 60,000 training images; accuracy before fine-tuning on the 10,000 test images\n`);
console.log('| --calibration-samples | allocation | whitened factorization | ranks | factorized accuracy |');
console.log('| ---: | ---: | ---: | --- | ---: |');
for (const calibrationSamples of counts) {
  const run = await prepare({ model: 'fixtures/fashion-mlp/model.json', ratio, seed, calibrationSamples, data: file('train.npy'), labels: file('train-labels.npy'), inputScale: 1 / 255, out: file('out'), force: true, backend: 'wasm' });
  if (!('original' in run) || run.loss === null || run.shapes === null) throw new Error('fashion-mlp must load');
  let t = performance.now();
  const plan = await planRun(run);
  const allocation = (performance.now() - t) / 1000;
  t = performance.now();
  const { factorized } = await factorizeModel(run, plan, 0);
  const whitening = (performance.now() - t) / 1000;
  const { metrics, predictions } = evaluateModel(factorized.model, run.loss, testSet, run.shapes);
  predictions.dispose();
  console.log(`| ${calibrationSamples} | ${allocation.toFixed(1)} s | ${whitening.toFixed(1)} s | ${plan.entries.map((e) => e.rank ?? 'whole').join('/')} | ${((metrics.accuracy as number) * 100).toFixed(2)}% |`);
  factorized.model.dispose();
  run.original.dispose();
}
