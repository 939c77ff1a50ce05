/**
 * Regenerates docs/sweep-digits.svg, the chart in the README's "Choosing a rank" section: runs the
 * README's `lowrank sweep` command with the built CLI into a temporary folder, keeps its sweep.svg,
 * and prints the table the command printed (the README shows it).
 *
 *   npm run build && npx tsx docs/sweep-digits.ts
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The README's command, word for word after `npx lowrank`. */
const README_ARGS = ['sweep', 'fixtures/digits-mlp/model.json', '--data', 'fixtures/digits/train.csv', '--validation-data', 'fixtures/digits/test.csv', '--ratios', '0.05,0.1,0.2,0.3', '--epochs', '3'];

const tmp = await mkdtemp(path.join(os.tmpdir(), 'lowrank-sweep-docs-'));
try {
  const out = path.join(tmp, 'sweep');
  const r = spawnSync(process.execPath, [path.join(root, 'bin', 'lowrank.js'), ...README_ARGS, '--out', out, '-q'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`lowrank sweep exited ${r.status}: ${r.stderr}`);
  await copyFile(path.join(out, 'sweep.svg'), path.join(root, 'docs', 'sweep-digits.svg'));
  process.stdout.write(r.stdout);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
