/**
 * Hostile model folders through the built CLI: each case copies the digits fixture, breaks it one way,
 * and runs `lowrank compress`. Every one must be refused with exit 2 and one line naming model.json and
 * the problem, nothing written, the inputs untouched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DIGITS_TRAIN, makeTempDir, removeTempDir, runCli } from '../helpers.js';
import { copyDigits, editJson, entries, expectRefused, SHARD, type Json } from './harness.js';

let tmp = '';
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeTempDir(tmp);
});

const write = (dir: string, text: string | Uint8Array) => writeFile(path.join(dir, 'model.json'), text);
const json = (edit: (j: Json) => void) => (dir: string) => editJson(dir, edit);

/** Overwrite float32 element `index` of the shard. */
async function setFloat(dir: string, index: number, value: number): Promise<void> {
  const file = path.join(dir, SHARD);
  const bytes = await readFile(file);
  bytes.writeFloatLE(value, index * 4);
  await writeFile(file, bytes);
}

/** Drop the last weight (dense_3/bias, 10 floats) from the manifest and the shard. */
async function dropLastWeight(dir: string): Promise<void> {
  await editJson(dir, (j) => entries(j).pop());
  const file = path.join(dir, SHARD);
  await truncate(file, (await readFile(file)).byteLength - 40);
}

interface Case {
  name: string;
  mutate: (dir: string, root: string) => Promise<unknown>;
  problem: RegExp;
  /** What the message must name (default: the model.json path). */
  mention?: string;
  extra?: string[];
}

