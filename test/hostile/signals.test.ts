/**
 * An interrupted compress leaves nothing behind: SIGINT (or SIGTERM) during fine-tuning aborts the run,
 * removes the temporary output folder and exits 130 (143).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { DIGITS_MLP, DIGITS_TRAIN, makeTempDir, removeTempDir, ROOT } from '../helpers.js';
import { hashTree } from './harness.js';

let tmp = '';
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeTempDir(tmp);
});

/** Start a long compress, wait for its first epoch line, send `signal`; resolve with exit code and stderr. */
function interrupt(out: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin', 'lowrank.js'), 'compress', DIGITS_MLP, '--rank', '16', '--data', DIGITS_TRAIN, '--epochs', '200', '--out', out],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no epoch line within 60 s:\n${stderr}`));
    }, 60_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!sent && /^epoch 1\/200/m.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('an interrupted compress', () => {
  for (const [signal, exit] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during fine-tuning exits ${exit} and leaves no output and no temporary folder`, async () => {
      const root = path.join(tmp, signal);
      const before = await hashTree(path.dirname(DIGITS_MLP));
      const r = await interrupt(path.join(root, 'out'), signal);
      assert.equal(r.code, exit, r.stderr);
      assert.match(r.stderr.trim().split('\n').pop() ?? '', new RegExp(`^lowrank: interrupted \\(${signal}\\); nothing was written$`));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(existsSync(path.join(root, 'out')), false);
      const left = existsSync(root) ? (await readdir(root)).filter((n) => n.startsWith('.out.')) : [];
      assert.deepEqual(left, []);
      assert.deepEqual(await hashTree(path.dirname(DIGITS_MLP)), before);
    });
  }
});
