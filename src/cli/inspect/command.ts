/**
 * `lowrank inspect`: its flags; the handler loads only when it runs.
 */
import type { Command } from 'commander';
import { backendFlag, colorFlag, nonfiniteFlag, setupFlag, svdFlag } from '../flags.js';

export function inspectCommand(cli: Command): void {
  const cmd = cli
    .command('inspect')
    .description('list a model\'s layers, and for each factorizable one the ranks for 90/95/99% energy and what they save')
    .argument('<model>', 'path to model.json')
    .option('--layers <patterns>', 'only these layers in the rank table (globs, comma-separated, !pattern excludes)')
    .option('--ratio <fraction>', 'also show the ranks compress --ratio would allocate without data (0.1)');
  svdFlag(setupFlag(nonfiniteFlag(cmd)));
  backendFlag(cmd).option('--json', 'print as JSON');
  colorFlag(cmd).action(async (model: string, opts: Record<string, unknown>) => {
    const { runInspect } = await import('./run.js');
    process.exitCode = await runInspect(model, opts);
  });
}
