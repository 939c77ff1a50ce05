/**
 * `inspect()` and `lowrank inspect`: layer list, params and stored bytes, and per factorizable layer the
 * ranks for 90/95/99% of its spectrum's energy with the params at each rank, checked against numbers
 * worked out by hand from spectra the test constructs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, tf } from '../src/tf.js';
import { inspect, type InspectReport, type InspectedLayer } from '../src/inspect.js';
import { saveModel, loadModel } from '../src/io/index.js';
import { DIGITS_MLP, DIGITS_MLP_QUANTIZED, runCli, type CliResult, makeTempDir, matmul, removeTempDir, setWeightValues, spectrumMatrix, transpose } from './helpers.js';



// Started at once so the CLI processes run while the in-process tests do: the file stays quick.
const cliRuns = Promise.all([
  runCli('inspect', 'fixtures/digits-mlp/model.json'),
  runCli('inspect', 'fixtures/digits-mlp/model.json', '--json'),
]);

let tmp: string;
let handModel: string;

before(async () => {
  await initBackend('wasm');
  tmp = await makeTempDir();
  handModel = await saveHandModel(path.join(tmp, 'hand'));
});

after(async () => {
  await removeTempDir(tmp);
});

/**
 * Dense 'a' 6→4 (relu) → Dropout → Dense 'b' 4→8 → BatchNormalization, with
 *   a: W = U·diag(4, 2, 1, 1)·Vᵀ   b: W = U·diag(3, 0.3, 0.3, 0.1)·Vᵀ  (signed permutations U, V).
 */
async function saveHandModel(dir: string): Promise<string> {
  const model = tf.sequential({
    name: 'hand',
    layers: [
      tf.layers.dense({ name: 'a', units: 4, activation: 'relu', inputShape: [6] }),
      tf.layers.dropout({ name: 'drop', rate: 0.25 }),
      tf.layers.dense({ name: 'b', units: 8 }),
      tf.layers.batchNormalization({ name: 'bn' }),
    ],
  });
  setWeightValues(model.getLayer('a'), [spectrumMatrix(6, 4, [4, 2, 1, 1], 1), new Float32Array(4).fill(0.1)]);
  setWeightValues(model.getLayer('b'), [spectrumMatrix(4, 8, [3, 0.3, 0.3, 0.1], 2), new Float32Array(8).fill(-0.1)]);
  await saveModel(model, dir);
  model.dispose();
  return path.join(dir, 'model.json');
}

/** The rank table of a layer, without its spectrum (checked on its own). */
function ranksOf(f: InspectedLayer['factorization']): Omit<NonNullable<InspectedLayer['factorization']>, 'singularValues' | 'singularValuesComplete' | 'svd'> | undefined {
  if (f === undefined) return undefined;
  const { singularValues: _s, singularValuesComplete: _c, svd: _m, ...ranks } = f;
  return ranks;
}

function layer(r: InspectReport, name: string): InspectedLayer {
  const l = r.layers.find((x) => x.name === name);
  assert.ok(l !== undefined, `no layer ${name} in the report`);
  return l;
}

