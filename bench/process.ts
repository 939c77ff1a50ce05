/**
 * Run the built CLI in a child process and measure it: wall time, exit code, and peak resident memory
 * as the kernel counted it (the child reports its own maxRSS on exit, so no external tool is needed).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');

export interface CliRun {
  status: number | null;
  ms: number;
  /** Peak resident set size of the child, MiB. */
  peakMiB: number;
  stdout: string;
  stderr: string;
}

const REPORT_RSS = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss "+process.resourceUsage().maxRSS+"\\n"))';

export function runLowrank(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--import', REPORT_RSS, path.join(ROOT, 'bin/lowrank.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 1 << 26,
  });
  const ms = performance.now() - started;
  const kib = Number(/maxrss (\d+)/.exec(child.stderr)?.[1] ?? NaN);
  return { status: child.status, ms, peakMiB: kib / 1024, stdout: child.stdout, stderr: child.stderr.replace(/\nmaxrss \d+\n$/, '') };
}
