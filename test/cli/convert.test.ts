/**
 * Keras 3 models end to end, as a user meets them: `lowrank convert` writes a folder stock tfjs loads
 * with the weights' bytes unchanged and the Keras 2 twin's predictions bit for bit; `compress`,
 * `inspect` and `evaluate` take the Keras 3 form as they take the Keras 2 one.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { KERAS3_FIXTURES } from '../../fixtures/make/keras3.js';
import type { ConvertReport } from '../../src/convert.js';
import { evaluate } from '../../src/evaluate.js';
import { inspect } from '../../src/inspect.js';
import { DIGITS_TEST, FIXTURES, ROOT, hashFolder, runCli, useTempDirAndLeakCheck, type CliResult } from '../helpers.js';

const run = promisify(execFile);
const tempDir = useTempDirAndLeakCheck();

interface StockResult {
  accuracy: number;
  classes: string[];
  probabilities: number[];
}

/** Load a folder with plain @tensorflow/tfjs in a child process (no lowrank code) and predict test.csv. */
async function stockPredict(dir: string): Promise<StockResult> {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'test/cli/stock-load.mjs'), dir, DIGITS_TEST], { cwd: ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as StockResult;
}

/** Exit 2 with one `lowrank: ...` line on stderr matching `pattern`. */
function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `expected exit 2, got ${r.code}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /^lowrank: /);
  assert.match(lines[0] as string, pattern);
}

/** Any Keras 3-only mark left in a model.json. */
function keras3Marks(text: string): string[] {
  return ['"module"', '"registered_name"', '"build_config"', '"compile_config"', '"batch_shape"', '__keras_tensor__', 'DTypePolicy'].filter((mark) => text.includes(mark));
}

describe('lowrank convert on the Keras 3 fixtures', () => {
  const stockKeras2 = new Map<string, StockResult>();
  before(async () => {
    for (const { from } of KERAS3_FIXTURES) stockKeras2.set(from, await stockPredict(path.join(FIXTURES, from)));
  });

  for (const { name, from } of KERAS3_FIXTURES) {
    it(`${name}: stock tfjs loads the output and predicts bit for bit what ${from} predicts; shards unchanged`, async () => {
      const out = path.join(tempDir(), `${name}-converted`);
      const inputHash = await hashFolder(path.join(FIXTURES, name));
      const r = await runCli('convert', path.join(FIXTURES, name, 'model.json'), '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /rewritten from the Keras 3 form into the one TF\.js Layers reads:/);
      assert.match(r.stdout, /InputLayer batch_shape → batch_input_shape/);
      assert.match(r.stdout, /bytes in 1 shard\(s\), copied unchanged/);
      assert.deepEqual((await readdir(out)).sort(), ['conversion.json', 'group1-shard1of1.bin', 'model.json']);
      assert.ok((await readFile(path.join(out, 'group1-shard1of1.bin'))).equals(await readFile(path.join(FIXTURES, from, 'group1-shard1of1.bin'))), 'shard bytes');
      assert.deepEqual(keras3Marks(await readFile(path.join(out, 'model.json'), 'utf8')), []);
      const stock = await stockPredict(out);
      const twin = stockKeras2.get(from) as StockResult;
      assert.equal(stock.probabilities.length, twin.probabilities.length);
      assert.deepEqual(stock.probabilities, twin.probabilities);
      assert.deepEqual(await hashFolder(path.join(FIXTURES, name)), inputHash, 'the input is never touched');
    });
  }

  it('--json reports each change with its layer and each weight rename with how it was matched', async () => {
    const out = path.join(tempDir(), 'cnn-json');
    const r = await runCli('convert', path.join(FIXTURES, 'keras3-cnn', 'model.json'), '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ConvertReport;
    assert.equal(report.unchanged, false);
    assert.equal(report.output, out);
    assert.deepEqual([...new Set(report.changes.map((c) => c.kind))].sort(), ['call-arguments', 'call-records', 'dtype', 'input-shape', 'keras3-fields', 'model-ends']);
    assert.deepEqual(report.changes.find((c) => c.kind === 'call-arguments'), { kind: 'call-arguments', layer: 'residual', detail: 'one list argument of 2 tensors → 2 node inputs' });
    assert.equal(report.weights.count, 8);
    assert.equal(report.weights.bytes, 172_200);
    assert.deepEqual(report.weights.renames[0], { from: 'digits_cnn/conv_1/kernel', to: 'conv_1/kernel', by: 'name' });
    assert.ok(report.weights.renames.every((x) => x.by === 'name'));
  });

  it('weight names that match nothing are matched by order, said so, and still predict bit for bit', async () => {
    // The names a .keras archive gives weights: layers/<layer>/vars/<index>.
    const dir = path.join(tempDir(), 'cnn-vars');
    await cp(path.join(FIXTURES, 'keras3-cnn'), dir, { recursive: true });
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string }> }> };
    for (const w of json.weightsManifest[0]?.weights ?? []) {
      const [, layer, kind] = w.name.split('/');
      w.name = `layers/${layer}/vars/${kind === 'kernel' ? 0 : 1}`;
    }
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    const out = path.join(tempDir(), 'cnn-vars-converted');
    const r = await runCli('convert', path.join(dir, 'model.json'), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /weights \(8\): 8 matched by order \(layers\/conv_1\/vars\/0 → conv_1\/kernel, …\)/);
    assert.deepEqual((await stockPredict(out)).probabilities, stockKeras2.get('digits-cnn')?.probabilities);
  });
});

describe('lowrank convert on models already in the form tfjs reads', () => {
  it('copies topology and weights unchanged, quantization included, and says so', async () => {
    const out = path.join(tempDir(), 'quantized-copy');
    const input = path.join(FIXTURES, 'digits-mlp-quantized');
    const r = await runCli('convert', path.join(input, 'model.json'), '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already in the form TF\.js Layers reads: copied unchanged/);
    assert.match(r.stdout, /weights \(6\): names already match/);
    assert.ok((await readFile(path.join(out, 'group1-shard1of1.bin'))).equals(await readFile(path.join(input, 'group1-shard1of1.bin'))));
    const [a, b] = [JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8')), JSON.parse(await readFile(path.join(input, 'model.json'), 'utf8'))];
    assert.deepEqual(a.modelTopology, b.modelTopology);
    assert.deepEqual(a.weightsManifest, b.weightsManifest);
    assert.deepEqual(a.trainingConfig, b.trainingConfig);
  });
});

describe('lowrank convert refusals', () => {
  it('a folder that is not a lowrank output is refused, even with --force, and nothing is written', async () => {
    const out = path.join(tempDir(), 'taken');
    await mkdir(out);
    await writeFile(path.join(out, 'keep.txt'), 'mine');
    for (const force of [[], ['--force']]) {
      const r = await runCli('convert', path.join(FIXTURES, 'keras3-mlp', 'model.json'), '--out', out, ...force);
      assertRefused(r, /exists and is not a lowrank output folder/);
      assert.deepEqual(await readdir(out), ['keep.txt']);
    }
  });

  it('an earlier convert output is refused without --force and replaced with it', async () => {
    const out = path.join(tempDir(), 'converted-twice');
    const first = await runCli('convert', path.join(FIXTURES, 'keras3-mlp', 'model.json'), '--out', out);
    assert.equal(first.code, 0, first.stderr);
    assertRefused(await runCli('convert', path.join(FIXTURES, 'keras3-mlp', 'model.json'), '--out', out), /output folder exists and is not empty \(use --force to replace it\)/);
    const forced = await runCli('convert', path.join(FIXTURES, 'keras3-mlp', 'model.json'), '--out', out, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['conversion.json', 'group1-shard1of1.bin', 'model.json']);
    const record = JSON.parse(await readFile(path.join(out, 'conversion.json'), 'utf8')) as { tool: { name: string }; changes: unknown[] };
    assert.equal(record.tool.name, 'lowrank');
    assert.ok(record.changes.length > 0);
  });

  it('a Keras 3 layer TF.js does not have is exit 2 naming it, and nothing is written', async () => {
    const dir = path.join(tempDir(), 'attention');
    await cp(path.join(FIXTURES, 'keras3-cnn'), dir, { recursive: true });
    const text = await readFile(path.join(dir, 'model.json'), 'utf8');
    await writeFile(path.join(dir, 'model.json'), text.replace('"class_name": "MaxPooling2D"', '"class_name": "GroupNormalization"'));
    const out = path.join(tempDir(), 'attention-out');
    const r = await runCli('convert', path.join(dir, 'model.json'), '--out', out);
    assertRefused(r, /model\.json: layer "pool" is a GroupNormalization, a Keras 3 layer TF\.js has no implementation of$/);
    assert.equal(existsSync(out), false);
  });
});

describe('compress, inspect and evaluate on the Keras 3 fixtures', () => {
  for (const { name, from } of KERAS3_FIXTURES) {
    it(`compress --epochs 0 on ${name} writes what it writes for ${from}, and stock tfjs loads it`, async () => {
      const outs = [path.join(tempDir(), `${name}-lowrank`), path.join(tempDir(), `${from}-lowrank`)];
      for (const [i, model] of [name, from].entries()) {
        const r = await runCli('compress', path.join(FIXTURES, model, 'model.json'), '--rank', '4', '--epochs', '0', '--out', outs[i] as string, '--quiet');
        assert.equal(r.code, 0, r.stderr);
      }
      const [fromKeras3, fromKeras2] = [await stockPredict(outs[0] as string), await stockPredict(outs[1] as string)];
      assert.ok(fromKeras3.classes.length > 0);
      // The rank-4 reconstruction of the same weights: the same factors, the same predictions.
      assert.deepEqual(fromKeras3.probabilities, fromKeras2.probabilities);
      const written = JSON.parse(await readFile(path.join(outs[0] as string, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string }> }> };
      assert.ok(written.weightsManifest[0]?.weights.some((w) => w.name.endsWith('_lowrank/kernel')), 'factor layers written');
    });

    it(`inspect and evaluate read ${name} as ${from}`, async () => {
      const [a, b] = [await inspect(path.join(FIXTURES, name, 'model.json')), await inspect(path.join(FIXTURES, from, 'model.json'))];
      const weighty = (r: typeof a): unknown => r.layers.filter((l) => l.params > 0);
      assert.deepEqual(weighty(a), weighty(b));
      assert.deepEqual(a.totals, b.totals);
      assert.equal(a.weightBytes, b.weightBytes);
      const result = await evaluate({ model: path.join(FIXTURES, name, 'model.json'), data: DIGITS_TEST, reference: path.join(FIXTURES, from, 'model.json') });
      assert.equal(result.metrics.agreement, 1);
      assert.equal(result.metrics.relativeOutputError, 0);
      assert.ok((result.metrics.accuracy ?? 0) > 0.95);
    });
  }
});
