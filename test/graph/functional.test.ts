/**
 * Functional models through the whole path a user's model takes: built with tf.layers, saved with
 * saveModel, loaded with loadModel, planned, factorized, saved again and reloaded with plain tfjs.
 * Each case uses exact-rank kernels (outputs must match the original) or compares against the original
 * with its kernels replaced by their rank-k reconstructions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, tf } from '../../src/tf.js';
import { applyPlan, chosen, liveLayer, planModel, type FactorizedModel, type Plan, type RankSpec } from '../../src/factorize/index.js';
import { readTopology, walkLayers, siteKey, type LayerJson } from '../../src/graph/topology.js';
import { loadModel, readModel, saveModel, type OpenedModel } from '../../src/io/index.js';
import { LowrankError, UnsupportedLayerError } from '../../src/errors.js';
import { featureTensors, modelInput } from '../../src/train/tensors.js';
import {
  makeTempDir,
  maxAbsDiffAll,
  predictArrays,
  randomFloat32,
  rankMatrix,
  removeTempDir,
  saveAndLoad,
  setReconstructedKernels,
  setWeightValues,
  stockLoad,
  useTempDirAndLeakCheck,
} from '../helpers.js';

const tempDir = useTempDirAndLeakCheck();

const sym = (x: tf.SymbolicTensor | tf.SymbolicTensor[] | tf.Tensor | tf.Tensor[]): tf.SymbolicTensor => x as tf.SymbolicTensor;

/** Set a Dense layer's kernel to an exact rank-r product (and a small seeded bias when it has one). */
function exactDense(layer: tf.layers.Layer, r: number, seed: number): void {
  const [kernel, bias] = layer.getWeights();
  assert.ok(kernel !== undefined && kernel.shape.length === 2);
  const [m, n] = kernel.shape as [number, number];
  setWeightValues(layer, bias === undefined ? [rankMatrix(m, n, r, seed)] : [rankMatrix(m, n, r, seed), randomFloat32(n, seed + 2, 0.1)]);
}

interface Checked {
  plan: Plan;
  result: FactorizedModel;
  /** The original as saved and loaded. */
  opened: OpenedModel;
  /** Folder holding the saved factorized model. */
  outDir: string;
}

/**
 * Save `built`, load it, plan with `spec`, factorize, and check: the factorized model's outputs match
 * the reference (the original itself when `exact`, else the original with reconstructed kernels) within
 * 1e-4; saved with saveModel it reloads with plain tfjs (tf.io.fromMemory) and with loadModel to the same
 * outputs. `inspect` runs on the results before everything is disposed.
 */
async function check(
  label: string,
  built: tf.LayersModel,
  spec: RankSpec,
  makeInputs: () => tf.Tensor | tf.Tensor[],
  options: { exact: boolean; expectChosen: string[]; inspect?: (c: Checked) => void | Promise<void> },
): Promise<void> {
  const { file, opened } = await saveAndLoad(built, path.join(tempDir(), label));
  const plan = planModel(file, opened.stored.json.modelTopology, opened.model, spec);
  const inputs = makeInputs();
  let result: FactorizedModel | undefined;
  let reference: OpenedModel | undefined;
  let stock: tf.LayersModel | undefined;
  let reloaded: OpenedModel | undefined;
  try {
    assert.deepEqual(chosen(plan).map((e) => e.name), options.expectChosen);
    result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    let want: Float32Array[];
    if (options.exact) {
      want = predictArrays(built, inputs);
    } else {
      reference = await loadModel(file);
      setReconstructedKernels(reference.model, plan);
      want = predictArrays(reference.model, inputs);
      assert.ok(maxAbsDiffAll(predictArrays(built, inputs), want) > 1e-4, 'the truncation should change the outputs');
    }
    // The loaded original is the built one.
    assert.equal(maxAbsDiffAll(predictArrays(opened.model, inputs), predictArrays(built, inputs)), 0);
    const got = predictArrays(result.model, inputs);
    const diff = maxAbsDiffAll(got, want);
    assert.ok(diff <= 1e-4, `${label}: max |factorized − reference| = ${diff}`);
    assert.equal(result.model.countParams(), plan.entries.reduce((s, e) => s + e.paramsAfter, 0) + nonFactorizableParams(opened.model, plan));

    const outDir = path.join(tempDir(), `${label}-out`);
    await saveModel(result.model, outDir, { originals: opened.stored.weights });
    stock = await stockLoad(outDir);
    const stockDiff = maxAbsDiffAll(predictArrays(stock, inputs), got);
    assert.ok(stockDiff <= 1e-6, `${label}: plain tfjs reload differs by ${stockDiff}`);
    reloaded = await loadModel(path.join(outDir, 'model.json'));
    assert.equal(maxAbsDiffAll(predictArrays(reloaded.model, inputs), got), 0);
    await options.inspect?.({ plan, result, opened, outDir });
  } finally {
    tf.dispose(inputs);
    for (const model of [built, opened.model, result?.model, reference?.model, stock, reloaded?.model]) {
      if (model !== undefined) disposeModel(model);
    }
  }
}

