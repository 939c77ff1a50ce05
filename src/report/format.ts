/**
 * The one set of number formats every report format uses (text, Markdown, HTML, compare), so a number
 * reads the same wherever it is shown. Wording built from these lives in view.ts.
 */
import path from 'node:path';
import type { MetricsReport, SizeVariantName } from './schema.js';

export const int = (n: number): string => n.toLocaleString('en-US');
export const pct = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)}%`);
export const num = (x: number | undefined, digits = 4): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toPrecision(digits));
export const ms = (x: number): string => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
/** Milliseconds as seconds with one decimal: "2.4 s". */
export const seconds = (x: number): string => `${(x / 1000).toFixed(1)} s`;
export const times = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '∞');

/** Exact below ten million, else 3 significant digits with k/M/G/T (keeps tables narrow). */
export function compact(n: number, unit = ''): string {
  if (Math.abs(n) < 1e7) return int(n) + (unit === '' ? '' : ` ${unit}`);
  const prefixes = ['k', 'M', 'G', 'T', 'P'];
  let value = n;
  let i = -1;
  while (Math.abs(value) >= 1000 && i < prefixes.length - 1) {
    value /= 1000;
    i++;
  }
  return `${value.toPrecision(3)} ${prefixes[i] ?? ''}${unit}`;
}

/** Bytes, exact below ten million, else in kB/MB/GB (1000-based, as download sizes are quoted). */
export const bytes = (n: number): string => (Math.abs(n) < 1e7 ? int(n) : compact(n, 'B'));

/** A metric of MetricsReport as every table shows it: shares in %, errors to 3 digits, losses to 4. */
export function metric(key: keyof MetricsReport, x: number | undefined): string {
  switch (key) {
    case 'accuracy':
    case 'agreement':
      return pct(x, 2);
    case 'relativeOutputError':
      return num(x, 3);
    case 'loss':
    case 'mse':
    case 'mae':
      return num(x);
  }
}

/** A change as a signed whole percentage with a true minus sign: "−68%", "+5%". */
export function signedPercent(share: number): string {
  const p = Math.round((share - 1) * 100);
  return p === 0 ? '0%' : `${p < 0 ? '−' : '+'}${Math.abs(p)}%`;
}

/** How the size table names a variant. */
export function variantLabel(v: SizeVariantName): string {
  return v.replace('lowrank', 'low-rank');
}

/** `p` relative to `cwd` when it lies below it, else as given. */
export function shortPath(p: string, cwd: string = process.cwd()): string {
  const rel = path.relative(cwd, p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

/** What the report says where accuracy would be, for a run without --data. */
/** The phrase for a model whose layer classes tfjs lacked: what was not measured and how to get it. */
export function notMeasuredNeedsClasses(classes: readonly string[]): string {
  return `accuracy, latency, FLOPs and reloading the size variants not measured: needs the class${classes.length === 1 ? '' : 'es'} ${classes.join(', ')} (--setup)`;
}

export const NOT_MEASURED_NO_DATA = 'accuracy not measured: no --data was given, so the model was factorized but not fine-tuned';

/** The text with its first letter upper-case, for a phrase that starts a sentence. */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
