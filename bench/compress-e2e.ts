/**
 * `lowrank compress` end to end, as before issue 11 (--svd exact, LOWRANK_REFERENCE_KERNELS=1) and
 * as now (defaults), one after the other in this run:
 * - the README's command on its model (digits MLP at rank 16, 10 epochs on the digits fixture);
 * - the model: two 1024×1024 Dense layers (seeded, written to a temporary folder) at rank 64
 *   with --epochs 0, where the full SVDs took 88 of 90 s.
 *
 *   npm run build && npx tsx bench/compress-e2e.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runLowrank, type CliRun } from './process.js';
import { writeDenseModel } from './dense-model.js';

export interface CompressBenchRow {
  label: string;
  before: CliRun;
  after: CliRun;
}

const BEFORE = { env: { LOWRANK_REFERENCE_KERNELS: '1' }, args: ['--svd', 'exact'] };

function pair(label: string, args: string[], out: string): CompressBenchRow {
  const before = runLowrank([...args, ...BEFORE.args, '--out', `${out}-before`, '--quiet', '--json'], BEFORE.env);
  const after = runLowrank([...args, '--out', `${out}-after`, '--quiet', '--json']);
  for (const [name, run] of [['before', before], ['after', after]] as const) {
    if (run.status !== 0) throw new Error(`${label} (${name}) exited ${run.status}: ${run.stderr.slice(-1000)}`);
  }
  return { label, before, after };
}

export async function benchCompress(log: (line: string) => void = () => {}): Promise<CompressBenchRow[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lowrank-e2e-'));
  try {
    const rows: CompressBenchRow[] = [];
    const fixture = (p: string): string => path.join(ROOT, 'fixtures', p);
    rows.push(pair('README model (digits MLP, rank 16, 10 epochs)', ['compress', fixture('digits-mlp/model.json'), '--rank', '16', '--data', fixture('digits/train.csv'), '--validation-data', fixture('digits/test.csv'), '--epochs', '10'], path.join(dir, 'readme')));
    log(`  README model: ${(rows[0]!.before.ms / 1000).toFixed(1)} s before, ${(rows[0]!.after.ms / 1000).toFixed(1)} s now`);
    const model = await writeDenseModel(path.join(dir, 'two-1024'), [1024, 1024, 1024], 1);
    rows.push(pair('two 1024×1024 Dense layers, rank 64, --epochs 0', ['compress', model, '--rank', '64', '--epochs', '0'], path.join(dir, 'two-1024')));
    log(`  two 1024² layers: ${(rows[1]!.before.ms / 1000).toFixed(1)} s before, ${(rows[1]!.after.ms / 1000).toFixed(1)} s now`);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatCompressRows(rows: readonly CompressBenchRow[]): string[] {
  return rows.map(
    (r) =>
      `compress ${r.label}: ${(r.after.ms / 1000).toFixed(1)} s now vs ${(r.before.ms / 1000).toFixed(1)} s before issue 11 (--svd exact, reference kernels) → ${(r.before.ms / r.after.ms).toFixed(1)}×; peak RSS ${r.after.peakMiB.toFixed(0)} vs ${r.before.peakMiB.toFixed(0)} MiB`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of formatCompressRows(await benchCompress((l) => console.error(l)))) console.log(line);
}