/**
 * model.dispose(), also for shared layers: tfjs counts one reference per call site of a layer, and
 * LayersModel.dispose() drops only one, so a layer called twice would keep its weights alive.
 */
function disposeModel(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) continue; // a nested model counts its own references
    for (let i = 1; i < layer.inboundNodes.length; i++) layer.dispose();
  }
  model.dispose();
}

/** Each input's shape without the batch dimension (all sizes known here). */
const shapesOf = (model: tf.LayersModel): number[][] => model.inputs.map((input) => input.shape.slice(1) as number[]);

/** Params of layers the plan does not cover (not factorizable classes). */
function nonFactorizableParams(model: tf.LayersModel, plan: Plan): number {
  const planned = plan.entries.reduce((s, e) => s + e.paramsBefore, 0);
  return model.countParams() - planned;
}

function topLayer(topology: Record<string, unknown>, name: string): LayerJson {
  const layer = readTopology('model.json', topology).layers.find((l) => l.config.name === name);
  assert.ok(layer !== undefined, `no layer ${name}`);
  return layer;
}

const inboundNames = (layer: LayerJson): string[][] =>
  (layer.inbound_nodes as unknown[][][]).map((node) => node.map((edge) => String(edge[0])));

describe('functional models', () => {
  it('(a) a Dense shared by two call sites: both sites read the factor pair', async () => {
    const x1 = tf.input({ shape: [20], name: 'x1' });
    const x2 = tf.input({ shape: [20], name: 'x2' });
    const shared = tf.layers.dense({ name: 'shared', units: 16, activation: 'relu' });
    const s1 = sym(shared.apply(x1));
    const s2 = sym(shared.apply(x2));
    const joined = sym(tf.layers.add({ name: 'join' }).apply([s1, sym(tf.layers.dense({ name: 'side', units: 16 }).apply(s2))]));
    const out = sym(tf.layers.dense({ name: 'head', units: 3 }).apply(joined));
    const built = tf.model({ inputs: [x1, x2], outputs: out, name: 'towers' });
    exactDense(built.getLayer('shared'), 3, 1);
    await check('shared', built, { kind: 'per-layer', ranks: new Map([['shared', 3]]) }, () => [
      tf.tensor2d(randomFloat32(12 * 20, 2), [12, 20]),
      tf.tensor2d(randomFloat32(12 * 20, 3), [12, 20]),
    ], {
      exact: true,
      expectChosen: ['shared'],
      inspect: ({ result }) => {
        const first = topLayer(result.modelTopology, 'shared_lowrank');
        const second = topLayer(result.modelTopology, 'shared');
        assert.deepEqual(inboundNames(first), [['x1'], ['x2']]);
        assert.deepEqual(second.inbound_nodes, [[['shared_lowrank', 0, 0, {}]], [['shared_lowrank', 1, 0, {}]]]);
        // 'side' reads the second call site of 'shared', as before.
        assert.deepEqual(topLayer(result.modelTopology, 'side').inbound_nodes, [[['shared', 1, 0, {}]]]);
        assert.equal(result.model.getLayer('shared').inboundNodes.length, 2);
      },
    });
  });

  it('(b) two inputs and two outputs, fed from flat rows that hold both inputs in order', async () => {
    const a = tf.input({ shape: [10], name: 'a' });
    const b = tf.input({ shape: [6], name: 'b' });
    const ha = sym(tf.layers.dense({ name: 'enc_a', units: 12, activation: 'tanh' }).apply(a));
    const hb = sym(tf.layers.dense({ name: 'enc_b', units: 12, activation: 'relu' }).apply(b));
    const both = sym(tf.layers.concatenate({ name: 'cat' }).apply([ha, hb]));
    const y1 = sym(tf.layers.dense({ name: 'out_class', units: 4, activation: 'softmax' }).apply(both));
    const y2 = sym(tf.layers.dense({ name: 'out_value', units: 1 }).apply(hb));
    const built = tf.model({ inputs: [a, b], outputs: [y1, y2], name: 'two_heads' });
    // Random (full-rank) kernels: compared with the reconstructed original.
    const count = 9;
    const rows = randomFloat32(count * 16, 5);
    await check('two-in-two-out', built, { kind: 'per-layer', ranks: new Map([['enc_a', 3], ['enc_b', 2], ['out_class', 2]]) }, () => {
      const ds = { file: 'rows', count, featureSize: 16, x: rows, y: undefined, labelSize: 0 };
      return featureTensors(ds, shapesOf(built));
    }, {
      exact: false,
      expectChosen: ['enc_a', 'enc_b', 'out_class'],
      inspect: ({ result }) => {
        assert.equal(result.model.outputs.length, 2);
        assert.deepEqual(result.model.outputNames, ['out_class', 'out_value']);
        assert.deepEqual(result.model.inputNames, ['a', 'b']);
        // Flat rows split as [a's 10 values, b's 6 values]: the same as feeding the two inputs directly.
        const ds = { file: 'rows', count, featureSize: 16, x: rows, y: undefined, labelSize: 0 };
        const split = featureTensors(ds, shapesOf(result.model));
        const direct = [
          tf.tensor2d(Array.from({ length: count }, (_, r) => Array.from(rows.subarray(r * 16, r * 16 + 10)))),
          tf.tensor2d(Array.from({ length: count }, (_, r) => Array.from(rows.subarray(r * 16 + 10, r * 16 + 16)))),
        ];
        try {
          assert.equal(maxAbsDiffAll(predictArrays(result.model, modelInput(split)), predictArrays(result.model, direct)), 0);
        } finally {
          tf.dispose([...split, ...direct]);
        }
      },
    });
  });

  it('(c) a nested Sequential used as a layer: its Dense is planned as outer/inner and factorized inside', async () => {
    const outer = tf.sequential({
      name: 'outer',
      layers: [
        tf.layers.dense({ name: 'inner', units: 14, activation: 'relu', inputShape: [12] }),
        tf.layers.dense({ name: 'tail', units: 8 }),
      ],
    });
    const x = tf.input({ shape: [12], name: 'x' });
    const h = sym(outer.apply(x));
    const out = sym(tf.layers.dense({ name: 'head', units: 3 }).apply(h));
    const built = tf.model({ inputs: x, outputs: out, name: 'wrapper' });
    exactDense(outer.getLayer('inner'), 2, 7);
    await check('nested-sequential', built, { kind: 'per-layer', ranks: new Map([['outer/inner', 2]]) }, () => tf.tensor2d(randomFloat32(10 * 12, 8), [10, 12]), {
      exact: true,
      expectChosen: ['outer/inner'],
      inspect: ({ plan, result, opened, outDir }) => {
        assert.deepEqual(plan.entries.map((e) => e.name), ['outer/inner', 'outer/tail', 'head']);
        const nested = readTopology('model.json', topLayer(result.modelTopology, 'outer'));
        assert.equal(nested.className, 'Sequential');
        assert.deepEqual(nested.layers.map((l) => l.config.name), ['inner_lowrank', 'inner', 'tail']);
        // The outer graph still calls 'outer' on 'x'.
        assert.deepEqual(inboundNames(topLayer(result.modelTopology, 'outer')), [['x']]);
        const live = liveLayer(result.model, ['outer', 'inner_lowrank']);
        assert.deepEqual(live.getWeights()[0]?.shape, [12, 2]);
        assert.deepEqual(liveLayer(result.model, ['outer', 'inner']).getWeights()[0]?.shape, [2, 14]);
        // Untouched nested weights are the original values.
        assert.deepEqual(liveLayer(result.model, ['outer', 'tail']).getWeights().map((w) => w.dataSync()), liveLayer(opened.model, ['outer', 'tail']).getWeights().map((w) => w.dataSync()));
        assert.ok(outDir.length > 0);
      },
    });
  });

  it('(c′) a nested functional model used as a layer', async () => {
    const ix = tf.input({ shape: [9], name: 'ix' });
    const i1 = sym(tf.layers.dense({ name: 'i1', units: 11, activation: 'relu' }).apply(ix));
    const i2 = sym(tf.layers.dense({ name: 'i2', units: 9 }).apply(i1));
    const res = sym(tf.layers.add({ name: 'iadd' }).apply([ix, i2]));
    const block = tf.model({ inputs: ix, outputs: res, name: 'block' });
    const x = tf.input({ shape: [9], name: 'x' });
    const out = sym(tf.layers.dense({ name: 'head', units: 2 }).apply(sym(block.apply(x))));
    const built = tf.model({ inputs: x, outputs: out, name: 'wrapper2' });
    exactDense(block.getLayer('i1'), 2, 70);
    exactDense(block.getLayer('i2'), 3, 73);
    await check('nested-functional', built, { kind: 'per-layer', ranks: new Map([['block/i1', 2], ['block/i2', 3]]) }, () => tf.tensor2d(randomFloat32(6 * 9, 74), [6, 9]), {
      exact: true,
      expectChosen: ['block/i1', 'block/i2'],
      inspect: ({ result }) => {
        const nested = readTopology('model.json', topLayer(result.modelTopology, 'block'));
        assert.deepEqual(nested.layers.map((l) => l.config.name), ['ix', 'i1_lowrank', 'i1', 'i2_lowrank', 'i2', 'iadd']);
      },
    });
  });

  describe('(d) merge layers around factorized Dense layers', () => {
    const merges: Array<[string, () => tf.layers.Layer]> = [
      ['Add', () => tf.layers.add({ name: 'merge' })],
      ['Concatenate', () => tf.layers.concatenate({ name: 'merge' })],
      ['Multiply', () => tf.layers.multiply({ name: 'merge' })],
      ['Average', () => tf.layers.average({ name: 'merge' })],
      ['Maximum', () => tf.layers.maximum({ name: 'merge' })],
      ['Minimum', () => tf.layers.minimum({ name: 'merge' })],
      ['Dot', () => tf.layers.dot({ name: 'merge', axes: 1 })],
    ];
    // tfjs has no Subtract layer.
    for (const [className, make] of merges) {
      it(`${className}`, async () => {
        const x = tf.input({ shape: [15], name: 'x' });
        const left = sym(tf.layers.dense({ name: 'left', units: 12, activation: 'relu' }).apply(x));
        const right = sym(tf.layers.dense({ name: 'right', units: 12, activation: 'tanh' }).apply(x));
        const merged = sym(make().apply([left, right]));
        const out = sym(tf.layers.dense({ name: 'after', units: 10 }).apply(merged));
        const built = tf.model({ inputs: x, outputs: out, name: `merge_${className.toLowerCase()}` });
        assert.equal(built.getLayer('merge').getClassName(), className);
        exactDense(built.getLayer('left'), 2, 20);
        exactDense(built.getLayer('right'), 3, 23);
        const ranks = new Map([['left', 2], ['right', 3]]);
        // 'after' reads the merge: factorize it too where it can shrink (12×10 or 24×10, not 1×10).
        if (className !== 'Dot') {
          exactDense(built.getLayer('after'), 2, 26);
          ranks.set('after', 2);
        }
        await check(`merge-${className}`, built, { kind: 'per-layer', ranks }, () => tf.tensor2d(randomFloat32(8 * 15, 27), [8, 15]), {
          exact: true,
          expectChosen: [...ranks.keys()],
          inspect: ({ result }) => {
            assert.deepEqual(inboundNames(topLayer(result.modelTopology, 'merge')), [['left', 'right']]);
            assert.equal(result.model.getLayer('merge').getClassName(), className);
          },
        });
      });
    }
  });

  it('(e) untouched BatchNormalization, DepthwiseConv2D, Dropout and LSTM pass through bit for bit', async () => {
    const img = tf.input({ shape: [6, 6, 3], name: 'img' });
    const dw = sym(tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(img));
    const bn = sym(tf.layers.batchNormalization({ name: 'bn' }).apply(dw));
    const flat = sym(tf.layers.flatten({ name: 'flat' }).apply(bn));
    const drop = sym(tf.layers.dropout({ name: 'drop', rate: 0.5 }).apply(flat));
    const proj = sym(tf.layers.dense({ name: 'proj', units: 20, activation: 'relu' }).apply(drop));
    const seq = sym(tf.layers.reshape({ name: 'seq', targetShape: [5, 4] }).apply(proj));
    const rnn = sym(tf.layers.lstm({ name: 'rnn', units: 3 }).apply(seq));
    const out = sym(tf.layers.dense({ name: 'out', units: 2 }).apply(rnn));
    const built = tf.model({ inputs: img, outputs: out, name: 'mixed' });
    // Non-trivial values everywhere, the moving variance positive.
    for (const layer of built.layers) {
      const values = layer.getWeights().map((w, i) => randomFloat32(w.size, layer.name.length * 31 + i, 0.3));
      if (layer.name === 'bn') values[3] = Float32Array.from(values[3] as Float32Array, (v) => 0.5 + Math.abs(v));
      if (values.length > 0) setWeightValues(layer, values);
    }
    const untouched = ['dw', 'bn', 'rnn', 'out'];
    await check('untouched', built, { kind: 'per-layer', ranks: new Map([['proj', 5]]) }, () => tf.tensor4d(randomFloat32(4 * 108, 9), [4, 6, 6, 3]), {
      exact: false,
      expectChosen: ['proj'],
      inspect: async ({ result, opened, outDir }) => {
        for (const name of untouched) {
          const got = result.model.getLayer(name).getWeights().map((w) => w.dataSync());
          const want = opened.model.getLayer(name).getWeights().map((w) => w.dataSync());
          assert.ok(want.length > 0);
          assert.deepEqual(got, want, `${name} weights changed`);
        }
        assert.deepEqual(topLayer(result.modelTopology, 'drop'), topLayer(opened.stored.json.modelTopology, 'drop'));
        // In the saved files too: the stored bytes of every untouched weight are the original's.
        const saved = await readModel(path.join(outDir, 'model.json'));
        const before = new Map(opened.stored.weights.map((w) => [w.entry.name, w]));
        const names = saved.weights.map((w) => w.entry.name).filter((n) => untouched.some((u) => n.startsWith(`${u}/`)));
        assert.equal(names.length, 2 + 4 + 3 + 2); // dw kernel+bias, bn γ β mean var, lstm kernel recurrent bias, dense
        for (const name of names) {
          const w = saved.weights.find((x) => x.entry.name === name);
          assert.ok(w !== undefined);
          assert.deepEqual(w.bytes, before.get(name)?.bytes, `${name} bytes changed`);
          assert.deepEqual(w.entry, before.get(name)?.entry);
        }
      },
    });
  });

  it('(f) Dense on 3-D inputs [batch, time, features]', async () => {
    const x = tf.input({ shape: [5, 12], name: 'frames' });
    const proj = sym(tf.layers.dense({ name: 'proj', units: 10, activation: 'relu' }).apply(x));
    const mix = sym(tf.layers.dense({ name: 'mix', units: 9 }).apply(proj));
    const pooled = sym(tf.layers.globalAveragePooling1d({ name: 'pool' }).apply(mix));
    const out = sym(tf.layers.dense({ name: 'head', units: 2 }).apply(pooled));
    const built = tf.model({ inputs: x, outputs: out, name: 'frames_net' });
    exactDense(built.getLayer('proj'), 2, 40);
    exactDense(built.getLayer('mix'), 3, 43);
    await check('dense-3d', built, { kind: 'fixed', rank: 3 }, () => tf.tensor3d(randomFloat32(6 * 5 * 12, 44), [6, 5, 12]), {
      exact: true,
      // 'proj' is rank 2 but rank 3 is exact too; 'head' 9×2 cannot shrink.
      expectChosen: ['proj', 'mix'],
      inspect: ({ result }) => {
        assert.deepEqual(result.model.getLayer('proj_lowrank').outputShape, [null, 5, 3]);
        assert.deepEqual(result.model.getLayer('proj').outputShape, [null, 5, 10]);
      },
    });
  });
});

