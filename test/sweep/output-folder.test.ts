/**
 * A sweep's folder is a lowrank output that --force may replace only when it holds nothing but what a
 * sweep writes, and its sweep.json says lowrank wrote it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { outputState } from '../../src/io/save.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-sweep-folder-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir);
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
  return dir;
}

const ours = JSON.stringify({ tool: { name: 'lowrank', version: '0.1.0' } });

describe('outputState of a sweep folder', () => {
  it('is a lowrank output when it holds sweep.json by lowrank and its renderings', async () => {
    assert.equal(await outputState(await folder('whole', { 'sweep.json': ours, 'sweep.md': '', 'sweep.html': '', 'sweep.svg': '' })), 'lowrank-output');
    assert.equal(await outputState(await folder('json-only', { 'sweep.json': ours })), 'lowrank-output');
  });

  it('is not when another tool wrote sweep.json, or the folder holds anything else', async () => {
    assert.equal(await outputState(await folder('other-tool', { 'sweep.json': '{"tool":{"name":"other"}}', 'sweep.svg': '' })), 'other');
    assert.equal(await outputState(await folder('not-json', { 'sweep.json': 'lowrank', 'sweep.svg': '' })), 'other');
    assert.equal(await outputState(await folder('extra', { 'sweep.json': ours, 'notes.txt': 'mine' })), 'other');
    assert.equal(await outputState(await folder('no-record', { 'sweep.md': '', 'sweep.svg': '' })), 'other');
    assert.equal(await outputState(await folder('with-model', { 'sweep.json': ours, 'model.json': '{}' })), 'other');
  });
});