describe('inspect() on a hand-built model', () => {
  let report: InspectReport;
  let tensorsBefore: number;

  before(async () => {
    tensorsBefore = tf.memory().numTensors;
    report = await inspect(handModel, { backend: 'wasm' });
  });

  it('leaves no tensors behind', () => {
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });

  it('lists every layer with class, output shape, params and float32 bytes (4 per param)', () => {
    assert.equal(report.path, path.resolve(handModel));
    assert.equal(report.backend, 'wasm');
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.className, l.outputShape, l.params, l.bytes]),
      [
        ['a', 'Dense', [null, 4], 6 * 4 + 4, 28 * 4],
        ['drop', 'Dropout', [null, 4], 0, 0],
        ['b', 'Dense', [null, 8], 4 * 8 + 8, 40 * 4],
        ['bn', 'BatchNormalization', [null, 8], 4 * 8, 32 * 4], // γ, β, moving mean, moving variance
      ],
    );
    assert.equal(report.params, 28 + 40 + 32);
    assert.equal(report.weightBytes, 100 * 4);
    assert.equal(layer(report, 'drop').factorization, undefined);
    assert.equal(layer(report, 'bn').factorization, undefined);
  });

  it("Dense 'a' (6×4, σ = 4, 2, 1, 1): ranks 2 / 3 / 4, params 24 / — / —", () => {
    // σ² = 16, 4, 1, 1; Σ = 22. Shares: k=1 16/22 = 0.727, k=2 20/22 = 0.909, k=3 21/22 = 0.955, k=4 1.
    // 90% → 2, 95% → 3, 99% → 4. Largest useful rank floor((6·4 − 1)/(6 + 4)) = floor(2.3) = 2.
    // Params at rank 2: 28 − 24 + 2·(6 + 4) = 24; ranks 3 and 4 save nothing → null.
    assert.deepEqual(ranksOf(layer(report, 'a').factorization), {
      m: 6,
      n: 4,
      maxUsefulRank: 2,
      options: [
        { energy: 0.9, rank: 2, paramsAfter: 24 },
        { energy: 0.95, rank: 3, paramsAfter: null },
        { energy: 0.99, rank: 4, paramsAfter: null },
      ],
    });
  });

  it("Dense 'b' (4×8, σ = 3, 0.3, 0.3, 0.1): ranks 1 / 1 / 3, params 20 / 20 / —", () => {
    // σ² = 9, 0.09, 0.09, 0.01; Σ = 9.19. Shares: k=1 0.9793, k=2 0.9891, k=3 0.9989, k=4 1.
    // 90% → 1, 95% → 1, 99% → 3. Largest useful rank floor((32 − 1)/12) = 2.
    // Params at rank 1: 40 − 32 + 1·(4 + 8) = 20; rank 3 > 2 → null.
    assert.deepEqual(ranksOf(layer(report, 'b').factorization), {
      m: 4,
      n: 8,
      maxUsefulRank: 2,
      options: [
        { energy: 0.9, rank: 1, paramsAfter: 20 },
        { energy: 0.95, rank: 1, paramsAfter: 20 },
        { energy: 0.99, rank: 3, paramsAfter: null },
      ],
    });
  });

  it('gives each layer its whole spectrum, computed by a complete method', () => {
    for (const [name, want] of [['a', [4, 2, 1, 1]], ['b', [3, 0.3, 0.3, 0.1]]] as const) {
      const f = layer(report, name).factorization;
      assert.ok(f !== undefined);
      assert.equal(f.singularValuesComplete, true);
      assert.notEqual(f.svd, 'randomized');
      assert.equal(f.singularValues.length, want.length);
      f.singularValues.forEach((v, i) => assert.ok(Math.abs(v - (want[i] as number)) < 1e-5, `${name} σ${i + 1} = ${v}`));
    }
  });

  it('totals: the model params with every layer that helps at each share factorized', () => {
    // 90%: 100 − (28 − 24) − (40 − 20) = 76; 95%: 100 − 20 = 80; 99%: nothing helps → 100.
    assert.deepEqual(report.totals, [
      { energy: 0.9, params: 76 },
      { energy: 0.95, params: 80 },
      { energy: 0.99, params: 100 },
    ]);
  });

  it('is plain JSON data', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  it("layers: 'b' restricts the rank table (and the totals) to b", async () => {
    const only = await inspect(handModel, { backend: 'wasm', layers: 'b' });
    // Every layer is still listed...
    assert.deepEqual(only.layers.map((l) => l.name), ['a', 'drop', 'b', 'bn']);
    // ...but only the selected one gets a rank row, and only it counts in the totals.
    assert.equal(layer(only, 'a').factorization, undefined, "layer 'a' was not selected but has a rank row");
    assert.deepEqual(layer(only, 'b').factorization, layer(report, 'b').factorization);
    assert.deepEqual(only.totals.map((t) => t.params), [80, 80, 100]);
  });
});

/** Eigenvalues of a symmetric n×n matrix (row-major, float64) by cyclic Jacobi rotations. */
function symmetricEigenvalues(a: Float64Array, n: number): number[] {
  const m = Float64Array.from(a);
  const at = (i: number, j: number): number => m[i * n + j] as number;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += at(i, j) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = at(p, q);
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (at(q, q) - at(p, p)) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = at(k, p);
          const akq = at(k, q);
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = at(p, k);
          const aqk = at(q, k);
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return [...Array(n).keys()].map((i) => at(i, i)).sort((x, y) => y - x);
}

/** inspect() of the digits fixture, shared by the tests below and the CLI comparison. */
let digitsReport: Promise<InspectReport>;

