/**
 * How the whitening's regularization was chosen: accuracy before fine-tuning of whitened factors on a
 * held-out split of the TRAINING file (fixtures/digits/train.csv, 20%; the test file is not looked at),
 * over a grid of the eigenvalue floor rcond and the ridge α, on the digits fixtures at low ranks.
 *
 *   npx tsx bench/whiten-ridge.ts
 */
import { prepare } from '../src/compress/prepare.js';
import { planRun } from '../src/compress/factorize.js';
import { whitenPlan } from '../src/compress/calibrate.js';
import { applyPlan } from '../src/factorize/index.js';
import { predictAll } from '../src/train/tensors.js';
import { tf } from '../src/tf.js';

const cases: Array<[string, number]> = [['digits-cnn', 4], ['digits-mlp', 8], ['digits-mlp', 4]];
const grid: Array<{ rcond: number; ridge: number }> = [];
for (const rcond of [1e-6, 1e-3]) for (const ridge of [0, 1e-3, 1e-2, 1e-1, 1]) grid.push({ rcond, ridge });

console.log(`| case | original | svd | ${grid.map((g) => `rcond ${g.rcond} α ${g.ridge}`).join(' | ')} |`);
console.log(`| --- | --- | --- | ${grid.map(() => '---').join(' | ')} |`);
for (const [fixture, rank] of cases) {
  const run = await prepare({ model: `fixtures/${fixture}/model.json`, rank, data: 'fixtures/digits/train.csv', epochs: 0, out: '/tmp/whiten-ridge-bench', force: true, backend: 'wasm' });
  if (!('original' in run)) throw new Error(`${fixture}: the bench needs a model tfjs can run`);
  const data = run.data!;
  const labels = Array.from(data.validation.y!);
  const accuracy = (model: tf.LayersModel): number => {
    const predicted = tf.tidy(() => predictAll(model, data.validation, run.shapes!).argMax(-1).dataSync());
    return labels.filter((y, i) => y === predicted[i]).length / labels.length;
  };
  const cells: string[] = [];
  for (const options of grid) {
    const plan = await planRun(run);
    await whitenPlan(run, plan, options);
    const f = await applyPlan(run.options.model, run.stored.json.modelTopology, run.original, plan);
    cells.push(accuracy(f.model).toFixed(3));
    f.model.dispose();
  }
  const plain = await applyPlan(run.options.model, run.stored.json.modelTopology, run.original, await planRun(run));
  console.log(`| ${fixture} rank ${rank} | ${accuracy(run.original).toFixed(3)} | ${accuracy(plain.model).toFixed(3)} | ${cells.join(' | ')} |`);
  plain.model.dispose();
  run.original.dispose();
}
