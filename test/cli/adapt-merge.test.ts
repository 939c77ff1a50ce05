/**
 * `lowrank adapt` then `lowrank merge`, end to end with the built CLI: both merge outputs load in stock
 * @tensorflow/tfjs in a child process (test/cli/stock-load.mjs, no lowrank code) and predict what the
 * adapter-applied model predicts within 1e-5; --keep-adapters keeps the base's shard byte for byte; an
 * adapter for another base, a layer the base lacks, a shape that does not fit: exit 2, one line,
 * nothing written. And adapters compose with compression: adapt a compressed model, merge into it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAdapted } from '../../src/adapt/merge.js';
import type { AdapterJson } from '../../src/adapt/format.js';
import { tf } from '../../src/tf.js';
import { DIGITS_CNN, DIGITS_MLP, DIGITS_MLP_QUANTIZED, FIXTURES, ROOT, SHIFTED_TEST, SHIFTED_TRAIN, TEXT_EMBEDDING, assertRefusedOneLine, hashFolder, maxAbsDiff, runCli, useTempDirAndLeakCheck, type CliResult } from '../helpers.js';

const run = promisify(execFile);
const tempDir = useTempDirAndLeakCheck();
const TEXT_TRAIN = path.join(FIXTURES, 'text', 'train.csv');
const TEXT_TEST = path.join(FIXTURES, 'text', 'test.csv');

interface Stock {
  accuracy: number;
  classes: string[];
  probabilities: number[];
}

async function stockLoad(dir: string, csv: string): Promise<Stock> {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), dir, csv], { cwd: ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Stock;
}

function ok(r: CliResult): void {
  assert.equal(r.code, 0, r.stderr);
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** What the adapter-applied model (as adapt trained it) predicts on a CSV's features, in this process. */
async function adaptedPredictions(model: string, adapter: string, csv: string): Promise<Float32Array> {
  const adapted = await loadAdapted({ model, adapter, backend: 'wasm' });
  try {
    const rows = (await readFile(csv, 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',').slice(0, -1).map(Number));
    const shape = adapted.inputs[0]?.shape.slice(1).map((d) => d ?? 1) ?? [];
    return tf.tidy(() => (adapted.predict(tf.tensor(rows.flat(), [rows.length, ...shape])) as tf.Tensor).dataSync() as Float32Array);
  } finally {
    adapted.dispose();
  }
}

/** Adapt `model` for one epoch, merge both ways, and check the stock loads against the adapted model. */
async function adaptAndMerge(name: string, model: string, train: string, test: string, flags: string[]): Promise<{ adapter: string; merged: Stock; kept: Stock; base: Stock }> {
  const dir = tempDir();
  const adapter = path.join(dir, `${name}-adapter`);
  ok(await runCli('adapt', model, '--data', train, '--epochs', '1', '--learning-rate', '0.01', '--out', adapter, '-q', ...flags));
  const merged = path.join(dir, `${name}-merged`);
  const kept = path.join(dir, `${name}-kept`);
  ok(await runCli('merge', model, adapter, '--out', merged));
  ok(await runCli('merge', model, adapter, '--out', kept, '--keep-adapters'));
  const expected = await adaptedPredictions(model, adapter, test);
  const result = { adapter, merged: await stockLoad(merged, test), kept: await stockLoad(kept, test), base: await stockLoad(path.dirname(model), test) };
  for (const [which, stock] of [['merged', result.merged], ['--keep-adapters', result.kept]] as const) {
    assert.equal(stock.probabilities.length, expected.length);
    const diff = maxAbsDiff(stock.probabilities, expected);
    assert.ok(diff <= 1e-5, `${name} ${which}: stock tfjs differs from the adapted model by ${diff}`);
  }
  // The adapter did something: the merged model is not the base.
  assert.ok(maxAbsDiff(result.merged.probabilities, result.base.probabilities) > 1e-3, `${name}: the adapter changed nothing`);
  return result;
}

describe('adapt → merge, loaded by stock tfjs', () => {
  it('digits-mlp (Dense, scale 4 through Rescaling): both outputs predict as the adapted model; keep-adapters keeps the base shard', async () => {
    const r = await adaptAndMerge('mlp', DIGITS_MLP, SHIFTED_TRAIN, SHIFTED_TEST, ['--rank', '3', '--alpha', '12']);
    assert.deepEqual(r.merged.classes, ['Dense', 'Dense', 'Dense'], 'the base architecture');
    assert.ok(r.kept.classes.filter((c) => c === 'Add').length === 3 && !r.kept.classes.includes('Rescaling'), r.kept.classes.join(','));
    const kept = path.join(path.dirname(r.adapter), 'mlp-kept');
    assert.deepEqual(await readFile(path.join(kept, 'group1-shard1of1.bin')), await readFile(path.join(FIXTURES, 'digits-mlp', 'group1-shard1of1.bin')), 'the base shard, byte for byte');
    assert.equal((await readFile(path.join(kept, 'group2-shard1of1.bin'))).byteLength, 4 * 3 * (64 + 256 + 256 + 128 + 128 + 10));
  });

  it('digits-cnn (Conv2D as a conv and a 1×1 conv, Dense)', async () => {
    const r = await adaptAndMerge('cnn', DIGITS_CNN, SHIFTED_TRAIN, SHIFTED_TEST, ['--rank', '2']);
    assert.deepEqual(r.merged.classes, r.base.classes, 'the base architecture');
  });

  it('text-embedding (Embedding as an Embedding and a Dense)', async () => {
    const r = await adaptAndMerge('text', TEXT_EMBEDDING, TEXT_TRAIN, TEXT_TEST, ['--rank', '2', '--layers', 'embedding,dense_1']);
    assert.deepEqual(r.merged.classes, r.base.classes);
  });

  it('composes with compression: adapt a compressed model and merge into it', async () => {
    const dir = tempDir();
    const small = path.join(dir, 'mlp-small');
    ok(await runCli('compress', DIGITS_MLP, '--rank', '16', '--out', small, '-q'));
    const model = path.join(small, 'model.json');
    const r = await adaptAndMerge('compressed', model, SHIFTED_TRAIN, SHIFTED_TEST, ['--rank', '2']);
    const adapter = JSON.parse(await readFile(path.join(r.adapter, 'adapter.json'), 'utf8')) as AdapterJson;
    // The factor layers are ordinary Dense layers, so each takes an adapter too.
    assert.ok(adapter.layers.length > 3, adapter.layers.map((l) => l.name).join(','));
    assert.deepEqual(r.merged.classes, r.base.classes, 'the compressed architecture');
  });
});

