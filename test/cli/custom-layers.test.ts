/**
 * Models with layer classes of their own (fixtures/custom-layers/: ChannelScale and DepthToSpace), end
 * to end with the built CLI. Without the classes, compress factorizes from the JSON and the stored
 * weights, carries the custom layers over byte-identical, and stock tfjs (with the classes registered,
 * as the user's app does) predicts what the rank-k reconstruction predicts. With --setup, the whole
 * pipeline runs: fine-tuning through the custom layers, accuracy, latency. inspect without the classes
 * reports everything but output shapes, equal to what it reports with them. Every refusal is exit 2
 * with one line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { planModel } from '../../src/factorize/index.js';
import { loadModel, readModel, type StoredWeight } from '../../src/io/index.js';
import type { CompressionReport } from '../../src/report/schema.js';
import type { InspectReport } from '../../src/inspect.js';
import { tf } from '../../src/tf.js';
import { readTopology, walkLayers } from '../../src/graph/topology.js';
import { DIGITS_TEST, DIGITS_TRAIN, FIXTURES, ROOT, maxAbsDiff, readDigits, runCli, runCliIn, setReconstructedKernels, useTempDirAndLeakCheck, type CliResult } from '../helpers.js';

const run = promisify(execFile);
const tempDir = useTempDirAndLeakCheck();
const MODEL = path.join(FIXTURES, 'custom-layers', 'model', 'model.json');
const SETUP = path.join(FIXTURES, 'custom-layers', 'setup.mjs');
const CUSTOM = ['scale', 'd2s'];

function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^lowrank: /);
  assert.match(lines[0] as string, pattern);
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/** The layer entries of a model.json by name. */
async function layersOf(file: string): Promise<Map<string, unknown>> {
  const json = await readJson<{ modelTopology: Record<string, unknown> }>(file);
  return new Map(walkLayers(file, readTopology(file, json.modelTopology)).map((s) => [s.json.config.name, s.json]));
}

function weightByName(weights: readonly StoredWeight[], name: string): StoredWeight {
  const w = weights.find((x) => x.entry.name === name);
  assert.ok(w !== undefined, `no weight ${name}`);
  return w;
}

