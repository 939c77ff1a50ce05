/**
 * `lowrank convert` for a person: what was rewritten (each kind of change once, with the layers it
 * touched) and how the weights were matched. Lays out the ConvertReport; computes nothing of its own.
 */
import type { ChalkInstance } from 'chalk';
import type { ConvertReport } from '../convert.js';
import { shortPath, table } from './render-text.js';

const int = (n: number): string => n.toLocaleString('en-US');

/** Layer names, the first few and a count of the rest. */
function layerList(layers: readonly string[], max = 3): string {
  if (layers.length <= max) return layers.join(', ');
  return `${layers.slice(0, max).join(', ')} +${layers.length - max} more`;
}

export function renderConvert(r: ConvertReport, c: ChalkInstance, cwd = process.cwd()): string {
  const lines = [c.bold(`${shortPath(r.input, cwd)} → ${shortPath(r.output, cwd)}`)];
  if (r.unchanged) {
    lines.push('already in the form TF.js Layers reads: copied unchanged');
  } else if (r.changes.length > 0) {
    lines.push('rewritten from the Keras 3 form into the one TF.js Layers reads:');
    // The same rewrite in many layers is one row.
    const groups = new Map<string, string[]>();
    for (const change of r.changes) {
      const layers = groups.get(change.detail) ?? [];
      if (change.layer !== null && !layers.includes(change.layer)) layers.push(change.layer);
      groups.set(change.detail, layers);
    }
    lines.push(...table([...groups].map(([detail, layers]) => ['  ' + detail, c.dim(layerList(layers))]), 'll'));
  }
  const byName = r.weights.renames.filter((x) => x.by === 'name');
  const byOrder = r.weights.renames.filter((x) => x.by === 'order');
  const example = (list: typeof byName): string => (list[0] === undefined ? '' : ` (${list[0].from} → ${list[0].to}${list.length > 1 ? ', …' : ''})`);
  const matched = [
    byName.length > 0 ? `${byName.length} renamed by name${example(byName)}` : '',
    byOrder.length > 0 ? `${byOrder.length} matched by order${example(byOrder)}` : '',
  ].filter(Boolean);
  lines.push(`weights (${int(r.weights.count)}): ${matched.length > 0 ? matched.join('; ') : 'names already match'}`);
  lines.push(c.dim(`${int(r.weights.bytes)} bytes in ${r.weights.shards} shard(s), copied unchanged`));
  return lines.join('\n') + '\n';
}
