/**
 * Cases the fuzzer and the hostile tables found, fixed, and kept: each folder under fixtures/ holds a
 * model.json + shard and expect.json (where it was found, what fixed it, the outcome and message).
 * Each must give its outcome in-process and leave no tensor behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LowrankError } from '../../src/errors.js';
import { readModel, toLayersModel } from '../../src/io/index.js';
import { tf } from '../../src/tf.js';
import { useTempDirAndLeakCheck } from '../helpers.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
useTempDirAndLeakCheck();

interface Expect {
  found: string;
  fixed: string;
  outcome: 'loaded' | 'refused';
  message?: string;
}

describe('regression fixtures from fuzzing and the hostile tables', () => {
  for (const name of readdirSync(FIXTURES).sort()) {
    const expect = JSON.parse(readFileSync(path.join(FIXTURES, name, 'expect.json'), 'utf8')) as Expect;
    it(`${name} (${expect.found})`, async () => {
      const file = path.join(FIXTURES, name, 'model.json');
      const before = await readFile(file);
      const tensors = tf.memory().numTensors;
      let outcome: 'loaded' | 'refused';
      try {
        const stored = await readModel(file);
        const model = await toLayersModel(file, stored.json.modelTopology, stored.weights);
        model.dispose();
        outcome = 'loaded';
      } catch (err) {
        if (!(err instanceof LowrankError)) throw err;
        if (expect.message !== undefined) assert.ok(err.message.includes(expect.message), err.message);
        outcome = 'refused';
      }
      assert.equal(outcome, expect.outcome);
      assert.equal(tf.memory().numTensors, tensors, 'tensors left behind');
      assert.deepEqual(await readFile(file), before);
    });
  }
});