describe('compress a model with custom layers, without their classes', () => {
  it('exits 0, keeps the custom layers byte-identical, and stock tfjs predicts the rank-k reconstruction', async () => {
    const out = path.join(tempDir(), 'no-setup');
    const r = await runCli('compress', MODEL, '--rank', '4', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /not measured: needs the classes ChannelScale, DepthToSpace \(--setup\)/);
    const report = await readJson<CompressionReport>(path.join(out, 'report.json'));
    assert.deepEqual(report.unknownLayerClasses, ['ChannelScale', 'DepthToSpace']);
    assert.equal(report.flops, null);
    assert.deepEqual(report.speed, []);
    assert.equal(report.evaluation, null);
    assert.ok(report.sizes.every((s) => s.metrics === null && s.weightBytes > 0));
    assert.deepEqual(report.layers.filter((l) => l.rank === 4).map((l) => l.name), ['conv_1', 'conv_2', 'conv_3', 'dense_1', 'dense_2']);

    // The custom layers' configs (inbound nodes included) and weights, byte for byte.
    const before = await layersOf(MODEL);
    const after = await layersOf(path.join(out, 'model.json'));
    for (const name of CUSTOM) assert.deepEqual(after.get(name), before.get(name), name);
    const input = await readModel(MODEL);
    const output = await readModel(path.join(out, 'model.json'));
    const gamma = weightByName(output.weights, 'scale/gamma');
    assert.deepEqual(gamma.entry, weightByName(input.weights, 'scale/gamma').entry);
    assert.deepEqual(Buffer.from(gamma.bytes), Buffer.from(weightByName(input.weights, 'scale/gamma').bytes));
    // A factorized layer's bias keeps its stored bytes too.
    assert.deepEqual(Buffer.from(weightByName(output.weights, 'conv_2/bias').bytes), Buffer.from(weightByName(input.weights, 'conv_2/bias').bytes));

    // Stock tfjs, the classes registered by the same module, in a child process.
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), out, DIGITS_TEST, SETUP], { cwd: ROOT, maxBuffer: 64 << 20 });
    const stock = JSON.parse(stdout) as { probabilities: number[]; classes: string[] };
    assert.ok(stock.classes.includes('ChannelScale') && stock.classes.includes('DepthToSpace'));

    // The rank-k reconstruction: the original with each kernel replaced by A·B, in this process.
    const { runSetup } = await import('../../src/io/setup.js');
    await runSetup(SETUP);
    const { stored, model } = await loadModel(MODEL);
    try {
      const plan = planModel(MODEL, stored.json.modelTopology, model, { kind: 'fixed', rank: 4 });
      setReconstructedKernels(model, plan);
      const digits = await readDigits(DIGITS_TEST);
      const expected = tf.tidy(() => (model.predict(tf.tensor(digits.x, [digits.count, 8, 8, 1])) as tf.Tensor).dataSync() as Float32Array);
      assert.equal(stock.probabilities.length, expected.length);
      const diff = maxAbsDiff(Float32Array.from(stock.probabilities), expected);
      assert.ok(diff < 1e-4, `stock tfjs vs the rank-4 reconstruction: max |Δp| ${diff}`);
    } finally {
      model.dispose();
    }
  });

  it('refuses --data and evaluate without the classes, naming them and --setup', async () => {
    const classes = /ChannelScale, DepthToSpace.*--setup <module>/;
    assertRefused(await runCli('compress', MODEL, '--rank', '4', '--data', DIGITS_TRAIN, '--out', path.join(tempDir(), 'never')), new RegExp(`fine-tuning on --data needs a running model.*${classes.source}`));
    assertRefused(await runCli('compress', MODEL, '--rank', '4', '--data', DIGITS_TRAIN, '--epochs', '0', '--out', path.join(tempDir(), 'never')), /evaluating on --data needs a running model/);
    assertRefused(await runCli('evaluate', MODEL, '--data', DIGITS_TEST), new RegExp(`evaluating needs a running model.*${classes.source}`));
  });

  it('inspects without the classes: the same params, bytes, spectra and --ratio preview as with them, no output shapes', async () => {
    const without = await runCli('inspect', MODEL, '--ratio', '0.3', '--json');
    assert.equal(without.code, 0, without.stderr);
    const withSetup = await runCli('inspect', MODEL, '--ratio', '0.3', '--json', '--setup', SETUP);
    assert.equal(withSetup.code, 0, withSetup.stderr);
    const a = JSON.parse(without.stdout) as InspectReport;
    const b = JSON.parse(withSetup.stdout) as InspectReport;
    assert.deepEqual(a.unknownLayerClasses, ['ChannelScale', 'DepthToSpace']);
    assert.equal(b.unknownLayerClasses, undefined);
    assert.equal(a.params, b.params);
    assert.equal(a.weightBytes, b.weightBytes);
    assert.deepEqual(a.totals, b.totals);
    assert.deepEqual(a.allocation, b.allocation);
    assert.deepEqual(a.layers.map((l) => [l.name, l.className, l.params, l.bytes]), b.layers.map((l) => [l.name, l.className, l.params, l.bytes]));
    // The custom layer's own weight is counted for it, not lost.
    assert.equal(a.layers.find((l) => l.name === 'scale')?.params, 16);
    for (const [i, layer] of a.layers.entries()) {
      assert.equal(layer.outputShape, null);
      const other = b.layers[i]?.factorization;
      assert.equal(layer.factorization === undefined, other === undefined, layer.name);
      if (layer.factorization === undefined || other === undefined) continue;
      assert.deepEqual({ ...layer.factorization, singularValues: [] }, { ...other, singularValues: [] }, layer.name);
      assert.ok(maxAbsDiff(layer.factorization.singularValues, other.singularValues) <= 1e-4 * (other.singularValues[0] ?? 1), layer.name);
    }
    const text = await runCli('inspect', MODEL);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout.replace(/\s+/g, ' '), /ChannelScale, DepthToSpace are not standard TF\.js layers, so output shapes are unknown/);
  });
});

