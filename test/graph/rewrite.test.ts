import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { loadModel, saveModel } from '../../src/io/index.js';
import { applyPlan, chosen, planModel } from '../../src/factorize/index.js';
import { freshName, spliceFactorPairs, type FactorPair } from '../../src/graph/rewrite.js';
import { readTopology, type LayerJson } from '../../src/graph/topology.js';
import { makeTempDir, matmul, maxAbsDiff, randomFloat32, removeTempDir } from '../helpers.js';

let tmp: string;

before(async () => {
  await initBackend('wasm');
  tmp = await makeTempDir();
});

after(async () => {
  await removeTempDir(tmp);
});

const layer = (name: string, inbound?: unknown[]): LayerJson => ({
  class_name: 'Dense',
  config: { name },
  name,
  ...(inbound ? { inbound_nodes: inbound } : {}),
});

describe('freshName', () => {
  it('returns the base when free, else base_2, base_3, ... and records it as taken', () => {
    const taken = new Set(['a', 'a_lowrank', 'a_lowrank_2']);
    assert.equal(freshName('b_lowrank', taken), 'b_lowrank');
    assert.equal(freshName('a_lowrank', taken), 'a_lowrank_3');
    assert.equal(freshName('a_lowrank', taken), 'a_lowrank_4');
    assert.ok(taken.has('b_lowrank') && taken.has('a_lowrank_3') && taken.has('a_lowrank_4'));
  });
});

describe('spliceFactorPairs', () => {
  const pair: FactorPair = { first: { class_name: 'Dense', config: { name: 'b_lowrank' } }, second: { class_name: 'Dense', config: { name: 'b' } } };

  it('Sequential: the pair replaces the layer in place', () => {
    const out = spliceFactorPairs([layer('a'), layer('b'), layer('c')], new Map([['b', pair]]), true);
    assert.deepEqual(out.map((l) => l.config.name), ['a', 'b_lowrank', 'b', 'c']);
  });

  it('functional: the first factor takes the inputs, call site i of the second reads call site i of the first', () => {
    const nodes = [[['a', 0, 0, {}]], [['a', 1, 0, {}]]];
    const out = spliceFactorPairs([layer('a'), layer('b', nodes), layer('c', [[['b', 1, 0, {}]]])], new Map([['b', pair]]), false);
    assert.deepEqual(out.map((l) => l.config.name), ['a', 'b_lowrank', 'b', 'c']);
    assert.equal(out[1]?.name, 'b_lowrank');
    assert.deepEqual(out[1]?.inbound_nodes, nodes);
    assert.deepEqual(out[2]?.inbound_nodes, [[['b_lowrank', 0, 0, {}]], [['b_lowrank', 1, 0, {}]]]);
    // Later references to the original name are untouched and still resolve.
    assert.deepEqual(out[3]?.inbound_nodes, [[['b', 1, 0, {}]]]);
  });
});

describe('applyPlan on a functional model with a shared layer', () => {
  it('reproduces a rank-4 model exactly and keeps both call sites', async () => {
    // Two inputs through the same Dense 'shared' (kernel of rank 4), concatenated, then a head.
    const x1 = tf.input({ shape: [20], name: 'x1' });
    const x2 = tf.input({ shape: [20], name: 'x2' });
    const shared = tf.layers.dense({ name: 'shared', units: 16, activation: 'relu' });
    const joined = tf.layers.concatenate({ name: 'join' }).apply([shared.apply(x1) as tf.SymbolicTensor, shared.apply(x2) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'head', units: 3 }).apply(joined) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [x1, x2], outputs: out, name: 'two_towers' });
    const kernel = tf.tensor2d(Float32Array.from(matmul(randomFloat32(80, 1), randomFloat32(64, 2), 20, 4, 16)), [20, 16]);
    const bias = tf.tensor1d(randomFloat32(16, 3, 0.1));
    model.getLayer('shared').setWeights([kernel, bias]);
    tf.dispose([kernel, bias]);

    const dir = path.join(tmp, 'functional');
    await saveModel(model, dir);
    const file = path.join(dir, 'model.json');
    const opened = await loadModel(file);
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['shared', 4]]) });
    assert.deepEqual(chosen(plan).map((e) => e.name), ['shared']);
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    try {
      const layers = readTopology(file, result.modelTopology).layers;
      const first = layers.find((l) => l.config.name === 'shared_lowrank');
      const second = layers.find((l) => l.config.name === 'shared');
      assert.ok(first && second);
      assert.equal(first.inbound_nodes?.length, 2);
      assert.equal(second.inbound_nodes?.length, 2);
      const inputs = [tf.tensor2d(randomFloat32(30 * 20, 4), [30, 20]), tf.tensor2d(randomFloat32(30 * 20, 5), [30, 20])];
      const want = (model.predict(inputs) as tf.Tensor).dataSync();
      const got = (result.model.predict(inputs) as tf.Tensor).dataSync();
      tf.dispose(inputs);
      assert.ok(maxAbsDiff(got, want) <= 1e-4, `max diff ${maxAbsDiff(got, want)}`);
      assert.equal(result.model.countParams(), model.countParams() - 20 * 16 + 4 * 36);
    } finally {
      model.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  });
});
