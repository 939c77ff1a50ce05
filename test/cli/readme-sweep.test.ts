/**
 * The README's "Choosing a rank" section stays true: its command is the one docs/sweep-digits.ts runs
 * to draw the chart it shows, the chart is there, and every flag it names exists on `lowrank sweep`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, runCli } from '../helpers.js';

describe('README "Choosing a rank: lowrank sweep"', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## Choosing a rank: lowrank sweep\n')[1]?.split('\n## ')[0] ?? '';

  it('shows the command docs/sweep-digits.ts runs, and the chart it draws', async () => {
    const command = /```sh\nnpx lowrank (sweep [^\n]+)\n```/.exec(section)?.[1];
    assert.ok(command !== undefined, 'a sweep command');
    const script = await readFile(path.join(ROOT, 'docs', 'sweep-digits.ts'), 'utf8');
    const args = /const README_ARGS = \[([^\]]+)\]/.exec(script)?.[1]?.match(/'[^']*'/g)?.map((a) => a.slice(1, -1));
    assert.deepEqual(args, command.split(' '));
    assert.match(section, /!\[[^\]]+\]\(docs\/sweep-digits\.svg\)/);
    const svg = await readFile(path.join(ROOT, 'docs', 'sweep-digits.svg'), 'utf8');
    const epochs = /--epochs (\d+)/.exec(command)?.[1];
    assert.match(svg, new RegExp(`^<svg xmlns="http://www.w3.org/2000/svg"[\\s\\S]*after ${epochs} epochs of fine-tuning`));
  });

  it('names only flags lowrank sweep has', async () => {
    const help = await runCli('sweep', '--help');
    assert.equal(help.code, 0, help.stderr);
    // `compress --rank N` names compress's flag, for comparison.
    const flags = [...new Set([...section.replace(/compress --[a-z-]+/g, '').matchAll(/(?<=[\s`])--[a-z][a-z0-9-]*/g)].map((m) => m[0]))];
    assert.ok(flags.length >= 10);
    for (const flag of flags) assert.match(help.stdout, new RegExp(`${flag}\\b`), `lowrank sweep has no ${flag}`);
  });
});
