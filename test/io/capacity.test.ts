/**
 * A model too large for the wasm backend's heap is refused from model.json alone (exit 2, one line),
 * before any shard is read or anything allocated, never "memory access out of bounds".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../src/tf.js';
import { checkWasmCapacity, decodedWeightBytes } from '../../src/io/capacity.js';
import { loadModel, readModel } from '../../src/io/index.js';
import { ModelFormatError } from '../../src/errors.js';
import { DIGITS_MLP, runCli } from '../helpers.js';

let tmp: string;
let huge: string;

before(async () => {
  await initBackend('wasm');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-capacity-'));
  // The digits MLP's model.json with dense_1's kernel declared [64, 20,000,000]: 5.1 GB of float32.
  // No shard holds those bytes; none is ever read.
  const json = JSON.parse(await readFile(DIGITS_MLP, 'utf8'));
  json.weightsManifest[0].weights[0].shape = [64, 20_000_000];
  await mkdir(path.join(tmp, 'huge'));
  huge = path.join(tmp, 'huge', 'model.json');
  await writeFile(huge, JSON.stringify(json));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('checkWasmCapacity', () => {
  it('counts the decoded weight bytes the manifest declares', async () => {
    const { json } = await readModel(DIGITS_MLP);
    assert.equal(decodedWeightBytes(json), 4 * (64 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10));
  });

  it('passes a model twice over under the limit and refuses one over it, naming sizes and a way out', async () => {
    const { json } = await readModel(DIGITS_MLP);
    assert.doesNotThrow(() => checkWasmCapacity('m.json', json));
    const weights = decodedWeightBytes(json);
    assert.throws(
      () => checkWasmCapacity('m.json', json, 2 * weights + 256 * 2 ** 20 - 1),
      (err: Error) => err instanceof ModelFormatError && /wasm backend would need about .* GiB .* --backend node/.test(err.message),
    );
  });

  it('loadModel on wasm refuses before reading any shard (a small limit)', async () => {
    await assert.rejects(loadModel(DIGITS_MLP, { wasmHeapBytes: 1024 }), (err: Error) => err instanceof ModelFormatError && /more than the 0\.0 GiB it can address/.test(err.message));
  });
});

describe('lowrank compress on a model declared larger than the wasm heap', () => {
  it('exits 2 with one line about memory, before reading the (missing) shards', async () => {
    const out = path.join(tmp, 'out');
    const r = await runCli('compress', huge, '--rank', '4', '--epochs', '0', '--backend', 'wasm', '--out', out);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, /^lowrank: .*model\.json: the model's weights take 4\.8 GiB as float32, and the wasm backend would need about 9\.8 GiB/);
    assert.doesNotMatch(r.stderr, /out of bounds|cannot read weight file/);
  });
});
