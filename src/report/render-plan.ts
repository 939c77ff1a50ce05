/**
 * The plan of a dry run: which layers would be factorized, at what rank, and what that would save.
 */
import type { ChalkInstance } from 'chalk';
import type { PlanEntry } from '../factorize/plan.js';
import { table, wrap } from './render-text.js';

export function renderPlan(entries: readonly PlanEntry[], c: ChalkInstance): string {
  const rows = [[c.bold('layer'), c.bold('class'), c.bold('shape'), c.bold('max rank'), c.bold('rank'), c.bold('params'), '', c.bold('energy'), c.bold('error')]];
  let before = 0;
  let after = 0;
  for (const e of entries) {
    before += e.paramsBefore;
    after += e.paramsAfter;
    rows.push([
      e.name,
      e.className,
      `${e.m}×${e.n}`,
      String(e.maxUsefulRank),
      e.rank === null ? c.dim('—') : String(e.rank),
      `${e.paramsBefore.toLocaleString('en-US')} →`,
      e.paramsAfter.toLocaleString('en-US'),
      e.energyKept === undefined ? '' : `${(e.energyKept * 100).toFixed(1)}%`,
      e.relativeError === undefined ? '' : e.relativeError.toPrecision(3),
    ]);
  }
  const lines = table(rows, 'lllrrrrrr');
  for (const e of entries) if (e.rank === null && e.reason) lines.push(...wrap(`${e.name} kept: ${e.reason}`, 78).map((l) => c.dim(`  ${l}`)));
  lines.push(`factorizable params ${before.toLocaleString('en-US')} → ${after.toLocaleString('en-US')}${after > 0 ? ` (${(before / after).toFixed(2)}× fewer)` : ''}`);
  lines.push(c.dim('dry run: nothing written'));
  return lines.join('\n') + '\n';
}
