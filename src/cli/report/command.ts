/**
 * `lowrank report`: its flags; the handler loads only when it runs (and never loads TensorFlow.js).
 */
import type { Command } from 'commander';
import { colorFlag, formatFlags, gateFlags } from '../flags.js';

export function reportCommand(cli: Command): void {
  const cmd = cli
    .command('report')
    .description('print the report of a lowrank output folder (or a report.json), gate on it, or compare two')
    .argument('[paths...]', 'output folder or report.json (two with --compare); none: ./report.json, else the newest lowrank output folder here');
  formatFlags(cmd).option('--compare', 'show two reports side by side: lowrank report --compare A B');
  gateFlags(cmd);
  colorFlag(cmd).action(async (targets: string[], opts: Record<string, unknown>) => {
    const { runReport } = await import('./run.js');
    process.exitCode = await runReport(targets, opts);
  });
}