describe('--setup', () => {
  it('runs the whole pipeline: fine-tuning through the custom layers, accuracy and latency', async () => {
    const out = path.join(tempDir(), 'setup');
    const r = await runCli('compress', MODEL, '--rank', '8', '--setup', SETUP, '--data', DIGITS_TRAIN, '--validation-data', DIGITS_TEST, '--epochs', '1', '--out', out, '--quiet', '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as CompressionReport;
    assert.equal(report.unknownLayerClasses, undefined);
    assert.ok(report.evaluation?.fineTuned?.accuracy !== undefined && report.evaluation.original.accuracy !== undefined);
    // The fixture is a 98% classifier; one epoch of fine-tuning at rank 8 keeps it well above chance.
    assert.ok(report.evaluation.fineTuned.accuracy > 0.8, `fine-tuned accuracy ${report.evaluation.fineTuned.accuracy}`);
    assert.ok(report.speed.length > 0 && report.speed.every((s) => s.outputMs > 0));
    assert.ok(report.flops !== null && report.flops.output < report.flops.original);
    assert.ok(report.sizes.every((s) => s.metrics !== null));
    // Gradients reach conv_1, upstream of both custom layers: its bias (kept as stored unless trained) moved,
    // and so did the custom layer's own trainable weight.
    const input = await readModel(MODEL);
    const output = await readModel(path.join(out, 'model.json'));
    for (const name of ['conv_1/bias', 'scale/gamma']) {
      assert.notDeepEqual(Buffer.from(weightByName(output.weights, name).bytes), Buffer.from(weightByName(input.weights, name).bytes), `${name} did not train`);
    }
  });

  it('takes a CommonJS module and a default export', async () => {
    const dir = tempDir();
    const source = await readFile(SETUP, 'utf8');
    const body = source.replace('export function setup(tf)', 'function setup(tf)');
    await writeFile(path.join(dir, 'layers.cjs'), `${body}\nmodule.exports = { setup };\n`);
    await writeFile(path.join(dir, 'default.mjs'), `${body}\nexport default setup;\n`);
    for (const file of ['layers.cjs', 'default.mjs']) {
      const r = await runCliIn(dir, 'inspect', MODEL, '--setup', file, '--json');
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    }
  });

  it('refuses a missing module, one that throws or fails to load, one with nothing callable, and one that leaves a class unregistered', async () => {
    const dir = tempDir();
    await writeFile(path.join(dir, 'throws.mjs'), "export function setup() { throw new Error('no GPU here'); }\n");
    await writeFile(path.join(dir, 'broken.mjs'), 'export function setup( {\n');
    await writeFile(path.join(dir, 'nothing.mjs'), 'export const setup = 42;\n');
    const source = await readFile(SETUP, 'utf8');
    await writeFile(path.join(dir, 'half.mjs'), source.replace('tf.serialization.registerClass(DepthToSpace);', ''));
    const compress = (setup: string): Promise<CliResult> => runCliIn(dir, 'compress', MODEL, '--rank', '4', '--setup', setup, '--out', path.join(dir, 'never'));
    assertRefused(await compress('missing.mjs'), /--setup missing\.mjs: no such file/);
    assertRefused(await compress('throws.mjs'), /--setup throws\.mjs: setup\(tf\) threw: no GPU here/);
    assertRefused(await compress('broken.mjs'), /--setup broken\.mjs: the module failed to load/);
    assertRefused(await compress('nothing.mjs'), /--setup nothing\.mjs: exports no setup\(tf\) function/);
    assertRefused(await compress('half.mjs'), /--setup half\.mjs did not register the layer class\(es\) DepthToSpace this model uses/);
    assertRefused(await runCliIn(dir, 'evaluate', MODEL, '--data', DIGITS_TEST, '--setup', 'missing.mjs'), /--setup missing\.mjs: no such file/);
  });
});
