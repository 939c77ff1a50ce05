/**
 * The README's command gives the same report.json as it did before the pipeline was restructured
 * into stages: everything but what a run cannot repeat (timings, latency, samples/s, createdAt) and
 * where the checkout lives. Refresh the stored report after an intended change with UPDATE_SNAPSHOTS=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, ROOT, makeTempDir, removeTempDir } from '../helpers.js';

const STORED = path.join(ROOT, 'test', 'compress', 'fixtures', 'readme-report.json');

/** The report without what differs from run to run, with paths relative to the repository. */
export function repeatable(report: unknown): unknown {
  const { createdAt: _c, timings: _t, ...rest } = report as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest), function (key, value: unknown) {
    if (typeof value === 'string' && path.isAbsolute(value)) return path.relative(ROOT, value).split(path.sep).join('/');
    if (key === 'speed' && Array.isArray(value)) return value.map((s: Record<string, unknown>) => ({ batchSize: s['batchSize'] }));
    if (key === 'epochs' && Array.isArray(value)) return value.map(({ samplesPerSecond: _s, seconds: _d, ...epoch }: Record<string, unknown>) => epoch);
    return value;
  });
}

describe('the README command\'s report', () => {
  it('equals the stored one but for timings, latency, createdAt and paths', async () => {
    const dir = await makeTempDir();
    try {
      const out = path.join(ROOT, 'fixtures', 'digits-mlp-lowrank');
      const { report } = await compress({ model: DIGITS_MLP, rank: 16, data: DIGITS_TRAIN, validationData: DIGITS_TEST, epochs: 10, out: path.join(dir, 'out') });
      // The README writes to fixtures/digits-mlp-lowrank; this run writes elsewhere and says so.
      const actual = repeatable({ ...report, output: { ...(report?.output ?? {}), path: out } });
      if (process.env['UPDATE_SNAPSHOTS'] === '1') await writeFile(STORED, `${JSON.stringify(actual, null, 2)}\n`);
      assert.deepEqual(actual, JSON.parse(await readFile(STORED, 'utf8')));
    } finally {
      await removeTempDir(dir);
    }
  });
});