describe('topology variants', () => {
  /** A small functional model saved with lowrank, its model.json returned for editing. */
  async function savedFunctional(label: string): Promise<{ dir: string; json: Record<string, unknown>; built: tf.LayersModel }> {
    const x = tf.input({ shape: [10], name: 'x' });
    const h = sym(tf.layers.dense({ name: 'hidden', units: 12, activation: 'relu' }).apply(x));
    const out = sym(tf.layers.dense({ name: 'head', units: 3 }).apply(h));
    const built = tf.model({ inputs: x, outputs: out, name: 'small' });
    exactDense(built.getLayer('hidden'), 2, 90);
    const dir = path.join(tempDir(), label);
    await saveModel(built, dir);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    return { dir, json, built };
  }

  async function writeJson(dir: string, json: unknown): Promise<string> {
    const file = path.join(dir, 'model.json');
    await writeFile(file, JSON.stringify(json));
    return file;
  }

  it('a layer class tfjs does not know is refused with UnsupportedLayerError naming it', async () => {
    const { dir, json, built } = await savedFunctional('custom');
    built.dispose();
    const topology = json['modelTopology'] as { config: { layers: Array<{ class_name: string; config: { name: string } }> } };
    const layer = topology.config.layers.find((l) => l.config.name === 'hidden');
    assert.ok(layer !== undefined);
    layer.class_name = 'MyCustomLayer';
    const file = await writeJson(dir, json);
    await assert.rejects(loadModel(file), (err: unknown) => {
      assert.ok(err instanceof UnsupportedLayerError, `got ${String(err)}`);
      assert.ok(err instanceof LowrankError);
      assert.equal(err.code, 'UNSUPPORTED_LAYER');
      assert.match(err.message, /MyCustomLayer/);
      assert.equal(err.file, file);
      return true;
    });
  });

  it('a custom layer class inside a nested Sequential is refused the same way', async () => {
    const outer = tf.sequential({ name: 'outer', layers: [tf.layers.dense({ name: 'inner', units: 4, inputShape: [6] })] });
    const x = tf.input({ shape: [6], name: 'x' });
    const built = tf.model({ inputs: x, outputs: sym(outer.apply(x)) });
    const dir = path.join(tempDir(), 'custom-nested');
    await saveModel(built, dir);
    built.dispose();
    type Raw = { class_name: string; config: { name: string; layers?: Raw[] } };
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: Raw[] } } };
    const nested = json.modelTopology.config.layers.find((l) => l.config.name === 'outer');
    const inner = nested?.config.layers?.[0];
    assert.ok(inner !== undefined && inner.config.name === 'inner');
    inner.class_name = 'MyCustomLayer';
    const file = await writeJson(dir, json);
    await assert.rejects(loadModel(file), (err: unknown) => err instanceof UnsupportedLayerError && /MyCustomLayer/.test(err.message));
  });

  async function factorizeAndCheck(file: string, built: tf.LayersModel, wrapperCheck: (topology: Record<string, unknown>) => void): Promise<void> {
    const opened = await loadModel(file);
    const plan = planModel(file, opened.stored.json.modelTopology, opened.model, { kind: 'per-layer', ranks: new Map([['hidden', 2]]) });
    const result = await applyPlan(file, opened.stored.json.modelTopology, opened.model, plan);
    const x = tf.tensor2d(randomFloat32(5 * 10, 91), [5, 10]);
    try {
      assert.deepEqual(chosen(plan).map((e) => e.name), ['hidden']);
      wrapperCheck(result.modelTopology);
      assert.deepEqual(walkLayers(file, readTopology(file, result.modelTopology)).map((s) => siteKey(s.path)), ['x', 'hidden_lowrank', 'hidden', 'head']);
      const diff = maxAbsDiffAll(predictArrays(result.model, x), predictArrays(built, x));
      assert.ok(diff <= 1e-4, `max diff ${diff}`);
      assert.equal(maxAbsDiffAll(predictArrays(opened.model, x), predictArrays(built, x)), 0);
    } finally {
      x.dispose();
      built.dispose();
      opened.model.dispose();
      result.model.dispose();
    }
  }

  it('class_name "Functional" (Keras ≥ 2.4) loads and factorizes', async () => {
    const { dir, json, built } = await savedFunctional('functional-class');
    const topology = json['modelTopology'] as Record<string, unknown>;
    assert.equal(topology['class_name'], 'Model');
    topology['class_name'] = 'Functional';
    const file = await writeJson(dir, json);
    await factorizeAndCheck(file, built, (t) => assert.equal(t['class_name'], 'Functional'));
  });

  it('a topology wrapped in model_config (with keras_version and backend) loads and factorizes', async () => {
    const { dir, json, built } = await savedFunctional('model-config');
    json['modelTopology'] = { keras_version: '2.13.1', backend: 'tensorflow', model_config: { ...(json['modelTopology'] as object), class_name: 'Functional' } };
    const file = await writeJson(dir, json);
    await factorizeAndCheck(file, built, (t) => {
      assert.equal(t['keras_version'], '2.13.1');
      const inner = t['model_config'] as Record<string, unknown>;
      assert.equal(inner['class_name'], 'Functional');
    });
  });
});
