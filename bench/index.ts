/**
 * `npm run bench`: one table, each line a ratio measured side by side in this run.
 *
 *   npm run bench [-- --quick]
 *
 * - truncated SVD at rank 64, randomized against ml-matrix's full SVD (time and error), at 256²,
 *   1024² and 4096×1024 (bench/svd.ts; --quick skips timing the full SVD of 4096×1024, minutes);
 * - fine-tuning samples/s of the issue's MLP and CNN with issue 11's kernels and without them
 *   (bench/train.ts, alternating processes, median of 3; --quick: 1);
 * - `lowrank compress` end to end, as before issue 11 (--svd exact and LOWRANK_REFERENCE_KERNELS=1)
 *   and as now: on the README's model and command, and on the issue's model of two 1024×1024 Dense
 *   layers at rank 64 (bench/compress-e2e.ts);
 * - the 100M-parameter Dense model factorized at rank 64: time and peak RSS against its weight bytes
 *   (bench/big-model.ts);
 * - whether a second core pays: data-parallel training and concurrent SVDs in two worker threads
 *   against one (bench/two-cores.ts, upper bounds);
 * - where /usr/bin/python3 has torch and numpy: the same SVDs and training there, and lowrank's ratio
 *   to them (bench/reference.py; PyTorch with 1 and with 2 threads, the faster counted).
 * Progress goes to stderr; the table to stdout. Copy it into bench/RESULTS.md with the date and machine.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { benchSvd, formatSvdRows, type SvdBenchRow } from './svd.js';
import { benchTraining, formatTrainRows, type TrainBenchRow, type TrainModel } from './train.js';
import { benchCompress, formatCompressRows } from './compress-e2e.js';
import { benchBigModel, formatBigModelRow } from './big-model.js';
import { benchTwoCores, formatTwoCoresRows } from './two-cores.js';

const quick = process.argv.includes('--quick');
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const root = path.resolve(import.meta.dirname, '..');
const python = '/usr/bin/python3';

/** One JSON line from bench/reference.py, or undefined where Python, torch or numpy is missing. */
function reference(args: string[]): Record<string, number> | undefined {
  const run = spawnSync(python, [path.join(root, 'bench/reference.py'), ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0) return undefined;
  const line = run.stdout.trim().split('\n').pop();
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, number>);
}

function hasReference(): boolean {
  return spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
}

function referenceSvdRows(rows: readonly SvdBenchRow[]): string[] {
  return rows.map((r) => {
    const [m, n] = r.shape.split('×').map(Number) as [number, number];
    const ref = reference(['svd', String(m), String(n), String(r.rank)]);
    if (ref === undefined) return `SVD ${r.shape} rank ${r.rank} vs NumPy/PyTorch: reference run failed`;
    const numpy = ref['numpyFullMs'] as number;
    const torch = ref['torchLowrankMs'] as number;
    return `SVD ${r.shape} rank ${r.rank} vs OpenBLAS: lowrank randomized ${(r.randomizedMs / 1000).toFixed(2)} s; numpy.linalg.svd (full) ${(numpy / 1000).toFixed(2)} s → lowrank ${(numpy / r.randomizedMs).toFixed(2)}× its speed; torch.svd_lowrank ${(torch / 1000).toFixed(2)} s (error ${ref['torchLowrankError']?.toFixed(4)}) → lowrank ${(torch / r.randomizedMs).toFixed(2)}× its speed`;
  });
}

function referenceTrainRows(rows: readonly TrainBenchRow[]): string[] {
  return rows.map((r) => {
    const runs = [1, 2].map((threads) => reference(['train', r.model, String(threads)])).filter((x) => x !== undefined);
    if (runs.length === 0) return `fine-tune ${r.model.toUpperCase()} vs PyTorch: reference run failed`;
    const best = runs.reduce((a, b) => ((a['samplesPerSecond'] as number) >= (b['samplesPerSecond'] as number) ? a : b));
    const each = runs.map((x) => `${(x['samplesPerSecond'] as number).toFixed(0)} with ${x['threads']} thread(s)`).join(', ');
    const torch = best['samplesPerSecond'] as number;
    return `fine-tune ${r.model.toUpperCase()} vs PyTorch: lowrank ${r.fast.toFixed(0)} samples/s; PyTorch ${each} → lowrank ${(r.fast / torch).toFixed(2)}× the faster`;
  });
}

const lines: string[] = [];
log('SVD…');
const svdRows = await benchSvd({ quick, log });
lines.push(...formatSvdRows(svdRows));
log('fine-tuning…');
const models: TrainModel[] = ['mlp', 'cnn'];
const trainRows = benchTraining(models, quick ? 1 : 3, log);
lines.push(...formatTrainRows(trainRows));
log('compress end to end…');
lines.push(...formatCompressRows(await benchCompress(log)));
log('100M-parameter model…');
lines.push(formatBigModelRow(await benchBigModel(log)));
log('two cores…');
lines.push(...formatTwoCoresRows(await benchTwoCores()));
if (hasReference()) {
  log('NumPy / PyTorch…');
  lines.push(...referenceSvdRows(svdRows));
  lines.push(...referenceTrainRows(trainRows));
} else {
  lines.push('NumPy / PyTorch: not installed here (apt-get install python3-torch python3-numpy libopenblas0-pthread)');
}

const cpus = os.cpus();
console.log(`lowrank bench · ${new Date().toISOString().slice(0, 10)} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · Node ${process.version} · load ${os.loadavg()[0]?.toFixed(1)}`);
for (const line of lines) console.log(`- ${line}`);
