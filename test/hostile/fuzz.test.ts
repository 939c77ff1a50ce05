/**
 * Seeded fuzzing of the model loader: mutate the digits model.json (deleted keys, swapped types, huge
 * and negative numbers, strings for numbers, copies of other subtrees, truncated text, bit flips) and
 * its shard (truncation, extension, bit flips), then readModel + toLayersModel in-process. Every case
 * must load or throw a LowrankError; anything else, or a case that allocates more than a fixed bound,
 * fails with the seed and case number so it can be replayed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../../src/tf.js';
import { useTempDirAndLeakCheck } from '../helpers.js';
import { DIGITS_DIR, SHARD } from './harness.js';
import { makeCase, runCase } from './mutate.js';

const FUZZ_SEED = Number(process.env['LOWRANK_FUZZ_SEED'] ?? 20240611);
const FUZZ_CASES = Number(process.env['LOWRANK_FUZZ_CASES'] ?? 2500);
/** Most memory one case may leave allocated (heap + array buffers + external, e.g. the wasm heap). */
const MAX_CASE_BYTES = 200 * 1024 * 1024;

const tempDir = useTempDirAndLeakCheck();

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers + m.external;
}

describe('fuzzing the model loader', () => {
  it(`seed ${FUZZ_SEED}: ${FUZZ_CASES} mutated models each load or raise a LowrankError`, async () => {
    const dir = path.join(tempDir(), 'fuzz');
    await mkdir(dir, { recursive: true });
    const baseJson = await readFile(path.join(DIGITS_DIR, 'model.json'), 'utf8');
    const baseShard = new Uint8Array(await readFile(path.join(DIGITS_DIR, SHARD)));
    const counts = { loaded: 0, refused: 0 };
    const started = performance.now();
    for (let n = 0; n < FUZZ_CASES; n++) {
      const c = makeCase(FUZZ_SEED, n, baseJson, baseShard);
      const before = memory();
      const tensors = tf.memory().numTensors;
      const outcome = await runCase(dir, c);
      const grown = memory() - before;
      const leaked = tf.memory().numTensors - tensors;
      if (typeof outcome === 'object') {
        const e = outcome.error as Error;
        assert.fail(`seed ${FUZZ_SEED} case ${n}: ${e?.name ?? typeof e}: ${e?.message ?? String(e)}\n${e?.stack ?? ''}`);
      }
      assert.equal(leaked, 0, `seed ${FUZZ_SEED} case ${n}: ${leaked} tensor(s) left behind (${outcome})`);
      assert.ok(grown < MAX_CASE_BYTES, `seed ${FUZZ_SEED} case ${n}: memory grew by ${grown} bytes`);
      counts[outcome]++;
    }
    const seconds = (performance.now() - started) / 1000;
    // Most mutations must be refused, yet some must load: a fuzzer that only ever hits one path tests nothing.
    assert.ok(counts.loaded > 0 && counts.refused > 0, JSON.stringify(counts));
    console.log(`fuzz seed ${FUZZ_SEED}: ${FUZZ_CASES} cases, ${counts.loaded} loaded, ${counts.refused} refused, ${seconds.toFixed(1)} s`);
  });
});
