/**
 * The README's "Use in CI" section: every lowrank flag in it exists on the command it is given to,
 * so the example cannot rot as options change.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, runCli } from '../helpers.js';

describe('README "Use in CI"', () => {
  it('uses only flags that lowrank compress and lowrank report have', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('\n## Use in CI\n')[1]?.split('\n## ')[0] ?? '';
    assert.match(section, /```yaml\n[\s\S]*actions\/upload-artifact[\s\S]*```/, 'a GitHub Actions job');
    // Folded YAML and prose: a command runs from `npx lowrank` to the shell redirection or backtick.
    const commands = [...section.replace(/\n\s*/g, ' ').matchAll(/npx lowrank (\w+)([^>`]*)/g)].map((m) => ({ command: m[1] as string, args: m[2] as string }));
    assert.deepEqual(commands.map((c) => c.command), ['compress', 'report']);
    for (const { command, args } of commands) {
      const help = await runCli(command, '--help');
      assert.equal(help.code, 0, help.stderr);
      const flags = [...args.matchAll(/(?<=\s)--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
      assert.ok(flags.length > 0);
      for (const flag of flags) assert.match(help.stdout, new RegExp(`${flag}\\b`), `lowrank ${command} has no ${flag}`);
    }
  });
});
