/**
 * Streaming keeps memory flat: fine-tune the digits MLP for one epoch on two generated CSV files of
 * very different sizes (default 100 MB and 1 GB) with --stream, each in its own process, and compare
 * peak resident memory. Prints the ratio measured in this run.
 *
 *   npx tsx bench/stream-memory.ts [smallMB] [largeMB]
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

const root = path.resolve(import.meta.dirname, '..');
const [smallMb = 100, largeMb = 1024] = process.argv.slice(2).map(Number);

/** A CSV of digit-like rows (64 integer pixels 0..16 and a label) of about `mb` megabytes. */
async function writeCsv(file: string, mb: number): Promise<number> {
  const out = createWriteStream(file);
  out.write(Array.from({ length: 64 }, (_, i) => `p${i}`).concat('label').join(',') + '\n');
  let bytes = 0;
  let rows = 0;
  let seed = 1;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % 17;
  while (bytes < mb * 1024 * 1024) {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++, rows++) lines.push(Array.from({ length: 64 }, next).concat(rows % 10).join(','));
    const chunk = lines.join('\n') + '\n';
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return rows;
}

/** Peak RSS (MiB) of one `lowrank compress --stream` run, as the kernel counted it. */
function peakRss(csv: string, out: string): { mib: number; seconds: number } {
  const started = performance.now();
  // The child reports its own peak RSS (KiB) on exit, so no external tool is needed.
  const report = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss "+process.resourceUsage().maxRSS+"\\n"))';
  const child = spawnSync(
    process.execPath,
    ['--import', report, path.join(root, 'bin/lowrank.js'), 'compress', path.join(root, 'fixtures/digits-mlp/model.json'), '--rank', '16', '--data', csv, '--stream', '--epochs', '1', '--batch-size', '256', '--validation-split', '0.01', '--out', out, '--quiet', '--json'],
    { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 },
  );
  if (child.status !== 0) throw new Error(`lowrank exited ${child.status}: ${child.stderr}`);
  const text = child.stderr;
  const kib = Number(/maxrss (\d+)/.exec(text)?.[1]);
  return { mib: kib / 1024, seconds: (performance.now() - started) / 1000 };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'lowrank-stream-bench-'));
try {
  const results = [];
  for (const mb of [smallMb, largeMb]) {
    const csv = path.join(dir, `rows-${mb}.csv`);
    const rows = await writeCsv(csv, mb);
    const size = (await stat(csv)).size / (1024 * 1024);
    const run = peakRss(csv, path.join(dir, `out-${mb}`));
    results.push({ size, rows, ...run });
    console.log(`${size.toFixed(0)} MiB CSV (${rows.toLocaleString('en-US')} rows): peak RSS ${run.mib.toFixed(0)} MiB, ${run.seconds.toFixed(0)} s`);
    await rm(csv);
  }
  const [a, b] = results as [(typeof results)[0], (typeof results)[0]];
  console.log(`file ${(b.size / a.size).toFixed(1)}x larger → peak memory ${(b.mib / a.mib).toFixed(2)}x (flat means ≈ 1.00; target within 1.20)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
