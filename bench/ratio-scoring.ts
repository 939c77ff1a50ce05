/**
 * How --ratio scores components across layers: accuracy before fine-tuning of the allocation under
 * each score, on a held-out 20% split of the TRAINING file (fixtures/digits/train.csv; the test file is
 * not looked at), for plain and whitened spectra, over several ratios (factorize/allocate.ts):
 * `relative` divides σ² by the layer's total energy, `absolute` takes σ² as it is, `balanced` minimizes
 * the sum of squared relative tails (favouring layers with large errors).
 *
 *   npx tsx bench/ratio-scoring.ts [fixture ...]
 */
import { prepare } from '../src/compress/prepare.js';
import { planRun } from '../src/compress/factorize.js';
import { whitenPlan } from '../src/compress/calibrate.js';
import { applyPlan, chosen, type AllocationScore } from '../src/factorize/index.js';
import { predictAll } from '../src/train/tensors.js';
import { tf } from '../src/tf.js';

const fixtures = process.argv.length > 2 ? process.argv.slice(2) : ['digits-mlp', 'digits-cnn'];
const ratios = [0.05, 0.1, 0.2, 0.3];
const scores: AllocationScore[] = ['relative', 'absolute', 'balanced'];
const sums = new Map<string, { sum: number; count: number; wins: number }>();

console.log('| fixture | method | ratio | original | score: ranks (params/budget) → accuracy |');
console.log('| --- | --- | --- | --- | --- |');
for (const fixture of fixtures) {
  for (const method of ['svd', 'whiten'] as const) {
    for (const fraction of ratios) {
      const cells: string[] = [];
      const accuracies: number[] = [];
      let original = 0;
      for (const score of scores) {
        const run = await prepare({ model: `fixtures/${fixture}/model.json`, rank: { kind: 'ratio', fraction, score }, method, data: 'fixtures/digits/train.csv', epochs: 0, out: '/tmp/ratio-scoring-bench', force: true, backend: 'wasm' });
        if (!('original' in run)) throw new Error(`${fixture}: the bench needs a model tfjs can run`);
        const data = run.data!;
        const labels = Array.from(data.validation.y!);
        const accuracy = (model: tf.LayersModel): number => {
          const predicted = tf.tidy(() => predictAll(model, data.validation, run.shapes!).argMax(-1).dataSync());
          return labels.filter((y, i) => y === predicted[i]).length / labels.length;
        };
        original = accuracy(run.original);
        const plan = await planRun(run);
        if (method === 'whiten') await whitenPlan(run, plan);
        const f = await applyPlan(run.options.model, run.stored.json.modelTopology, run.original, plan);
        const a = accuracy(f.model);
        accuracies.push(a);
        cells.push(`${score}: ${plan.entries.map((e) => e.rank ?? '·').join('/')} (${plan.budget?.paramsAfter}/${plan.budget?.budget}) → ${a.toFixed(3)}`);
        if (chosen(plan).some((e) => e.paramsAfter > e.paramsBefore)) throw new Error('a layer grew');
        f.model.dispose();
        run.original.dispose();
      }
      const best = Math.max(...accuracies);
      scores.forEach((score, i) => {
        const key = `${method} ${score}`;
        const t = sums.get(key) ?? { sum: 0, count: 0, wins: 0 };
        t.sum += accuracies[i] as number;
        t.count++;
        if (accuracies[i] === best) t.wins++;
        sums.set(key, t);
      });
      console.log(`| ${fixture} | ${method} | ${fraction} | ${original.toFixed(3)} | ${cells.join(' · ')} |`);
    }
  }
}
console.log();
for (const [key, t] of sums) console.log(`${key}: mean accuracy ${(t.sum / t.count).toFixed(3)}, best (ties included) in ${t.wins} of ${t.count}`);