describe('merge refuses an adapter that does not fit (exit 2, one line, nothing written)', () => {
  let adapter = '';
  const prepared = async (): Promise<string> => {
    if (adapter !== '') return adapter;
    adapter = path.join(tempDir(), 'refuse-adapter');
    ok(await runCli('adapt', DIGITS_MLP, '--data', SHIFTED_TRAIN, '--epochs', '0', '--rank', '2', '--out', adapter, '-q'));
    return adapter;
  };
  /** A copy of the adapter with adapter.json changed by `edit`. */
  const edited = async (name: string, edit: (json: AdapterJson) => void): Promise<string> => {
    const dir = path.join(tempDir(), name);
    await cp(await prepared(), dir, { recursive: true });
    const json = JSON.parse(await readFile(path.join(dir, 'adapter.json'), 'utf8')) as AdapterJson;
    edit(json);
    await writeFile(path.join(dir, 'adapter.json'), JSON.stringify(json));
    return dir;
  };
  const refused = async (model: string, dir: string, pattern: RegExp): Promise<void> => {
    const before = await hashFolder(dir);
    const out = path.join(tempDir(), `${path.basename(dir)}-out`);
    for (const extra of [[], ['--keep-adapters']]) {
      assertRefusedOneLine(await runCli('merge', model, dir, '--out', out, ...extra), pattern);
      assert.equal(await exists(out), false, 'nothing written');
    }
    assert.deepEqual(await hashFolder(dir), before, 'the adapter is untouched');
  };

  it('another base: names both hashes and both files', async () => {
    const dir = await prepared();
    const json = JSON.parse(await readFile(path.join(dir, 'adapter.json'), 'utf8')) as AdapterJson;
    const r = await runCli('merge', DIGITS_MLP_QUANTIZED, dir, '--out', path.join(tempDir(), 'q-out'));
    assertRefusedOneLine(r, /adapter\.json: was trained on another base model/);
    assert.ok(r.stderr.includes(json.base.hash) && r.stderr.includes(DIGITS_MLP_QUANTIZED) && r.stderr.includes(json.base.file), r.stderr);
    assert.match(r.stderr, /but \S+ is sha256:[0-9a-f]{64}$/m);
    await refused(DIGITS_MLP_QUANTIZED, dir, /was trained on another base model/);
  });

  it('a layer the base lacks', async () => {
    const dir = await edited('missing-layer', (json) => {
      (json.layers[1] as AdapterJson['layers'][number]).name = 'dense_9';
    });
    await refused(DIGITS_MLP, dir, /adapter\.json: layer dense_9 is not a top-level layer of /);
  });

  it('a kernel shape that is not the base\'s', async () => {
    const dir = await edited('wrong-kernel', (json) => {
      (json.layers[0] as AdapterJson['layers'][number]).kernelShape = [64, 128];
    });
    await refused(DIGITS_MLP, dir, /layer dense_1: kernel shape \[64, 128\] here but \[64, 256\] in /);
  });

  it('factor shapes that do not fit the rank', async () => {
    const dir = await edited('wrong-factor', (json) => {
      const layer = json.layers[2] as AdapterJson['layers'][number];
      layer.a.shape = [128, 3];
    });
    await refused(DIGITS_MLP, dir, /layer dense_3: factor A has shape \[128, 3\]; rank 2 on kernel \[128, 10\] needs \[128, 2\]/);
  });

  it('a manifest whose weight shape disagrees with the layer', async () => {
    const dir = await edited('wrong-manifest', (json) => {
      const group = json.weightsManifest[0] as AdapterJson['weightsManifest'][number];
      const entry = group.weights.find((w) => w.name.startsWith('dense_2_lora_b')) as { shape: number[] };
      entry.shape = [1, 256];
    });
    await refused(DIGITS_MLP, dir, /weight "dense_2_lora_b\/kernel" is float32 \[1, 256\] in weightsManifest; factor B needs float32 \[2, 128\]/);
  });

  it('an adapter.json that is not one', async () => {
    const dir = await edited('not-adapter', (json) => {
      (json as { rank: unknown }).rank = 'eight';
    });
    await refused(DIGITS_MLP, dir, /adapter\.json: not a lowrank adapter\.json: rank: /);
  });
});
