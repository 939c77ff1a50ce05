/**
 * buildReport is pure: numbers in, report out. Tested on hand-made facts, with no model and no
 * TensorFlow.js (a child process proves the module loads none).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildReport, type ReportFacts } from '../../src/compress/report.js';
import { resolveCompressOptions } from '../../src/compress/options.js';
import type { PlanEntry } from '../../src/factorize/plan.js';
import { ReportSchema, type SizeVariant } from '../../src/report/schema.js';
import { ROOT } from '../helpers.js';

const run = promisify(execFile);

const entry = (name: string, m: number, n: number, rank: number | null): PlanEntry =>
  ({
    name,
    className: 'Dense',
    m,
    n,
    rank,
    maxUsefulRank: Math.floor((m * n - 1) / (m + n)),
    paramsBefore: m * n + n,
    paramsAfter: rank === null ? m * n + n : rank * (m + n) + n,
    singularValues: [3, 2, 1],
    ...(rank === null ? { reason: 'rank 16 saves nothing' } : { energyKept: 0.9, relativeError: 0.3 }),
  }) as unknown as PlanEntry;

const variant = (name: SizeVariant['variant'], weightBytes: number, accuracy?: number): SizeVariant =>
  ({ variant: name, params: 1, weightBytes, totalBytes: weightBytes + 500, gzipBytes: weightBytes - 1, metrics: accuracy === undefined ? null : { accuracy, loss: 0.1 } }) as SizeVariant;

function facts(input: Parameters<typeof resolveCompressOptions>[0]): ReportFacts {
  return {
    options: resolveCompressOptions(input),
    backend: 'wasm',
    createdAt: new Date('2026-11-29T12:00:00Z'),
    plan: [entry('a', 64, 256, 16), entry('b', 128, 10, null)],
    input: { params: 18_000, weightBytes: 72_000, gzipBytes: 70_000 },
    outputParams: 6_000,
    data: null,
    loss: null,
    objective: null,
    evaluation: null,
    training: null,
    sizes: [variant('float32', 72_000), variant('lowrank', 24_000, 0.9), variant('lowrank+float16', 12_000, 0.85)],
    speed: [],
    flops: { original: 100, output: 40, uncountedLayers: [] },
    timings: { loadMs: 1, factorizeMs: 2, evaluateMs: 0, fineTuneMs: 0, measureMs: 3 },
  };
}

describe('buildReport', () => {
  it('states the facts as the schema wants them, summing the plan and leaving write times to the write', () => {
    const report = buildReport(facts({ model: 'm/model.json', rank: '16' }));
    const parsed = ReportSchema.safeParse(report);
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues[0]));
    assert.equal(report.createdAt, '2026-11-29T12:00:00.000Z');
    assert.equal(report.input.factorizableParams, 64 * 256 + 256 + 128 * 10 + 10);
    assert.equal(report.output.factorizableParams, 16 * (64 + 256) + 256 + 128 * 10 + 10);
    assert.equal(report.output.path, path.resolve('m-lowrank'));
    assert.deepEqual([report.output.weightBytes, report.output.gzipBytes], [24_000, 23_999]);
    assert.deepEqual(report.layers.map((l) => [l.name, l.rank, l.shape]), [['a', 16, [64, 256]], ['b', null, [128, 10]]]);
    assert.equal(report.layers[1]?.reason, 'rank 16 saves nothing');
    assert.deepEqual([report.timings.writeMs, report.timings.totalMs], [0, 0]);
    assert.equal(report.gates, undefined);
    assert.equal(report.training, null);
  });

  it('takes the output bytes from the variant written under --quantize, and gates that variant', () => {
    const report = buildReport(facts({ model: 'm/model.json', rank: '16', quantize: 'float16', minSizeReduction: 7 }));
    assert.equal(report.options.quantize, 'float16');
    assert.equal(report.output.weightBytes, 12_000);
    assert.deepEqual(report.gates?.map((g) => [g.gate, g.value, g.passed]), [['min-size-reduction', 6, false]]);
  });

  it('loads no TensorFlow.js', async () => {
    const code = "await import('./src/compress/report.ts');";
    const hooks = path.join(ROOT, 'test', 'architecture', 'trace-loads.mjs');
    const log = path.join(ROOT, `.loads-${process.pid}.txt`);
    try {
      await run(process.execPath, ['--import', 'tsx', '--import', hooks, '--input-type=module', '-e', code], { cwd: ROOT, env: { ...process.env, LOWRANK_TRACE_LOADS: log } });
      const loads = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      assert.ok(loads.some((u) => u.endsWith('/src/compress/report.ts')));
      assert.deepEqual(loads.filter((u) => u.includes('@tensorflow/')), []);
    } finally {
      await rm(log, { force: true });
    }
  });
});