const cases: Case[] = [
  { name: 'missing model.json', mutate: (d) => unlink(path.join(d, 'model.json')), problem: /cannot read model: no such file/ },
  { name: 'model.json is a folder', mutate: async (d) => { await unlink(path.join(d, 'model.json')); await mkdir(path.join(d, 'model.json')); }, problem: /is a folder/ },
  { name: 'empty file', mutate: (d) => write(d, ''), problem: /empty/ },
  { name: 'not JSON', mutate: (d) => write(d, 'hello, world'), problem: /not valid JSON/ },
  { name: 'truncated JSON', mutate: async (d) => write(d, (await readFile(path.join(d, 'model.json'), 'utf8')).slice(0, 500)), problem: /not valid JSON/ },
  { name: 'JSON array at the top', mutate: (d) => write(d, '[1, 2, 3]'), problem: /not a TF\.js Layers model\.json: .*object/ },
  { name: 'model.json over the size limit', mutate: (d) => write(d, Buffer.alloc(65 * 1024 * 1024, 0x20)), problem: /bytes, more than the \d+ allowed/ },
  { name: '100k nested arrays', mutate: (d) => write(d, `${'['.repeat(100_000)}${']'.repeat(100_000)}`), problem: /nested more than \d+ levels deep/ },
  { name: 'deep nesting inside the topology', mutate: (d) => write(d, `{"modelTopology": {"a": ${'{"b":'.repeat(50_000)}1${'}'.repeat(50_000)}}, "weightsManifest": []}`), problem: /nested more than \d+ levels deep/ },
  { name: 'a graph model', mutate: json((j) => { j['format'] = 'graph-model'; }), problem: /graph model/ },
  { name: 'an unknown format', mutate: json((j) => { j['format'] = 'keras-h5'; }), problem: /unsupported format "keras-h5"/ },
  { name: 'no modelTopology', mutate: json((j) => { delete j['modelTopology']; }), problem: /modelTopology/ },
  { name: 'no weightsManifest', mutate: json((j) => { delete j['weightsManifest']; }), problem: /weightsManifest/ },
  { name: 'weightsManifest not an array', mutate: json((j) => { j['weightsManifest'] = { paths: [SHARD] }; }), problem: /weightsManifest: .*array/ },
  { name: 'a negative dimension', mutate: json((j) => { (entries(j)[1] as Json)['shape'] = [-256]; }), problem: /weightsManifest\.0\.weights\.1\.shape\.0/ },
  { name: 'a fractional dimension', mutate: json((j) => { (entries(j)[1] as Json)['shape'] = [2.5]; }), problem: /weightsManifest\.0\.weights\.1\.shape\.0/ },
  { name: 'a dimension as a string', mutate: json((j) => { (entries(j)[1] as Json)['shape'] = ['256']; }), problem: /weightsManifest\.0\.weights\.1\.shape\.0/ },
  { name: 'an element count that overflows', mutate: json((j) => { (entries(j)[0] as Json)['shape'] = [1e9, 1e9]; }), problem: /weight "dense_1\/kernel" has shape \[1000000000, 1000000000\].*too large/ },
  { name: 'a dimension of 1e300', mutate: json((j) => { (entries(j)[0] as Json)['shape'] = [1e300, 0]; }), problem: /shape\.0 \(weight "dense_1\/kernel"\): Too big/ },
  { name: 'dtype string', mutate: json((j) => { (entries(j)[0] as Json)['dtype'] = 'string'; }), problem: /weightsManifest\.0\.weights\.0\.dtype/ },
  { name: 'dtype complex64', mutate: json((j) => { (entries(j)[0] as Json)['dtype'] = 'complex64'; }), problem: /weightsManifest\.0\.weights\.0\.dtype/ },
  { name: 'an unknown quantization dtype', mutate: json((j) => { (entries(j)[0] as Json)['quantization'] = { dtype: 'int4', min: 0, scale: 1 }; }), problem: /quantization\.dtype/ },
  { name: 'a duplicate weight name', mutate: json((j) => { (entries(j)[3] as Json)['name'] = 'dense_1/bias'; }), problem: /"dense_1\/bias" appears twice/ },
  { name: 'a weight missing for a layer', mutate: dropLastWeight, problem: /weightsManifest has no weight for dense_3\/bias/ },
  {
    name: 'an extra weight no layer uses',
    mutate: async (d) => {
      await editJson(d, (j) => entries(j).push({ name: 'stowaway/kernel', shape: [2], dtype: 'float32' }));
      await writeFile(path.join(d, SHARD), Buffer.concat([await readFile(path.join(d, SHARD)), Buffer.alloc(8)]));
    },
    problem: /weight "stowaway\/kernel" in weightsManifest belongs to no layer/,
  },
  {
    name: 'a shard path with ..',
    mutate: async (d, root) => {
      await writeFile(path.join(root, 'outside.bin'), await readFile(path.join(d, SHARD)));
      await editJson(d, (j) => { j['weightsManifest'][0]['paths'] = ['../outside.bin']; });
    },
    problem: /weight path "\.\.\/outside\.bin" leaves the model's folder/,
  },
  { name: 'an absolute shard path', mutate: json((j) => { j['weightsManifest'][0]['paths'] = ['/etc/passwd']; }), problem: /must be relative/ },
  { name: 'a URL shard path', mutate: json((j) => { j['weightsManifest'][0]['paths'] = ['https://example.com/x.bin']; }), problem: /must be relative/ },
  {
    name: 'an encoded .. shard path',
    mutate: async (d, root) => {
      await writeFile(path.join(root, 'outside.bin'), await readFile(path.join(d, SHARD)));
      await editJson(d, (j) => { j['weightsManifest'][0]['paths'] = ['%2e%2e%2foutside.bin']; });
    },
    problem: /leaves the model's folder/,
  },
  {
    name: 'a shard that links outside',
    mutate: async (d, root) => {
      await writeFile(path.join(root, 'outside.bin'), await readFile(path.join(d, SHARD)));
      await unlink(path.join(d, SHARD));
      await symlink(path.join(root, 'outside.bin'), path.join(d, SHARD));
    },
    problem: /links outside the model's folder/,
  },
  { name: 'a missing shard', mutate: (d) => unlink(path.join(d, SHARD)), problem: /cannot read weight file "group1-shard1of1\.bin": no such file/ },
  { name: 'a shard one byte short', mutate: async (d) => truncate(path.join(d, SHARD), 203_303), problem: /describes 203304 bytes but its files hold 203303/ },
  { name: 'a shard one byte long', mutate: async (d) => writeFile(path.join(d, SHARD), Buffer.concat([await readFile(path.join(d, SHARD)), Buffer.alloc(1)])), problem: /describes 203304 bytes but its files hold 203305/ },
  { name: 'NaN in a weight', mutate: (d) => setFloat(d, 16384 + 256 + 7, NaN), problem: /"dense_2\/kernel" holds NaN at element 7.*--allow-nonfinite/ },
  { name: 'Inf in a weight', mutate: (d) => setFloat(d, 5, -Infinity), problem: /"dense_1\/kernel" holds -Infinity at element 5.*--allow-nonfinite/ },
  // Without --data such a model is factorized around the unknown layer (test/cli/custom-layers.test.ts).
  { name: 'a custom layer class, with --data', mutate: json((j) => { j['modelTopology']['config']['layers'][1]['class_name'] = 'MyAttention'; }), extra: ['--data', DIGITS_TRAIN], problem: /the layer class\(es\) MyAttention are not standard TF\.js layers: give --setup/ },
  {
    name: 'a Sequential with zero layers',
    mutate: async (d) => {
      await editJson(d, (j) => {
        j['modelTopology']['config']['layers'] = [];
        j['weightsManifest'] = [];
      });
      await unlink(path.join(d, SHARD));
    },
    problem: /no layer lowrank can factorize/,
  },
  { name: 'units as a string', mutate: json((j) => { j['modelTopology']['config']['layers'][0]['config']['units'] = 'abc'; }), problem: /layer "dense_1" \(Dense\): units must be a positive whole number, found "abc"/ },
  { name: 'units negative', mutate: json((j) => { j['modelTopology']['config']['layers'][0]['config']['units'] = -4; }), problem: /layer "dense_1" \(Dense\): units must be a positive whole number, found -4/ },
  // tfjs would allocate a 64 x 10^8 kernel while building, before comparing it with the manifest.
  { name: 'units far beyond any stored weight', mutate: json((j) => { j['modelTopology']['config']['layers'][0]['config']['units'] = 100_000_000; }), problem: /layer "dense_1" \(Dense\): units 100000000 is larger than any stored weight dimension \(256\)/ },
  { name: 'an input of 10^10 values', mutate: json((j) => { j['modelTopology']['config']['layers'][0]['config']['batch_input_shape'] = [null, 100000, 100000]; }), problem: /an input of 10000000000 values per sample is more than/ },
  { name: 'layers not an array', mutate: json((j) => { j['modelTopology']['config']['layers'] = 'dense'; }), problem: /layers/ },
];

