/**
 * A 100M-parameter Dense model (ten 3162×3162 layers, 400 MB of float32 weights, generated into a
 * temporary folder shard by shard) compressed at rank 64 with --epochs 0 by the built CLI: time and
 * peak resident memory against the model's weight bytes (the bound: at most 2.5×).
 *
 *   npm run build && npx tsx bench/big-model.ts [layers] [width]
 */
import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeDenseModel } from './dense-model.js';
import { runLowrank, type CliRun } from './process.js';

export interface BigModelRow {
  layers: number;
  width: number;
  params: number;
  weightBytes: number;
  run: CliRun;
}

export async function benchBigModel(log: (line: string) => void = () => {}, layers = 10, width = 3162): Promise<BigModelRow> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lowrank-big-'));
  try {
    log(`  writing ${layers} Dense layers of ${width}×${width}…`);
    const model = await writeDenseModel(path.join(dir, 'model'), Array.from({ length: layers + 1 }, () => width), 5);
    let weightBytes = 0;
    for (const name of await readdir(path.dirname(model))) if (name.endsWith('.bin')) weightBytes += (await stat(path.join(path.dirname(model), name))).size;
    log(`  compressing ${(weightBytes / 2 ** 20).toFixed(0)} MiB of weights at rank 64…`);
    const run = runLowrank(['compress', model, '--rank', '64', '--epochs', '0', '--out', path.join(dir, 'out'), '--quiet', '--json']);
    if (run.status !== 0) throw new Error(`compress exited ${run.status}: ${run.stderr.slice(-2000)}`);
    return { layers, width, params: layers * (width * width + width), weightBytes, run };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatBigModelRow(r: BigModelRow): string {
  const mib = r.weightBytes / 2 ** 20;
  return `compress ${(r.params / 1e6).toFixed(0)}M-parameter Dense model (${r.layers} × ${r.width}²), rank 64, --epochs 0: ${(r.run.ms / 1000).toFixed(0)} s, peak RSS ${r.run.peakMiB.toFixed(0)} MiB for ${mib.toFixed(0)} MiB of weights → ${(r.run.peakMiB / mib).toFixed(2)}× (bound 2.5×)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [layers, width] = process.argv.slice(2).map(Number);
  console.log(formatBigModelRow(await benchBigModel((l) => console.error(l), layers || 10, width || 3162)));
}