describe('inspect() on the digits fixtures', () => {
  let report: InspectReport;
  before(async () => {
    digitsReport = inspect(DIGITS_MLP, { backend: 'wasm' });
    report = await digitsReport;
  });

  it("dense_3's row: 128×10, 1,290 params, 5,160 bytes, max useful rank 9, energy ranks from its own spectrum", async () => {
    const d3 = layer(report, 'dense_3');
    assert.equal(d3.className, 'Dense');
    assert.deepEqual(d3.outputShape, [null, 10]);
    assert.equal(d3.params, 128 * 10 + 10);
    assert.equal(d3.bytes, 1290 * 4);
    const f = d3.factorization;
    assert.ok(f !== undefined);
    assert.equal(f.m, 128);
    assert.equal(f.n, 10);
    assert.equal(f.maxUsefulRank, 9); // 9·138 = 1242 < 1280 ≤ 10·138

    // The spectrum, independently of the SVD code: σ² are the eigenvalues of WᵀW (10×10).
    const opened = await loadModel(DIGITS_MLP);
    const kernel = opened.model.getLayer('dense_3').getWeights()[0]?.dataSync();
    opened.model.dispose();
    assert.ok(kernel !== undefined);
    const gram = matmul(transpose(kernel, 128, 10), kernel, 10, 128, 10);
    const energies = symmetricEigenvalues(gram, 10).map((e) => Math.max(0, e));
    const total = energies.reduce((a, b) => a + b, 0);
    for (const option of f.options) {
      let kept = 0;
      let k = 0;
      while (kept / total < option.energy && k < 10) kept += energies[k++] as number;
      // Not on a knife edge, so float rounding cannot flip the rank.
      assert.ok(Math.abs(kept / total - option.energy) > 1e-6);
      assert.equal(option.rank, k, `rank for ${option.energy}`);
      assert.equal(option.paramsAfter, k <= 9 ? 10 + k * 138 : null);
    }
  });

  it('every layer and the model total add up', () => {
    assert.deepEqual(report.layers.map((l) => l.name), ['dense_1', 'dense_2', 'dense_3']);
    assert.equal(report.params, 16640 + 32896 + 1290);
    assert.equal(report.params, report.layers.reduce((s, l) => s + l.params, 0));
    assert.equal(report.weightBytes, report.params * 4);
    for (const [i, t] of report.totals.entries()) {
      const saved = report.layers.reduce((s, l) => {
        const after = l.factorization?.options[i]?.paramsAfter;
        return s + (after === null || after === undefined ? 0 : l.params - after);
      }, 0);
      assert.equal(t.params, report.params - saved);
    }
  });

  it('counts bytes as stored for the quantized fixture (uint8 kernels, float16 biases)', async () => {
    const q = await inspect(DIGITS_MLP_QUANTIZED, { backend: 'wasm' });
    assert.deepEqual(q.layers.map((l) => l.bytes), [64 * 256 + 256 * 2, 256 * 128 + 128 * 2, 128 * 10 + 10 * 2]);
    assert.deepEqual(q.layers.map((l) => l.params), report.layers.map((l) => l.params));
    const shard = await stat(path.join(path.dirname(DIGITS_MLP_QUANTIZED), 'group1-shard1of1.bin'));
    assert.equal(q.weightBytes, shard.size);
  });
});

describe('inspect() on a model with a nested Sequential', () => {
  it('names nested layers outer/inner and counts their params and bytes', async () => {
    const outer = tf.sequential({ name: 'outer', layers: [tf.layers.dense({ name: 'inner', units: 16, inputShape: [12] })] });
    const x = tf.input({ shape: [12], name: 'x' });
    const out = tf.layers.dense({ name: 'head', units: 3 }).apply(outer.apply(x) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out });
    const dir = path.join(tmp, 'nested');
    await saveModel(model, dir);
    model.dispose();
    const r = await inspect(path.join(dir, 'model.json'), { backend: 'wasm' });
    assert.deepEqual(r.layers.map((l) => [l.name, l.params, l.bytes]), [
      ['x', 0, 0],
      ['outer/inner', 12 * 16 + 16, (12 * 16 + 16) * 4],
      ['head', 16 * 3 + 3, (16 * 3 + 3) * 4],
    ]);
    assert.equal(layer(r, 'outer/inner').factorization?.maxUsefulRank, 6); // floor(191 / 28)
  });
});