describe('hostile model folders are refused with exit 2 and nothing written', { concurrency: 2 }, () => {
  assert.ok(cases.length >= 25);
  cases.forEach((c, i) => {
    it(c.name, async () => {
      const root = path.join(tmp, `case-${i}`);
      const dir = await copyDigits(root);
      await c.mutate(dir, root);
      const model = path.join(dir, 'model.json');
      await expectRefused(root, [dir], ['compress', model, '--rank', '4', '--out', path.join(root, 'out'), ...(c.extra ?? [])], c.mention ?? model, c.problem);
      await rm(root, { recursive: true, force: true });
    });
  });
});

describe('--allow-nonfinite', () => {
  it('lets a model with NaN weights through', async () => {
    const root = path.join(tmp, 'allow-nonfinite');
    const dir = await copyDigits(root);
    await setFloat(dir, 3, NaN);
    const out = path.join(root, 'out');
    const r = await runCli('compress', path.join(dir, 'model.json'), '--rank', '4', '--epochs', '0', '--out', out, '--allow-nonfinite', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readdir(out)).includes('model.json'));
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as { layers: Array<{ name: string; rank: number | null; reason?: string }> };
    const dense1 = report.layers.find((l) => l.name === 'dense_1');
    assert.equal(dense1?.rank, null);
    assert.match(dense1?.reason ?? '', /NaN or Infinity/);
    assert.equal(report.layers.find((l) => l.name === 'dense_2')?.rank, 4);
  });
});
