/**
 * `--force` replaces only a folder that is itself a lowrank output: `--out ~ --force` must never delete
 * a home folder. Anything else is refused (exit 2, naming the folder) and left byte-identical.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DIGITS_MLP, hashFolder, runCli } from '../helpers.js';

let tmp: string;
let lowrankOutput: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-force-'));
  lowrankOutput = path.join(tmp, 'made-by-lowrank');
  const r = await runCli('compress', DIGITS_MLP, '--rank', '8', '--out', lowrankOutput, '-q');
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A copy of the lowrank output, changed by `change`. */
async function variant(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = path.join(tmp, name);
  await cp(lowrankOutput, dir, { recursive: true });
  await change(dir);
  return dir;
}

describe('--force', () => {
  const refused: Array<[string, () => Promise<string>]> = [
    ['a folder of someone else\'s files', async () => {
      const dir = path.join(tmp, 'home');
      await mkdir(path.join(dir, 'Documents'), { recursive: true });
      await writeFile(path.join(dir, '.bashrc'), 'export PS1=$\n');
      await writeFile(path.join(dir, 'Documents', 'thesis.tex'), '\\documentclass{article}\n');
      return dir;
    }],
    ['a lowrank output with an extra file', () => variant('extra-file', (d) => writeFile(path.join(d, 'notes.txt'), 'mine\n'))],
    ['a lowrank output with a subfolder', () => variant('extra-dir', (d) => mkdir(path.join(d, 'data')))],
    ['a model folder without lowrank\'s report', () => variant('no-report', (d) => rm(path.join(d, 'report.json')))],
    ['a folder whose report.json another tool wrote', () => variant('other-report', (d) => writeFile(path.join(d, 'report.json'), '{"tool": {"name": "other"}}'))],
    ['a folder missing a shard the manifest names', () => variant('missing-shard', (d) => rm(path.join(d, 'group1-shard1of1.bin')))],
    ['a shard that is a symlink', () => variant('symlinked', async (d) => {
      await rm(path.join(d, 'group1-shard1of1.bin'));
      await symlink(path.join(lowrankOutput, 'group1-shard1of1.bin'), path.join(d, 'group1-shard1of1.bin'));
    })],
    ['a file', async () => {
      const file = path.join(tmp, 'a-file');
      await writeFile(file, 'precious\n');
      return file;
    }],
  ];
  for (const [name, make] of refused) {
    it(`refuses ${name}, even with --force, and leaves it untouched`, async () => {
      const target = await make();
      const isFile = !(await readdir(path.dirname(target), { withFileTypes: true })).find((e) => e.name === path.basename(target))?.isDirectory();
      const before = isFile ? await readFile(target, 'utf8') : await hashFolder(target);
      const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--out', target, '--force');
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^lowrank: ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: exists and is not a lowrank output folder`));
      assert.deepEqual(isFile ? await readFile(target, 'utf8') : await hashFolder(target), before);
      assert.deepEqual((await readdir(tmp)).filter((n) => n.includes('.tmp-') || n.includes('.old-')), []);
    });
  }

  it('without --force, a foreign folder is refused with the same line (--force would not help)', async () => {
    const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--out', path.join(tmp, 'home'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exists and is not a lowrank output folder/);
  });

  it('replaces a lowrank output folder', async () => {
    const target = await variant('replace-me', async () => {});
    const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--out', target, '--force', '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(await readFile(path.join(target, 'report.json'), 'utf8')) as { options: { rank: string } };
    assert.equal(report.options.rank, '4');
  });

  it('fills an empty folder without --force', async () => {
    const target = path.join(tmp, 'empty');
    await mkdir(target);
    const r = await runCli('compress', DIGITS_MLP, '--rank', '4', '--out', target, '-q');
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('--out', () => {
  it('never replaces the input model\'s own folder, even when it is a lowrank output', async () => {
    const before = await hashFolder(lowrankOutput);
    const r = await runCli('compress', path.join(lowrankOutput, 'model.json'), '--rank', '2', '--out', lowrankOutput, '--force');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^lowrank: --out .* holds the input .*model\.json; write the output somewhere else\n$/);
    assert.deepEqual(await hashFolder(lowrankOutput), before);
  });
});
