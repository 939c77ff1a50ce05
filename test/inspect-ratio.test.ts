/**
 * `inspect --ratio`: a preview of the ranks `compress --ratio` allocates without data, the same plan
 * a dry run makes, within its budget.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Chalk } from 'chalk';
import { compress } from '../src/compress/index.js';
import { inspect } from '../src/inspect.js';
import { renderInspect } from '../src/report/render-inspect.js';
import { UsageError } from '../src/errors.js';
import { initBackend } from '../src/tf.js';
import { FIXTURES } from './helpers.js';

before(async () => {
  await initBackend('cpu');
});

describe('inspect --ratio', () => {
  for (const [fixture, ratio] of [['digits-cnn', 0.15], ['text-embedding', 0.3]] as const) {
    it(`${fixture}: the dry run's ranks at --ratio ${ratio}, within the budget`, async () => {
      const model = path.join(FIXTURES, fixture, 'model.json');
      const report = await inspect(model, { ratio, backend: 'cpu' });
      const a = report.allocation;
      assert.ok(a !== undefined);
      const { plan } = await compress({ model, ratio, dryRun: true, backend: 'cpu' });
      assert.deepEqual(a.layers.map((l) => [l.name, l.rank]), plan.entries.map((e) => [e.name, e.rank]));
      assert.equal(a.paramsAfter, a.layers.reduce((s, l) => s + l.paramsAfter, 0));
      assert.ok(a.paramsAfter <= a.budget && a.budget <= ratio * a.paramsBefore);
      const text = renderInspect(report, new Chalk({ level: 0 }));
      assert.match(text, new RegExp(`parameters ${((100 * a.paramsAfter) / a.paramsBefore).toFixed(1)}% of the original's, budget ${ratio * 100}%`));
      for (const line of text.split('\n')) assert.ok([...line].length <= 80, line);
      assert.equal((await inspect(model, { backend: 'cpu' })).allocation, undefined);
    });
  }

  it('refuses a bad ratio', async () => {
    const model = path.join(FIXTURES, 'digits-mlp', 'model.json');
    await assert.rejects(inspect(model, { ratio: 0, backend: 'cpu' }), (e: unknown) => e instanceof UsageError && /--ratio must be in \(0, 1\]/.test(e.message));
    await assert.rejects(inspect(model, { ratio: 0.001, backend: 'cpu' }), (e: unknown) => e instanceof UsageError && /smallest reachable ratio/.test(e.message));
  });
});
