/**
 * `lowrank inspect` for a person: the layers, then what each energy share would save.
 */
import type { ChalkInstance } from 'chalk';
import path from 'node:path';
import type { InspectReport } from '../inspect.js';
import { table, wrap } from './render-text.js';

const int = (n: number): string => n.toLocaleString('en-US');

function shape(s: InspectReport['layers'][number]['outputShape']): string {
  if (s === null) return '?';
  const one = (dims: Array<number | null>): string => `[${dims.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
  return Array.isArray(s[0]) ? (s as Array<Array<number | null>>).map(one).join(' ') : one(s as Array<number | null>);
}

export function renderInspect(r: InspectReport, c: ChalkInstance, cwd = process.cwd()): string {
  const rel = path.relative(cwd, r.path);
  const lines = [
    c.bold(rel.startsWith('..') ? r.path : rel),
    c.dim(`${int(r.params)} params · ${int(r.weightBytes)} weight bytes · backend ${r.backend}`),
    '',
  ];
  const rows = [[c.bold('layer'), c.bold('class'), c.bold('output'), c.bold('params'), c.bold('bytes')]];
  for (const l of r.layers) rows.push([l.name, l.className, shape(l.outputShape), l.params === 0 ? c.dim('0') : int(l.params), l.bytes === 0 ? c.dim('0') : int(l.bytes)]);
  lines.push(...table(rows, 'lllrr'));
  if (r.unknownLayerClasses !== undefined && r.unknownLayerClasses.length > 0) {
    const note = `read without running it: ${r.unknownLayerClasses.join(', ')} ${r.unknownLayerClasses.length === 1 ? 'is not a standard TF.js layer' : 'are not standard TF.js layers'}, so output shapes are unknown (--setup <module> registers them); params and bytes are the stored weights'`;
    lines.push(...wrap(note, 80).map((line) => c.dim(line)));
  }

  const factorizable = r.layers.filter((l) => l.factorization !== undefined);
  lines.push('');
  if (factorizable.length === 0) {
    lines.push(c.dim('no layer lowrank can factorize (Dense, Conv2D, Embedding)'));
    return lines.join('\n') + '\n';
  }
  lines.push(c.dim('rank for a share of Σσ², and the layer\'s params at that rank (— saves nothing)'));
  const head = [c.bold('layer'), c.bold('matrix'), c.bold('max'), ...r.totals.map((t) => c.bold(`${t.energy * 100}%`)), ''];
  const frows = [head];
  for (const l of factorizable) {
    const f = l.factorization!;
    frows.push([
      l.name,
      `${f.m}×${f.n}`,
      String(f.maxUsefulRank),
      ...f.options.map((o) => (o.paramsAfter === null ? c.dim(`${o.rank ?? `>${f.singularValues.length}`}: —`) : `${o.rank}: ${int(o.paramsAfter)}`)),
      c.dim(`of ${int(l.params)}`),
    ]);
  }
  frows.push([c.bold('model'), '', '', ...r.totals.map((t) => c.bold(int(t.params))), c.dim(`of ${int(r.params)}`)]);
  lines.push(...table(frows, 'llrrrrl'));
  if (r.allocation !== undefined) {
    const a = r.allocation;
    lines.push('', ...wrap(`--ratio ${a.ratio} without data (the kernels' spectra; with --data, compress allocates on the whitened ones)`, 80).map((line) => c.dim(line)));
    const arows = [[c.bold('layer'), c.bold('rank'), c.bold('params')]];
    for (const l of a.layers) arows.push([l.name, l.rank === null ? c.dim('whole') : String(l.rank), int(l.paramsAfter)]);
    const share = a.paramsBefore > 0 ? ((100 * a.paramsAfter) / a.paramsBefore).toFixed(1) : '100.0';
    arows.push([c.bold('total'), '', c.bold(int(a.paramsAfter))]);
    lines.push(...table(arows, 'lrr'), `parameters ${share}% of the original's, budget ${Number((a.ratio * 100).toPrecision(3))}%`);
  }
  const partial = factorizable.filter((l) => l.factorization?.singularValuesComplete === false);
  if (partial.length > 0) {
    lines.push('');
    for (const l of partial) {
      const f = l.factorization!;
      lines.push(c.dim(`${l.name}: ranks from the top ${f.singularValues.length} of ${Math.min(f.m, f.n)} singular values (randomized SVD) and ‖W‖²_F`));
    }
  }
  return lines.join('\n') + '\n';
}