describe('inspect() on Conv2D and Embedding layers', () => {
  it('sees a Conv2D kernel as (kh·kw·cin)×cout and an Embedding table as vocab×d', async () => {
    // Both with σ = 4, 2, 1, 1: ranks 2 / 3 / 4 for 90 / 95 / 99% (shares 0.909, 0.955, 1).
    const img = tf.input({ shape: [5, 5, 3], name: 'img' });
    const ids = tf.input({ shape: [7], name: 'ids' });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 8, kernelSize: 3 }).apply(img) as tf.SymbolicTensor;
    const emb = tf.layers.embedding({ name: 'emb', inputDim: 50, outputDim: 16 }).apply(ids) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [img, ids], outputs: [conv, emb] });
    setWeightValues(model.getLayer('conv'), [spectrumMatrix(27, 8, [4, 2, 1, 1], 5), new Float32Array(8)]);
    setWeightValues(model.getLayer('emb'), [spectrumMatrix(50, 16, [4, 2, 1, 1], 6)]);
    const dir = path.join(tmp, 'conv-emb');
    await saveModel(model, dir);
    model.dispose();
    const r = await inspect(path.join(dir, 'model.json'), { backend: 'wasm' });
    // Conv2D: 3·3·3 = 27 × 8, 224 params, largest useful rank floor(215 / 35) = 6;
    // at rank k: 224 − 216 + 35k = 78, 113, 148.
    assert.deepEqual(layer(r, 'conv').outputShape, [null, 3, 3, 8]);
    assert.equal(layer(r, 'conv').params, 224);
    assert.deepEqual(ranksOf(layer(r, 'conv').factorization), {
      m: 27,
      n: 8,
      maxUsefulRank: 6,
      options: [
        { energy: 0.9, rank: 2, paramsAfter: 78 },
        { energy: 0.95, rank: 3, paramsAfter: 113 },
        { energy: 0.99, rank: 4, paramsAfter: 148 },
      ],
    });
    // Embedding: 50 × 16, 800 params, largest useful rank floor(799 / 66) = 12; at rank k: 66k.
    assert.deepEqual(layer(r, 'emb').outputShape, [null, 7, 16]);
    assert.deepEqual(ranksOf(layer(r, 'emb').factorization), {
      m: 50,
      n: 16,
      maxUsefulRank: 12,
      options: [
        { energy: 0.9, rank: 2, paramsAfter: 132 },
        { energy: 0.95, rank: 3, paramsAfter: 198 },
        { energy: 0.99, rank: 4, paramsAfter: 264 },
      ],
    });
    assert.deepEqual(r.totals.map((t) => t.params), [78 + 132, 113 + 198, 148 + 264]);
  });
});

describe('inspect() on a layer shared by inputs of different ranks', () => {
  it('reports the model instead of failing on the ill-defined output shape', async () => {
    // 'shared' is called on [batch, 12] and on [batch, 5, 12]: a valid model, and compress handles it.
    const a = tf.input({ shape: [12], name: 'a' });
    const b = tf.input({ shape: [5, 12], name: 'b' });
    const shared = tf.layers.dense({ name: 'shared', units: 10 });
    const ya = shared.apply(a) as tf.SymbolicTensor;
    const yb = tf.layers.flatten({ name: 'flat' }).apply(shared.apply(b) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: [ya, yb] });
    const dir = path.join(tmp, 'shared-shapes');
    await saveModel(model, dir);
    shared.dispose(); // tfjs counts one reference per call site
    model.dispose();
    const r = await inspect(path.join(dir, 'model.json'), { backend: 'wasm' });
    assert.equal(layer(r, 'shared').params, 12 * 10 + 10);
    assert.equal(layer(r, 'shared').factorization?.maxUsefulRank, 5);
  });
});

describe('lowrank inspect (the built CLI)', () => {
  let text: CliResult;
  let json: CliResult;
  let expected: InspectReport;

  before(async () => {
    [text, json] = await cliRuns;
    expected = await digitsReport;
  });

  it('exits 0 with nothing on stderr, no colour codes and no line over 80 columns', () => {
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    assert.doesNotMatch(text.stdout, /\x1b\[/);
    for (const line of text.stdout.split('\n')) assert.ok([...line].length <= 80, `${[...line].length} columns: ${line}`);
  });

  it('shows the layers, the rank table and the totals', () => {
    const lines = text.stdout.split('\n');
    assert.equal(lines[0], 'fixtures/digits-mlp/model.json');
    assert.match(lines[1] ?? '', /^50,826 params · 203,304 weight bytes · backend \w+$/);
    for (const l of expected.layers) {
      const row = lines.find((x) => x.startsWith(`${l.name} `) && x.includes(l.className));
      assert.ok(row !== undefined, `no row for ${l.name}`);
      assert.ok(row.includes(l.params.toLocaleString('en-US')) && row.includes(l.bytes.toLocaleString('en-US')), row);
    }
    const d3 = lines.find((x) => x.startsWith('dense_3 ') && x.includes('128×10'));
    assert.ok(d3 !== undefined);
    const f = expected.layers.find((l) => l.name === 'dense_3')?.factorization;
    assert.ok(f !== undefined);
    for (const o of f.options) {
      assert.ok(d3.includes(o.paramsAfter === null ? `${o.rank}: —` : `${o.rank}: ${o.paramsAfter.toLocaleString('en-US')}`), d3);
    }
    const model = lines.find((x) => x.startsWith('model '));
    assert.ok(model !== undefined);
    for (const t of expected.totals) assert.ok(model.includes(t.params.toLocaleString('en-US')), model);
  });

  it('--json parses and matches inspect()', () => {
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stderr, '');
    const parsed = JSON.parse(json.stdout) as InspectReport;
    assert.equal(typeof parsed.backend, 'string');
    assert.deepEqual({ ...parsed, backend: expected.backend }, expected);
  });
});
