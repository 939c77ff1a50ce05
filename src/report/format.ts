/**
 * Number formats and derived values shared by the text, Markdown and compare renderers, so every
 * format says the same thing the same way.
 */
import { writtenVariant, type CompressionReport, type MetricsReport, type SizeVariant, type SizeVariantName } from './schema.js';
import { outputMetrics } from './gates.js';

export const int = (n: number): string => n.toLocaleString('en-US');
export const pct = (x: number | undefined, digits = 1): string => (x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`);
export const num = (x: number | undefined, digits = 4): string => (x === undefined ? '—' : x.toPrecision(digits));
export const ms = (x: number): string => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
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

/** How the size table names a variant. */
export function variantLabel(v: SizeVariantName): string {
  return v.replace('lowrank', 'low-rank');
}

/** Rows of the size table in the report's order, and which one the output folder holds. */
export function sizeRows(report: CompressionReport): Array<SizeVariant & { written: boolean }> {
  const written = writtenVariant(report.options.quantize);
  return report.sizes.map((s) => ({ ...s, written: s.variant === written }));
}

/** Which metric columns the size table shows: accuracy and agreement for classifiers, else error. */
export function sizeMetricColumns(report: CompressionReport): Array<'accuracy' | 'agreement' | 'relativeOutputError'> {
  const all = report.sizes.map((s) => s.metrics).filter((m): m is MetricsReport => m !== null);
  if (all.length === 0) return [];
  const cols: Array<'accuracy' | 'agreement' | 'relativeOutputError'> = [];
  if (all.some((m) => m.accuracy !== undefined)) cols.push('accuracy');
  if (all.some((m) => m.agreement !== undefined)) cols.push('agreement');
  if (cols.length === 0) cols.push('relativeOutputError');
  return cols;
}

export function metricCell(m: MetricsReport | null, col: 'accuracy' | 'agreement' | 'relativeOutputError'): string {
  if (m === null) return '—';
  return col === 'relativeOutputError' ? num(m.relativeOutputError, 3) : pct(m[col], 2);
}

/**
 * Accuracy of the model in the output folder against the original's, in points (positive: lost), or
 * undefined without accuracy.
 */
export function accuracyDrop(report: CompressionReport): number | undefined {
  const before = report.evaluation?.original.accuracy;
  const after = outputMetrics(report)?.accuracy;
  return before === undefined || after === undefined ? undefined : (before - after) * 100;
}

/** "accuracy 0.84 points below the original" or "... at or above ...". */
export function accuracyDropText(drop: number): string {
  return drop > 0 ? `accuracy ${drop.toFixed(2)} points below the original` : `accuracy ${(-drop).toFixed(2)} points at or above the original`;
}

/** What the report says where accuracy would be, for a run without --data. */
export const NOT_MEASURED_NO_DATA = 'accuracy not measured: no --data was given, so the model was factorized but not fine-tuned';

/** The text with its first letter upper-case, for a phrase that starts a sentence. */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
