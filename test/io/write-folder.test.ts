/**
 * writeFolderAtomically: the folder appears whole, and files computed last (report.json) learn how long
 * the others took to write — the report's `timings.writeMs` times the write, not building it in memory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFolderAtomically } from '../../src/io/save.js';
import { compress } from '../../src/compress/index.js';
import { DIGITS_MLP } from '../helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-write-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('writeFolderAtomically', () => {
  it('calls `last` once every other file is on disk, with the time writing them took', async () => {
    const target = path.join(tmp, 'out');
    const files = new Map<string, Uint8Array | string>([
      ['model.json', '{}'],
      ['group1-shard1of2.bin', new Uint8Array(8 << 20)],
      ['group1-shard2of2.bin', new Uint8Array(8 << 20)],
    ]);
    let seen: string[] = [];
    let writeMs = -1;
    const started = performance.now();
    await writeFolderAtomically(target, files, false, undefined, (ms) => {
      writeMs = ms;
      // Not yet renamed into place: the files are in the temporary sibling, all of them.
      seen = temporaryFolderNames();
      return new Map([['report.json', JSON.stringify({ writeMs: ms })]]);
    });
    const total = performance.now() - started;
    assert.deepEqual(seen.sort(), ['group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json']);
    assert.ok(writeMs > 0 && writeMs <= total, `writeMs ${writeMs} within the call's ${total} ms`);
    assert.deepEqual((await readdir(target)).sort(), ['group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json', 'report.json']);
    assert.equal(JSON.parse(await readFile(path.join(target, 'report.json'), 'utf8')).writeMs, writeMs);
  });

  it('compress() reports the time its write took, within the time from the write stage to its return', async () => {
    let writeStarted = 0;
    const out = path.join(tmp, 'compressed');
    const { report } = await compress({
      model: DIGITS_MLP,
      rank: 8,
      out,
      onEvent: (e) => {
        if (e.status === 'stage' && e.stage === 'write') writeStarted = performance.now();
      },
    });
    const sinceWrite = performance.now() - writeStarted;
    assert.ok(report !== null);
    assert.ok(report.timings.writeMs > 0 && report.timings.writeMs <= sinceWrite, `writeMs ${report.timings.writeMs}, ${sinceWrite} ms since the write began`);
    const stored = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as { timings: { writeMs: number; totalMs: number } };
    assert.equal(stored.timings.writeMs, report.timings.writeMs);
    assert.ok(stored.timings.totalMs >= stored.timings.writeMs);
  });
});

/** Names in the one temporary folder writeFolderAtomically made in `tmp`. */
function temporaryFolderNames(): string[] {
  const temporary = readdirSync(tmp).filter((n) => n.includes('.tmp-'));
  assert.equal(temporary.length, 1);
  return readdirSync(path.join(tmp, temporary[0] as string));
}
