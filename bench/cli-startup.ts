/**
 * How fast the commands that need no model start: `lowrank --help`, `lowrank compress --help` and
 * `lowrank report <report.json>`, against the same commands with TensorFlow.js loaded first (what
 * every command paid before handlers were lazy-loaded: the CLI imported the whole library, tfjs and
 * its wasm backend included). Runs alternate pair by pair; prints medians and the ratio.
 *
 *   npm run build && npx tsx bench/cli-startup.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'lowrank.js');
const eager = path.join(root, 'dist', 'tf.js');
const runs = Number(process.argv[2] ?? 15);

function time(args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const commands: Array<[string, string[]]> = [
  ['lowrank --help', ['--help']],
  ['lowrank compress --help', ['compress', '--help']],
  ['lowrank report <report.json>', ['report', path.join('test', 'report', 'fixtures', 'report.json')]],
];

console.log(`cli-startup: ${runs} runs each, alternating; node ${process.version}`);
console.log('command                          lazy (ms)   tfjs loaded (ms)   ratio');
for (const [label, args] of commands) {
  const lazy: number[] = [];
  const loaded: number[] = [];
  time([bin, ...args]); // warm the file cache
  for (let i = 0; i < runs; i++) {
    lazy.push(time([bin, ...args]));
    loaded.push(time(['--import', eager, bin, ...args]));
  }
  const a = median(lazy);
  const b = median(loaded);
  console.log(`${label.padEnd(32)} ${a.toFixed(0).padStart(9)}   ${b.toFixed(0).padStart(16)}   ${(b / a).toFixed(2)}×`);
}
