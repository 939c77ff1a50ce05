/**
 * The report as one self-contained HTML page for a reviewer: a summary (smaller, faster, accuracy),
 * charts drawn here as inline SVG strings, and the per-layer table. Nothing is fetched: no scripts,
 * fonts, stylesheets or images, and a Content-Security-Policy that forbids them should one slip in.
 * Every string taken from the report (layer names are user input) goes through `esc`.
 */
import type { CompressionReport, LayerReport, MetricsReport } from './schema.js';
import { outputMetrics } from './gates.js';
import { NOT_MEASURED_NO_DATA, capitalize } from './format.js';

/** Escape text for HTML element content and quoted attribute values alike. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)}%`);
const num = (x: number | undefined, digits = 4): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toPrecision(digits));
const ms = (x: number): string => (x >= 100 ? `${x.toFixed(0)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
/** SVG coordinates: one decimal is below a pixel and keeps the file small. */
const f = (x: number): string => (Math.round(x * 10) / 10).toString();

function bytes(n: number): string {
  if (n < 1000) return `${int(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

function count(n: number): string {
  if (Math.abs(n) < 10_000) return int(n);
  const [d, u] = Math.abs(n) >= 1e12 ? [1e12, 'T'] : Math.abs(n) >= 1e9 ? [1e9, 'G'] : Math.abs(n) >= 1e6 ? [1e6, 'M'] : [1e3, 'k'];
  const v = n / d;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${u}`;
}

/** "3.93× fewer" when after < before, "1.20× more" otherwise. */
function factor(before: number, after: number, less: string, more: string): { text: string; times: string; word: string; good: boolean } | null {
  if (!(before > 0) || !(after > 0)) return null;
  const good = after <= before;
  const times = `${(good ? before / after : after / before).toFixed(2)}×`;
  const word = good ? less : more;
  return { text: `${times} ${word}`, times, word, good };
}

/** Cut long user-supplied labels for charts; the full text stays in a <title> tooltip. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  // Keep the end too: nested layer names differ in their last parts (block_3/mlp/dense_in).
  const head = Math.ceil((max - 1) * 0.35);
  return `${s.slice(0, head)}…${s.slice(s.length - (max - 1 - head))}`;
}

// ---------------------------------------------------------------------------------------------
// Spectra

/** Spectra up to this many values are drawn whole; longer ones are downsampled (see `downsample`). */
const SPECTRUM_POINTS = 160;

/**
 * Indices of `values` to draw when the chart has room for about `maxPoints`: all of them when few,
 * otherwise the smallest and largest value of each of maxPoints/2 equal index buckets (in index
 * order), plus the first and last values and the indices in `keep` (the chosen rank's neighbours).
 * Keeping each bucket's extremes means the drawn line passes through every peak and trough, so a
 * spectrum that is not sorted still looks as it is; for a sorted one the error is under a pixel.
 */
export function downsample(values: readonly number[], maxPoints: number = SPECTRUM_POINTS, keep: readonly number[] = []): number[] {
  const n = values.length;
  if (n <= maxPoints) return values.map((_, i) => i);
  const picked = new Set<number>([0, n - 1]);
  for (const k of keep) if (k >= 0 && k < n) picked.add(k);
  const buckets = Math.max(1, Math.floor(maxPoints / 2));
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * n) / buckets);
    const hi = Math.floor(((b + 1) * n) / buckets);
    let iMin = lo;
    let iMax = lo;
    for (let i = lo; i < hi; i++) {
      const v = values[i] as number;
      if (v < (values[iMin] as number)) iMin = i;
      if (v > (values[iMax] as number)) iMax = i;
    }
    picked.add(iMin);
    picked.add(iMax);
  }
  return [...picked].sort((a, b) => a - b);
}

/** Ticks for a log axis spanning [lo, hi] (both > 0): decades, with 2 and 5 when the span is short. */
function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const decades = b - a;
  const step = decades > 8 ? 3 : decades > 5 ? 2 : 1;
  const within = (mantissas: number[]): number[] => {
    const ticks: number[] = [];
    for (let e = a; e <= b; e += step) {
      for (const m of mantissas) {
        const t = m * 10 ** e;
        if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
      }
    }
    return ticks;
  };
  if (decades > 2) return within([1]);
  const ticks = within([1, 2, 5]);
  if (ticks.length >= 3) return ticks;
  const finer = within([1, 1.5, 2, 3, 5, 7]);
  return finer.length >= 2 ? finer : within([1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8]);
}

function tickLabel(t: number): string {
  const e = Math.floor(Math.log10(t) + 1e-9);
  const m = Math.round(t / 10 ** e);
  if (e >= -2 && e <= 3) return String(Number(t.toPrecision(3)));
  return m === 1 ? `1e${e}` : `${m}e${e}`;
}

/** About `target` round ticks in [1, n]. */
function linearTicks(n: number, target = 4): number[] {
  if (n <= 1) return [1];
  const raw = n / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? mag * 10;
  const ticks = [1];
  for (let t = step; t <= n; t += step) if (t - 1 > step * 0.4) ticks.push(t);
  return ticks;
}

function spectrumChart(layer: LayerReport, maxPoints: number): string {
  const s = layer.singularValues;
  const n = s.length;
  const W = 320;
  const H = 180;
  const L = 40;
  const R = 10;
  const T = 12;
  const B = 24;
  const positive = s.filter((v) => v > 0 && Number.isFinite(v));
  const hiV = positive.length > 0 ? Math.max(...positive) : 1;
  // Zeros have no logarithm: clamp them (and anything 7+ decades below the top) to the floor.
  const loV = positive.length > 0 ? Math.max(Math.min(...positive), hiV * 1e-7) : 0.1;
  const lo = loV === hiV ? loV / 10 : loV;
  const hi = loV === hiV ? hiV * 10 : hiV;
  const ly0 = Math.log10(lo);
  const ly1 = Math.log10(hi);
  const x = (i: number): number => L + (n <= 1 ? (W - L - R) / 2 : ((i - 1) / (n - 1)) * (W - L - R));
  const y = (v: number): number => T + (1 - (Math.log10(Math.min(hi, Math.max(lo, v))) - ly0) / (ly1 - ly0)) * (H - T - B);
  const bottom = H - B;
  const rank = layer.rank;
  const keep = rank === null ? [] : [rank - 2, rank - 1, rank];
  const idx = downsample(s, maxPoints, keep);
  const pt = (i: number): string => `${f(x(i + 1))},${f(y(s[i] as number))}`;

  const parts: string[] = [];
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${f(y(t))}" y2="${f(y(t))}"/>`);
    parts.push(`<text x="${L - 4}" y="${f(y(t) + 3.5)}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of linearTicks(n)) parts.push(`<text x="${f(x(t))}" y="${H - 8}" text-anchor="${x(t) > W - R - 12 ? 'end' : 'middle'}">${t}</text>`);
  parts.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${bottom}" y2="${bottom}"/><line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${bottom}"/>`);

  if (rank !== null && rank > 0) {
    const kept = idx.filter((i) => i < rank);
    const dropped = idx.filter((i) => i >= rank - 1);
    const area = `M${f(x(1))},${bottom}L${kept.map(pt).join('L')}L${f(x(rank))},${bottom}Z`;
    parts.push(`<path class="kept-area" d="${area}"><title>${pct(layer.energyKept)} of the energy (Σσ²) kept by the first ${rank} singular values</title></path>`);
    if (dropped.length > 1) parts.push(`<polyline class="dropped-line" points="${dropped.map(pt).join(' ')}"/>`);
    parts.push(`<polyline class="kept-line" points="${kept.map(pt).join(' ')}"/>`);
  } else {
    parts.push(`<polyline class="spectrum-line" points="${idx.map(pt).join(' ')}"/>`);
  }

  // The break-even rank: above it a factor pair holds more parameters than the kernel itself.
  const useful = layer.maxUsefulRank;
  if (useful > 0 && useful < n) {
    parts.push(`<line class="breakeven" x1="${f(x(useful))}" x2="${f(x(useful))}" y1="${T}" y2="${bottom}"><title>break-even rank ${useful}: a larger rank saves nothing</title></line>`);
  }
  if (rank !== null && rank > 0) {
    const rx = x(rank);
    const right = rx < (L + W - R) / 2;
    parts.push(`<line class="rank-marker" x1="${f(rx)}" x2="${f(rx)}" y1="${T - 4}" y2="${bottom}"/>`);
    parts.push(`<text class="rank-label" x="${f(right ? rx + 4 : rx - 4)}" y="${T + 6}" text-anchor="${right ? 'start' : 'end'}">rank ${rank}</text>`);
    if (layer.energyKept !== undefined) {
      parts.push(`<text class="energy-label" x="${f(right ? rx + 4 : rx - 4)}" y="${T + 19}" text-anchor="${right ? 'start' : 'end'}">${pct(layer.energyKept)} energy kept</text>`);
    }
  }
  const label = `Singular values of ${layer.name}${rank === null ? '' : `, rank ${rank} marked`}`;
  return `<svg class="spectrum" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(label)}">${parts.join('')}</svg>`;
}

function spectraSection(report: CompressionReport): string {
  const withSpectrum = report.layers.filter((l) => l.singularValues.length > 0);
  if (withSpectrum.length === 0) return '';
  const maxPoints = withSpectrum.length > 40 ? SPECTRUM_POINTS / 2 : SPECTRUM_POINTS;
  const longest = Math.max(...withSpectrum.map((l) => l.singularValues.length));
  const figures = withSpectrum.map((l) => {
    const meta =
      l.rank === null
        ? `<span class="tag">kept</span> ${esc(l.reason ?? 'not factorized')}`
        : `rank <strong>${l.rank}</strong> of ${l.singularValues.length} · ${pct(l.energyKept)} energy kept · error ${num(l.relativeError, 3)}`;
    return `<figure class="${l.rank === null ? 'spectrum-fig unfactorized' : 'spectrum-fig'}"><figcaption><span class="lname" title="${esc(l.name)}">${esc(l.name)}</span> <span class="muted">${esc(l.className)} ${l.shape[0]}×${l.shape[1]}</span><br><span class="muted small">${meta}</span></figcaption>${spectrumChart(l, maxPoints)}</figure>`;
  });
  const sampled = longest > maxPoints ? ` Spectra longer than ${maxPoints} values are drawn from the smallest and largest value of each of ${maxPoints / 2} equal index ranges, plus the values at the chosen rank.` : '';
  return `<section><h2>Singular value spectra</h2><p class="muted small">Each factorized kernel's singular values σ on a log scale. <span class="key key-after"></span> kept (first <i>r</i>), <span class="key key-dropped"></span> dropped; the <span class="key key-rank"></span> line marks the chosen rank <i>r</i>, the shaded area the kept energy Σσ²; <span class="key key-breakeven"></span> break-even rank (a larger rank saves nothing).${sampled}</p><div class="spectra">${figures.join('')}</div></section>`;
}

// ---------------------------------------------------------------------------------------------
// Bar charts

const PARAM_BAR_LAYERS = 40;

function paramsChart(report: CompressionReport): string {
  let layers = report.layers;
  let note = '';
  if (layers.length > PARAM_BAR_LAYERS) {
    const largest = new Set([...layers].sort((a, b) => b.paramsBefore - a.paramsBefore).slice(0, PARAM_BAR_LAYERS));
    layers = layers.filter((l) => largest.has(l));
    note = `<p class="muted small">The ${PARAM_BAR_LAYERS} largest of ${report.layers.length} layers.</p>`;
  }
  if (layers.length === 0) return '';
  const W = 1000;
  // Room for the longest name up to 56 characters (11px text is about 6.4 units a character).
  const maxChars = Math.min(56, Math.max(...layers.map((l) => l.name.length)));
  const labelW = Math.max(90, Math.round(maxChars * 6.4 + 12));
  const valueW = 170;
  const row = 30;
  const top = 6;
  const H = top + layers.length * row + 4;
  const max = Math.max(1, ...layers.map((l) => l.paramsBefore));
  const bw = (v: number): number => (v / max) * (W - labelW - valueW - 10);
  const parts: string[] = [];
  layers.forEach((l, i) => {
    const y0 = top + i * row;
    const factored = l.rank !== null;
    parts.push(`<g><title>${esc(l.name)}: ${int(l.paramsBefore)} → ${int(l.paramsAfter)} parameters${factored ? ` at rank ${l.rank}` : ' (kept)'}</title>`);
    parts.push(`<text class="rowlabel" x="${labelW - 6}" y="${y0 + 16}" text-anchor="end">${esc(clip(l.name, 56))}</text>`);
    parts.push(`<rect class="bar-before" x="${labelW}" y="${y0 + 3}" width="${f(Math.max(1, bw(l.paramsBefore)))}" height="10" rx="1.5"/>`);
    parts.push(`<rect class="${factored ? 'bar-after' : 'bar-kept'}" x="${labelW}" y="${y0 + 15}" width="${f(Math.max(1, bw(l.paramsAfter)))}" height="10" rx="1.5"/>`);
    const change = factored && l.paramsBefore > 0 ? ` <tspan class="${l.paramsAfter <= l.paramsBefore ? 'good' : 'bad'}">${l.paramsAfter <= l.paramsBefore ? '−' : '+'}${Math.abs((1 - l.paramsAfter / l.paramsBefore) * 100).toFixed(0)}%</tspan>` : ' kept';
    parts.push(`<text class="value" x="${f(labelW + bw(l.paramsBefore) + 6)}" y="${y0 + 17}">${count(l.paramsBefore)} → ${count(l.paramsAfter)}${change}</text></g>`);
  });
  return `<svg class="params-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Parameters before and after, per layer">${parts.join('')}</svg>${note}`;
}

/** One row of the before/after chart: values as a share of the original's. */
interface Pair {
  label: string;
  before: number;
  after: number;
  show: (v: number) => string;
}

function relativeChart(pairs: Pair[]): string {
  const W = 560;
  const labelW = 112;
  const row = 34;
  const top = 20;
  const H = top + pairs.length * row + 6;
  const plotW = W - labelW - 110;
  const maxShare = Math.max(1, ...pairs.map((p) => (p.before > 0 ? p.after / p.before : 1)));
  const bw = (share: number): number => (share / maxShare) * plotW;
  const parts: string[] = [];
  parts.push(`<line class="grid" x1="${f(labelW + bw(1))}" x2="${f(labelW + bw(1))}" y1="${top - 8}" y2="${H - 4}"/>`);
  parts.push(`<text x="${f(labelW + bw(1))}" y="${top - 10}" text-anchor="middle">100%</text>`);
  pairs.forEach((p, i) => {
    const y0 = top + i * row;
    const share = p.before > 0 ? p.after / p.before : 1;
    parts.push(`<g><title>${esc(p.label)}: ${p.show(p.before)} → ${p.show(p.after)}</title>`);
    parts.push(`<text class="rowlabel" x="${labelW - 6}" y="${y0 + 17}" text-anchor="end">${esc(p.label)}</text>`);
    parts.push(`<rect class="bar-before" x="${labelW}" y="${y0 + 3}" width="${f(bw(1))}" height="11" rx="1.5"/>`);
    parts.push(`<rect class="bar-after" x="${labelW}" y="${y0 + 16}" width="${f(Math.max(1, bw(share)))}" height="11" rx="1.5"/>`);
    parts.push(`<text class="value" x="${f(labelW + Math.max(bw(1), bw(share)) + 5)}" y="${y0 + 12}">${p.show(p.before)}</text>`);
    parts.push(`<text class="value strong" x="${f(labelW + Math.max(bw(1), bw(share)) + 5)}" y="${y0 + 26}">${p.show(p.after)} <tspan class="${share <= 1 ? 'good' : 'bad'}">${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%</tspan></text></g>`);
  });
  return `<svg class="size-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Size and speed before and after, relative to the original">${parts.join('')}</svg>`;
}

/** Vertical bars of one metric for the original, factorized and fine-tuned models. */
function metricChart(stages: Array<[string, MetricsReport]>, metric: Metric): string {
  const shown = stages.filter(([, m]) => metric.get(m) !== undefined);
  if (shown.length === 0) return '';
  const W = 300;
  const H = 210;
  const L = 36;
  const T = 22;
  const B = 36;
  const values = shown.map(([, m]) => metric.get(m) as number);
  const max = metric.unit ? 1 : Math.max(...values) * 1.1 || 1;
  const y = (v: number): number => T + (1 - v / max) * (H - T - B);
  const slot = (W - L - 8) / shown.length;
  const parts: string[] = [];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line class="grid" x1="${L}" x2="${W - 8}" y1="${f(y(t * max))}" y2="${f(y(t * max))}"/>`);
    parts.push(`<text x="${L - 4}" y="${f(y(t * max) + 3.5)}" text-anchor="end">${metric.unit ? `${t * 100}%` : num(t * max, 2)}</text>`);
  }
  shown.forEach(([name, m], i) => {
    const v = metric.get(m) as number;
    const x0 = L + i * slot + slot * 0.18;
    const w = slot * 0.64;
    const cls = i === 0 ? 'bar-before' : name === 'factorized' && shown.length > 2 ? 'bar-mid' : 'bar-after';
    parts.push(`<rect class="${cls}" x="${f(x0)}" y="${f(y(v))}" width="${f(w)}" height="${f(Math.max(0.5, y(0) - y(v)))}" rx="1.5"><title>${name}: ${metric.show(v)}</title></rect>`);
    parts.push(`<text class="value strong" x="${f(x0 + w / 2)}" y="${f(y(v) - 4)}" text-anchor="middle">${metric.show(v)}</text>`);
    parts.push(`<text class="rowlabel" x="${f(x0 + w / 2)}" y="${H - B + 15}" text-anchor="middle">${name}</text>`);
  });
  parts.push(`<line class="axis" x1="${L}" x2="${W - 8}" y1="${f(y(0))}" y2="${f(y(0))}"/>`);
  return `<svg class="metric-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(metric.label)} of the original, factorized and fine-tuned models">${parts.join('')}</svg>`;
}

interface Metric {
  label: string;
  get: (m: MetricsReport) => number | undefined;
  show: (v: number) => string;
  /** A share in [0, 1], drawn on a 0–100% axis. */
  unit: boolean;
}

function mainMetric(stages: Array<[string, MetricsReport]>): Metric | null {
  const candidates: Metric[] = [
    { label: 'Accuracy', get: (m) => m.accuracy, show: (v) => pct(v, 1), unit: true },
    { label: 'Mean squared error', get: (m) => m.mse, show: (v) => num(v, 3), unit: false },
    { label: 'Loss', get: (m) => m.loss, show: (v) => num(v, 3), unit: false },
  ];
  return candidates.find((c) => stages.some(([, m]) => c.get(m) !== undefined)) ?? null;
}

// ---------------------------------------------------------------------------------------------
// Fields another part of the tool adds (sizes, flops, gates): their shapes are read defensively.

type Json = unknown;
const isRecord = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const LABEL_KEYS = ['name', 'variant', 'label', 'format', 'kind', 'id', 'gate', 'metric'];

function humanKey(k: string): string {
  return k.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
}

function cell(key: string, v: Json): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') {
    if (/^(passed|pass|ok|met|success)$/i.test(key)) return v ? '<span class="good">✓ pass</span>' : '<span class="bad">✗ fail</span>';
    return v ? 'yes' : 'no';
  }
  if (typeof v === 'number') {
    if (/bytes$/i.test(key)) return `<span title="${int(v)} B">${bytes(v)}</span>`;
    if (/^(accuracy|agreement)$/i.test(key) && v >= 0 && v <= 1) return pct(v, 2);
    return Number.isInteger(v) ? int(v) : num(v, 4);
  }
  if (typeof v === 'string') return esc(v);
  if (Array.isArray(v) && v.every((e) => typeof e !== 'object' || e === null)) return esc(v.map(String).join(', '));
  return `<code>${esc(JSON.stringify(v))}</code>`;
}

/** Rows from an array of records or a record of records (its keys become a first column). */
function rowsOf(value: Json): Array<Record<string, Json>> | null {
  if (Array.isArray(value)) return value.every(isRecord) ? (value as Array<Record<string, Json>>) : null;
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length > 0 && entries.every(([, v]) => isRecord(v))) {
      return entries.map(([k, v]) => (LABEL_KEYS.some((lk) => lk in (v as Record<string, Json>)) ? (v as Record<string, Json>) : { name: k, ...(v as Record<string, Json>) }));
    }
  }
  return null;
}

function failed(row: Record<string, Json>): boolean {
  return ['passed', 'pass', 'ok', 'met', 'success'].some((k) => row[k] === false);
}

function genericTable(value: Json): string {
  const rows = rowsOf(value);
  if (rows !== null && rows.length > 0) {
    const keys: string[] = [];
    for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
    const head = keys.map((k) => `<th>${esc(humanKey(k))}</th>`).join('');
    const body = rows
      .map((r) => `<tr${failed(r) ? ' class="fail"' : ''}>${keys.map((k) => `<td${typeof r[k] === 'number' ? ' class="num"' : ''}>${cell(k, r[k])}</td>`).join('')}</tr>`)
      .join('');
    return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
  }
  if (isRecord(value)) {
    const body = Object.entries(value)
      .map(([k, v]) => `<tr><th>${esc(humanKey(k))}</th><td${typeof v === 'number' ? ' class="num"' : ''}>${isRecord(v) || (Array.isArray(v) && v.some((e) => typeof e === 'object')) ? genericTable(v) : cell(k, v)}</td></tr>`)
      .join('');
    return `<table class="kv"><tbody>${body}</tbody></table>`;
  }
  return `<p>${cell('', value)}</p>`;
}

/** The first finite number among `keys` of `v`, or `v` itself when it is a number. */
function pickNumber(v: Json, keys: string[]): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (!isRecord(v)) return undefined;
  for (const k of keys) {
    const x = v[k];
    if (typeof x === 'number' && Number.isFinite(x)) return x;
  }
  return undefined;
}

/** FLOPs per sample before and after, from whatever shape `flops` has. */
function flopsPair(flops: Json): { before: number; after: number } | null {
  if (!isRecord(flops)) return null;
  const inner = ['perSample', 'flops', 'total', 'value'];
  const before = ['original', 'before', 'input'].map((k) => pickNumber(flops[k], inner)).find((x) => x !== undefined);
  const after = ['output', 'after', 'lowRank', 'factorized'].map((k) => pickNumber(flops[k], inner)).find((x) => x !== undefined);
  return before !== undefined && after !== undefined ? { before, after } : null;
}

/** One row of `sizes`: the model stored one way (float32, float16, uint8, lowrank, lowrank+float16, ...). */
interface SizeRow {
  variant: string;
  params?: number;
  weightBytes: number;
  totalBytes?: number;
  gzipBytes: number;
  metrics?: MetricsReport | null;
}

function sizeRows(sizes: Json): SizeRow[] | null {
  if (!Array.isArray(sizes) || sizes.length === 0) return null;
  const ok = sizes.every((r) => isRecord(r) && typeof r['variant'] === 'string' && typeof r['weightBytes'] === 'number' && typeof r['gzipBytes'] === 'number');
  return ok ? (sizes as SizeRow[]) : null;
}

const isLowRank = (variant: string): boolean => /low|rank/i.test(variant);

/** Bars of weight bytes per variant, then the measured table: low rank beside quantization. */
function sizesSection(rows: SizeRow[]): string {
  const base = rows.find((r) => r.variant === 'float32') ?? (rows[0] as SizeRow);
  const W = 1000;
  const labelW = 150;
  const row = 26;
  const H = rows.length * row + 6;
  const max = Math.max(1, ...rows.map((r) => r.weightBytes));
  const plot = W - labelW - 260;
  const bars = rows.map((r, i) => {
    const w = (r.weightBytes / max) * plot;
    const cls = r === base ? 'bar-before' : isLowRank(r.variant) ? 'bar-after' : 'bar-quant';
    const times = r.weightBytes > 0 && r !== base ? ` · ${(base.weightBytes / r.weightBytes).toFixed(2)}× smaller` : '';
    const acc = r.metrics?.accuracy !== undefined ? ` · accuracy ${pct(r.metrics.accuracy, 1)}` : '';
    return `<g><title>${esc(r.variant)}: ${int(r.weightBytes)} weight bytes, ${int(r.gzipBytes)} gzip bytes</title><text class="rowlabel" x="${labelW - 6}" y="${i * row + 18}" text-anchor="end">${esc(clip(r.variant, 22))}</text><rect class="${cls}" x="${labelW}" y="${i * row + 6}" width="${f(Math.max(1, w))}" height="15" rx="1.5"/><text class="value" x="${f(labelW + w + 6)}" y="${i * row + 18}"><tspan class="strong">${bytes(r.weightBytes)}</tspan>${times}${acc}</text></g>`;
  });
  const chart = `<svg class="sizes-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Weight bytes per way of storing the model">${bars.join('')}</svg>`;
  const hasMetrics = rows.some((r) => r.metrics !== undefined && r.metrics !== null);
  const hasAccuracy = rows.some((r) => r.metrics?.accuracy !== undefined);
  const hasAgreement = rows.some((r) => r.metrics?.agreement !== undefined);
  const hasMse = !hasAccuracy && rows.some((r) => r.metrics?.mse !== undefined);
  const hasTotal = rows.some((r) => r.totalBytes !== undefined);
  const head = `<tr><th>variant</th><th class="num">params</th><th class="num">weight bytes</th>${hasTotal ? '<th class="num">on disk</th>' : ''}<th class="num">gzip bytes</th><th class="num">vs ${esc(base.variant)}</th>${hasAccuracy ? '<th class="num">accuracy</th>' : ''}${hasMse ? '<th class="num">mse</th>' : ''}${hasAgreement ? '<th class="num">agrees with original</th>' : ''}</tr>`;
  const body = rows
    .map((r) => {
      const ratio = r.weightBytes > 0 ? base.weightBytes / r.weightBytes : 0;
      const m = r.metrics ?? undefined;
      return `<tr${isLowRank(r.variant) ? ' class="lowrank"' : ''}><td>${esc(r.variant)}</td><td class="num">${r.params === undefined ? '—' : int(r.params)}</td><td class="num" title="${int(r.weightBytes)} B">${bytes(r.weightBytes)}</td>${hasTotal ? `<td class="num">${r.totalBytes === undefined ? '—' : bytes(r.totalBytes)}</td>` : ''}<td class="num" title="${int(r.gzipBytes)} B">${bytes(r.gzipBytes)}</td><td class="num">${r === base ? '' : `${ratio.toFixed(2)}× smaller`}</td>${hasAccuracy ? `<td class="num">${pct(m?.accuracy, 2)}</td>` : ''}${hasMse ? `<td class="num">${num(m?.mse, 4)}</td>` : ''}${hasAgreement ? `<td class="num">${r === base ? '' : pct(m?.agreement, 2)}</td>` : ''}</tr>`;
    })
    .join('');
  const note = hasMetrics ? 'Each variant written, reloaded from its bytes and evaluated on the same held-out samples.' : 'Each variant written and measured.';
  return `<section><h2>Low rank and quantization, measured</h2><div class="legend small"><span class="key key-before"></span>original <span class="key key-quant"></span>quantized <span class="key key-after"></span>low rank</div>${chart}<div class="scroll"><table class="sizes"><thead>${head}</thead><tbody>${body}</tbody></table></div><p class="muted small">${note}</p></section>`;
}

/** One quality gate as compress and report evaluate it. */
interface GateRow {
  gate: string;
  limit: number;
  value: number;
  passed: boolean;
}

function gateRows(gates: Json): GateRow[] | null {
  if (!Array.isArray(gates)) return null;
  const ok = gates.every((g) => isRecord(g) && typeof g['gate'] === 'string' && typeof g['limit'] === 'number' && typeof g['value'] === 'number' && typeof g['passed'] === 'boolean');
  return ok ? (gates as GateRow[]) : null;
}

function gateText(g: GateRow): { what: string; limit: string; value: string } {
  switch (g.gate) {
    case 'max-accuracy-drop':
      return { what: 'accuracy drop', limit: `≤ ${g.limit} pts`, value: `${g.value.toFixed(2)} pts` };
    case 'max-agreement-loss':
      return { what: 'agreement loss (1 − agreement)', limit: `≤ ${pct(g.limit, 2)}`, value: pct(g.value, 2) };
    case 'min-size-reduction':
      return { what: 'size reduction (weight bytes)', limit: `≥ ${g.limit}×`, value: `${g.value.toFixed(2)}×` };
    default:
      return { what: humanKey(g.gate), limit: String(g.limit), value: num(g.value, 4) };
  }
}

function gatesSection(rows: GateRow[]): string {
  const failedCount = rows.filter((g) => !g.passed).length;
  const body = rows
    .map((g) => {
      const t = gateText(g);
      return `<tr${g.passed ? '' : ' class="fail"'}><td><code>--${esc(g.gate)}</code></td><td>${esc(t.what)}</td><td class="num">${esc(t.limit)}</td><td class="num"><strong>${esc(t.value)}</strong></td><td>${g.passed ? '<span class="good">✓ pass</span>' : '<span class="bad">✗ fail</span>'}</td></tr>`;
    })
    .join('');
  const badge = failedCount === 0 ? '<span class="badge good">all passed</span>' : `<span class="badge bad">${failedCount} failed</span>`;
  return `<section class="gates"><h2>Quality gates ${badge}</h2><table><thead><tr><th>gate</th><th>measures</th><th class="num">limit</th><th class="num">value</th><th>result</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

/** Gates of an unknown shape: true when all pass, false when one fails, null when the shape says neither. */
function gatesVerdict(gates: Json): { passed: boolean; failed: number; total: number } | null {
  const rows = rowsOf(gates) ?? (isRecord(gates) ? ['results', 'checks', 'gates'].map((k) => rowsOf(gates[k])).find((r) => r !== null) ?? null : null);
  const explicit = isRecord(gates) ? ['passed', 'ok', 'pass'].map((k) => gates[k]).find((v) => typeof v === 'boolean') : undefined;
  if (rows !== null && rows.length > 0) {
    const nFailed = rows.filter(failed).length;
    return { passed: typeof explicit === 'boolean' ? explicit && nFailed === 0 : nFailed === 0, failed: nFailed, total: rows.length };
  }
  if (typeof explicit === 'boolean') return { passed: explicit, failed: explicit ? 0 : 1, total: 1 };
  return null;
}

/** Layers the FLOP count leaves out, as `flops.uncountedLayers` lists them. */
function uncountedNote(flops: Json): string {
  if (!isRecord(flops) || !Array.isArray(flops['uncountedLayers']) || flops['uncountedLayers'].length === 0) return '';
  const list = flops['uncountedLayers'].filter(isRecord).map((u) => `${esc(String(u['name'] ?? '?'))} (${esc(String(u['className'] ?? ''))}${u['reason'] === undefined ? '' : `: ${esc(String(u['reason']))}`})`);
  return `<p class="muted small">FLOPs leave out ${list.length} layer${list.length === 1 ? '' : 's'}: ${list.join('; ')}.</p>`;
}

// ---------------------------------------------------------------------------------------------
// The page

interface Card {
  label: string;
  value: string;
  detail: string;
  tone: 'good' | 'bad' | 'warn' | '';
  /** After as a share of before, drawn as a thin meter; null for none. */
  share: number | null;
}

function cardHtml(c: Card): string {
  const meter = c.share === null ? '' : `<div class="meter" title="after as a share of before"><div style="width:${f(Math.min(100, Math.max(0, c.share * 100)))}%"></div></div>`;
  return `<div class="card"><div class="card-label">${c.label}</div><div class="card-value ${c.tone}">${c.value}</div><div class="card-detail">${c.detail}</div>${meter}</div>`;
}

function sizeCard(label: string, before: number, after: number, show: (v: number) => string, less: string): Card {
  const r = factor(before, after, less, 'larger');
  return { label, value: r === null ? '—' : `${r.times}<small> ${r.word}</small>`, detail: `${show(before)} → ${show(after)}`, tone: r === null ? '' : r.good ? 'good' : 'bad', share: before > 0 ? after / before : null };
}

function shortName(p: string): string {
  const parts = p.split(/[\\/]/).filter((s) => s !== '');
  const last = parts[parts.length - 1] ?? p;
  return last === 'model.json' && parts.length > 1 ? `${parts[parts.length - 2]}/${last}` : last;
}

/** Render a compression report as one self-contained HTML document. */
export function renderHtml(report: CompressionReport): string {
  // Fields that a newer schema adds; absent from older reports, so every one is optional here.
  const extra = report as unknown as { sizes?: Json; flops?: Json; gates?: Json; timings: { measureMs?: Json }; options: { quantize?: Json } };
  const { input, output } = report;
  const ev = report.evaluation;
  const stages: Array<[string, MetricsReport]> = ev === null ? [] : ([['original', ev.original], ['factorized', ev.factorized], ['fine-tuned', ev.fineTuned]] as Array<[string, MetricsReport | null]>).filter((s): s is [string, MetricsReport] => s[1] !== null);
  // The written model's metrics (the quantized variant under --quantize), as text, Markdown and the gates use.
  const final = outputMetrics(report);
  const flops = extra.flops === undefined ? null : flopsPair(extra.flops);
  const knownGates = extra.gates === undefined || extra.gates === null ? null : gateRows(extra.gates);
  const gates = extra.gates === undefined || extra.gates === null ? null : knownGates !== null ? { passed: knownGates.every((g) => g.passed), failed: knownGates.filter((g) => !g.passed).length, total: knownGates.length } : gatesVerdict(extra.gates);
  const sizes = extra.sizes === undefined || extra.sizes === null ? null : sizeRows(extra.sizes);
  const quantize = typeof extra.options.quantize === 'string' ? extra.options.quantize : null;

  // Summary cards and the one-line verdict.
  const cards: Card[] = [
    sizeCard('Parameters', input.params, output.params, count, 'fewer'),
    sizeCard('Weight bytes', input.weightBytes, output.weightBytes, bytes, 'smaller'),
    sizeCard('Download (gzip)', input.gzipBytes, output.gzipBytes, bytes, 'smaller'),
  ];
  if (flops !== null) cards.push(sizeCard('FLOPs / sample', flops.before, flops.after, count, 'fewer'));
  for (const s of report.speed) {
    const r = factor(s.originalMs, s.outputMs, 'faster', 'slower');
    cards.push({ label: `Predict, batch ${s.batchSize}`, value: r === null ? '—' : `${r.times}<small> ${r.word}</small>`, detail: `${ms(s.originalMs)} → ${ms(s.outputMs)} <span class="muted">(median of ${s.runs})</span>`, tone: r === null ? '' : r.good ? 'good' : 'warn', share: s.originalMs > 0 ? s.outputMs / s.originalMs : null });
  }
  let accuracyDrop: number | null = null;
  if (ev !== null && final !== null) {
    if (ev.original.accuracy !== undefined && final.accuracy !== undefined) {
      accuracyDrop = (ev.original.accuracy - final.accuracy) * 100;
      const d = accuracyDrop;
      cards.push({
        label: 'Accuracy',
        value: d > 0 ? `−${d.toFixed(2)}<small> pts</small>` : `+${(-d).toFixed(2)}<small> pts</small>`,
        detail: `${pct(ev.original.accuracy, 2)} → ${pct(final.accuracy, 2)}`,
        tone: d > 2 ? 'bad' : d > 0.5 ? 'warn' : 'good',
        share: null,
      });
    } else if (ev.original.mse !== undefined && final.mse !== undefined) {
      cards.push({ label: 'Mean squared error', value: num(final.mse, 3), detail: `original ${num(ev.original.mse, 3)}`, tone: '', share: null });
    }
    const last = cards[cards.length - 1];
    if (final.agreement !== undefined && last?.label === 'Accuracy') {
      last.detail += `<br>agrees with original on ${pct(final.agreement, 1)}`;
    } else if (final.agreement !== undefined) {
      cards.push({ label: 'Agrees with original', value: pct(final.agreement, 1), detail: 'same predicted class, per sample', tone: final.agreement >= 0.98 ? 'good' : final.agreement >= 0.9 ? 'warn' : 'bad', share: null });
    } else if (final.relativeOutputError !== undefined) {
      cards.push({ label: 'Output error', value: num(final.relativeOutputError, 3), detail: 'relative to the original outputs', tone: '', share: null });
    }
  }
  if (gates !== null && knownGates === null) {
    cards.push({ label: 'Quality gates', value: gates.passed ? '✓ passed' : `✗ ${gates.failed} failed`, detail: `${gates.total} gate${gates.total === 1 ? '' : 's'} checked`, tone: gates.passed ? 'good' : 'bad', share: null });
  }

  const verdict: string[] = [];
  const pr = factor(input.params, output.params, 'fewer', 'more');
  if (pr !== null) verdict.push(`<strong>${pr.text}</strong> parameters`);
  const gr = factor(input.gzipBytes, output.gzipBytes, 'smaller', 'larger');
  if (gr !== null) verdict.push(`<strong>${gr.text}</strong> download`);
  const s1 = report.speed[0];
  const sr = s1 === undefined ? null : factor(s1.originalMs, s1.outputMs, 'faster', 'slower');
  if (s1 !== undefined && sr !== null) verdict.push(`<strong>${sr.text}</strong> at batch ${s1.batchSize}`);
  if (accuracyDrop !== null) verdict.push(accuracyDrop > 0 ? `accuracy <strong>${accuracyDrop.toFixed(2)} points</strong> below the original` : `accuracy <strong>${(-accuracyDrop).toFixed(2)} points</strong> at or above the original`);
  if (gates !== null) verdict.push(gates.passed ? `<span class="good">${gates.total === 1 ? 'the quality gate' : `all ${gates.total} quality gates`} passed</span>` : `<span class="bad"><strong>${gates.failed} of ${gates.total} quality gate${gates.total === 1 ? '' : 's'} failed</strong></span>`);
  const factorized = report.layers.filter((l) => l.rank !== null).length;

  // Charts: size/speed relative to the original, the main metric per stage, params per layer.
  const pairs: Pair[] = [
    { label: 'parameters', before: input.params, after: output.params, show: count },
    { label: 'weight bytes', before: input.weightBytes, after: output.weightBytes, show: bytes },
    { label: 'gzip bytes', before: input.gzipBytes, after: output.gzipBytes, show: bytes },
  ];
  if (flops !== null) pairs.push({ label: 'FLOPs / sample', before: flops.before, after: flops.after, show: count });
  for (const s of report.speed) pairs.push({ label: `predict, batch ${s.batchSize}`, before: s.originalMs, after: s.outputMs, show: ms });
  const metric = mainMetric(stages);
  const metricSvg = metric === null ? '' : metricChart(stages, metric);

  const legend = `<div class="legend small"><span class="key key-before"></span>original <span class="key key-after"></span>low rank</div>`;
  const chartsHtml = `<section class="charts"><div class="panel"><h2>Size and speed</h2>${legend}${relativeChart(pairs)}${extra.flops === undefined ? '' : uncountedNote(extra.flops)}</div>${metricSvg === '' ? '' : `<div class="panel"><h2>${esc(metric?.label ?? '')}</h2><p class="muted small">on ${report.data === null ? 'the held-out samples' : `${int(report.data.validationSamples)} held-out samples`}</p>${metricSvg}</div>`}<div class="panel wide"><h2>Parameters per layer</h2><div class="legend small"><span class="key key-before"></span>before <span class="key key-after"></span>after factorization <span class="key key-kept"></span>kept as is</div>${paramsChart(report)}</div></section>`;

  // Per-layer table.
  const layerRows = report.layers
    .map((l) => {
      const f2 = l.rank !== null;
      const change = l.paramsBefore > 0 && f2 ? `${((l.paramsAfter / l.paramsBefore - 1) * 100).toFixed(0)}%` : '';
      return `<tr${f2 ? '' : ' class="unfactorized"'}><td class="lname" title="${esc(l.name)}">${esc(l.name)}</td><td>${esc(l.className)}</td><td class="num">${l.shape[0]}×${l.shape[1]}</td><td class="num">${f2 ? `<strong>${l.rank}</strong>` : '—'}</td><td class="num muted">${l.maxUsefulRank}</td><td class="num">${int(l.paramsBefore)}</td><td class="num">${int(l.paramsAfter)}</td><td class="num good">${change.replace('-', '−')}</td><td class="num">${f2 ? pct(l.energyKept) : ''}</td><td class="num">${f2 ? num(l.relativeError, 3) : ''}</td><td class="muted small">${f2 ? '' : esc(l.reason ?? 'kept')}</td></tr>`;
    })
    .join('');
  const totals = `<tr class="total"><td>total</td><td></td><td></td><td></td><td></td><td class="num">${int(input.params)}</td><td class="num">${int(output.params)}</td><td class="num good">${input.params > 0 ? `${((output.params / input.params - 1) * 100).toFixed(0)}%`.replace('-', '−') : ''}</td><td colspan="3" class="muted small">all parameters, factorizable or not</td></tr>`;
  const layersHtml = `<section><h2>Layers</h2><p class="muted small">${factorized} of ${report.layers.length} layer${report.layers.length === 1 ? '' : 's'} factorized. Break-even: the largest rank that still saves parameters. Error: ‖W − W<sub>r</sub>‖<sub>F</sub> / ‖W‖<sub>F</sub>.</p><div class="scroll"><table class="layers"><thead><tr><th>layer</th><th>class</th><th class="num">kernel</th><th class="num">rank</th><th class="num">break-even</th><th class="num">params before</th><th class="num">after</th><th class="num">change</th><th class="num">energy kept</th><th class="num">error</th><th>note</th></tr></thead><tbody>${layerRows}${totals}</tbody></table></div></section>`;

  // Evaluation table.
  let evalHtml = '';
  if (ev !== null && stages.length > 0) {
    const rows: Array<[string, (m: MetricsReport, stage: string) => string]> = [];
    if (stages.some(([, m]) => m.accuracy !== undefined)) rows.push(['accuracy', (m) => pct(m.accuracy, 2)]);
    if (stages.some(([, m]) => m.loss !== undefined)) rows.push([`loss${report.loss ? ` (${esc(report.loss)})` : ''}`, (m) => num(m.loss)]);
    if (stages.some(([, m]) => m.mse !== undefined)) rows.push(['mean squared error', (m) => num(m.mse)]);
    if (stages.some(([, m]) => m.mae !== undefined)) rows.push(['mean absolute error', (m) => num(m.mae)]);
    if (stages.some(([, m]) => m.agreement !== undefined)) rows.push(['agrees with original', (m, s) => (s === 'original' ? '' : pct(m.agreement, 2))]);
    if (stages.some(([, m]) => m.relativeOutputError !== undefined)) rows.push(['output rel. error', (m, s) => (s === 'original' ? '' : num(m.relativeOutputError, 3))]);
    const d = report.data;
    const where = d === null ? '' : d.validationPath !== undefined ? `${int(d.validationSamples)} samples of <code>${esc(shortName(d.validationPath))}</code>` : `${int(d.validationSamples)} samples held out from <code>${esc(shortName(d.path))}</code>`;
    const t = report.training;
    let trained = '';
    if (t !== null && t.epochs.length > 0) {
      const how = t.distill === 1 ? ' by distillation' : t.distill > 0 ? ` (${t.distill} distillation)` : '';
      const kept = t.bestEpoch === t.epochs.length ? '' : t.bestEpoch === 0 ? '; kept the factorized weights (no epoch improved)' : `; kept epoch ${t.bestEpoch}`;
      trained = `<p class="muted small">Fine-tuned ${t.epochs.length} epoch${t.epochs.length === 1 ? '' : 's'}${how}, ${t.train === 'factors' ? 'factors only' : 'all weights'}, ${esc(t.schedule)} learning rate, ${(report.timings.fineTuneMs / 1000).toFixed(1)} s${t.stoppedEarly ? ', stopped early' : ''}${kept}.</p>`;
    }
    evalHtml = `<section><h2>Evaluation</h2><p class="muted small">All models on the same ${where || 'held-out samples'}.</p><table class="eval"><thead><tr><th></th>${stages.map(([n]) => `<th class="num">${n}</th>`).join('')}</tr></thead><tbody>${rows.map(([label, get]) => `<tr><th>${label}</th>${stages.map(([n, m]) => `<td class="num">${get(m, n)}</td>`).join('')}</tr>`).join('')}</tbody></table>${trained}</section>`;
  }

  if (ev === null) evalHtml = `<section><h2>Evaluation</h2><p class="muted">${esc(capitalize(NOT_MEASURED_NO_DATA))}.</p></section>`;

  // Sections for the optional fields.
  const extras: string[] = [];
  const sizesHtml = sizes !== null ? sizesSection(sizes) : '';
  if (sizes === null && extra.sizes !== undefined && extra.sizes !== null) extras.push(`<section><h2>Sizes</h2>${genericTable(extra.sizes)}</section>`);
  if (extra.flops !== undefined && extra.flops !== null && flops === null) extras.push(`<section><h2>FLOPs</h2>${genericTable(extra.flops)}</section>`);
  let gatesHtml = '';
  if (knownGates !== null && knownGates.length > 0) gatesHtml = gatesSection(knownGates);
  else if (knownGates === null && extra.gates !== undefined && extra.gates !== null) gatesHtml = `<section class="gates"><h2>Quality gates ${gates === null ? '' : gates.passed ? '<span class="badge good">passed</span>' : '<span class="badge bad">failed</span>'}</h2>${genericTable(extra.gates)}</section>`;

  // Run details.
  const o = report.options;
  const tm = report.timings;
  const runHtml = `<section class="run"><h2>Run</h2><dl><dt>input</dt><dd><code>${esc(input.path)}</code></dd><dt>output</dt><dd><code>${esc(output.path)}</code></dd>${report.data === null ? '' : `<dt>data</dt><dd><code>${esc(report.data.path)}</code> · ${int(report.data.samples)} samples, ${int(report.data.trainSamples)} for training</dd>`}<dt>options</dt><dd>rank <code>${esc(o.rank)}</code>${o.layers === undefined ? '' : ` · layers <code>${esc(o.layers)}</code>`} · ${o.epochs} epoch${o.epochs === 1 ? '' : 's'} · batch ${o.batchSize} · learning rate ${o.learningRate} · seed ${o.seed}${quantize === null ? '' : ` · quantize <code>${esc(quantize)}</code>`}</dd><dt>timings</dt><dd>load ${ms(tm.loadMs)} · factorize ${ms(tm.factorizeMs)} · evaluate ${ms(tm.evaluateMs)} · fine-tune ${ms(tm.fineTuneMs)}${typeof extra.timings.measureMs === 'number' ? ` · measure ${ms(extra.timings.measureMs)}` : ''} · write ${ms(tm.writeMs)} · total ${(tm.totalMs / 1000).toFixed(1)} s</dd><dt>tool</dt><dd>${esc(report.tool.name)} ${esc(report.tool.version)} · backend ${esc(report.backend)} · report schema v${report.schemaVersion} · ${esc(report.createdAt)}</dd></dl></section>`;

  const title = `lowrank: ${shortName(input.path)} → ${shortName(output.path)}`;
  const header = `<header><div class="eyebrow">lowrank report · rank ${esc(o.rank)}${quantize === null ? '' : ` + ${esc(quantize)}`} · ${esc(report.backend)}</div><h1>${esc(shortName(input.path))} <span class="arrow">→</span> ${esc(shortName(output.path))}</h1><p class="verdict">${verdict.length > 0 ? `${verdict.join(', ')}.` : ''} <span class="muted">${factorized} of ${report.layers.length} layers factorized.</span></p></header>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${header}
<section class="cards">${cards.map(cardHtml).join('')}</section>
${gatesHtml}
${chartsHtml}
${sizesHtml}
${spectraSection(report)}
${layersHtml}
${evalHtml}
${extras.join('\n')}
${runHtml}
</main>
</body>
</html>
`;
}

const CSS = `
:root{--bg:#fff;--fg:#1f2328;--muted:#5f6872;--line:#d8dee4;--grid:#eaeef2;--card:#f6f8fa;--before:#b4bcc6;--after:#2563eb;--mid:#93b4f5;--kept:#d0d7de;--area:rgba(37,99,235,.16);--quant:#8250df;--rank:#d9480f;--good:#1a7f37;--bad:#cf222e;--warn:#9a6700;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f1318;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--grid:#21262d;--card:#161b22;--before:#59636e;--after:#4f8cff;--mid:#2b4f8f;--kept:#3d444d;--area:rgba(79,140,255,.22);--quant:#a371f7;--rank:#f0883e;--good:#3fb950;--bad:#f85149;--warn:#d29922}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-variant-numeric:tabular-nums}
main{max-width:1160px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:24px;margin:2px 0 6px;font-weight:650;overflow-wrap:anywhere}
h2{font-size:16px;margin:0 0 8px;font-weight:600}
section{margin:22px 0}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.eyebrow{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.arrow,.muted{color:var(--muted)}
.small{font-size:12px}
.verdict{font-size:16px;margin:4px 0 0}
.good{color:var(--good)}.bad{color:var(--bad)}.warn{color:var(--warn)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(138px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;break-inside:avoid}
.card-label{font-size:12px;color:var(--muted)}
.card-value{font-size:23px;font-weight:650;margin:1px 0;line-height:1.2}
.card-value small{font-size:13px;font-weight:500;white-space:nowrap}
.card-detail{font-size:12px}
.meter{height:4px;background:var(--before);border-radius:2px;margin-top:7px;overflow:hidden}
.meter>div{height:100%;background:var(--after)}
.charts{display:grid;grid-template-columns:3fr 2fr;gap:14px}
.panel{border:1px solid var(--line);border-radius:8px;padding:12px 14px;break-inside:avoid}
.panel.wide{grid-column:1/-1}
.panel svg{display:block;width:100%;height:auto}
.metric-chart{max-width:340px;margin:0 auto}
.legend{color:var(--muted);margin-bottom:4px}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 3px 0 10px;vertical-align:-1px}
.key:first-child{margin-left:0}
.key-quant{background:var(--quant)}.key-before{background:var(--before)}.key-after{background:var(--after)}.key-mid{background:var(--mid)}.key-kept{background:var(--kept)}
.key-dropped{background:var(--before)}.key-rank{background:var(--rank);width:3px;margin-left:4px}.key-breakeven{border-left:2px dashed var(--muted);width:2px;border-radius:0;margin-left:4px}
.spectra{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px 4px;break-inside:avoid;min-width:0}
figcaption{font-size:13px;line-height:1.35;min-height:36px}
figure svg{display:block;width:100%;height:auto}
.unfactorized{opacity:.75}
.lname{font-weight:600;overflow-wrap:anywhere}
.tag{font-size:11px;border:1px solid var(--line);border-radius:4px;padding:0 4px}
svg text{fill:var(--muted);font-size:10px;font-family:inherit}
svg .rowlabel{fill:var(--fg);font-size:11px}
svg .value{font-size:10.5px}
svg .strong{fill:var(--fg);font-weight:600}
svg tspan.good{fill:var(--good)}svg tspan.bad{fill:var(--bad)}
svg .grid{stroke:var(--grid);stroke-width:1}
svg .axis{stroke:var(--line);stroke-width:1}
.bar-quant{fill:var(--quant)}.bar-before{fill:var(--before)}.bar-after{fill:var(--after)}.bar-mid{fill:var(--mid)}.bar-kept{fill:var(--kept)}
.kept-area{fill:var(--area)}
.kept-line{fill:none;stroke:var(--after);stroke-width:1.8;stroke-linejoin:round}
.dropped-line,.spectrum-line{fill:none;stroke:var(--before);stroke-width:1.6;stroke-linejoin:round}
.unfactorized .spectrum-line{stroke:var(--muted)}
.rank-marker{stroke:var(--rank);stroke-width:1.6}
svg .rank-label{fill:var(--rank);font-weight:600;font-size:10.5px}
svg .energy-label{fill:var(--fg);font-size:10px}
.breakeven{stroke:var(--muted);stroke-width:1;stroke-dasharray:3 3}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:1.5px solid var(--line);white-space:nowrap}
.num{text-align:right;white-space:nowrap}
table.layers{width:100%}
table.layers td.lname{max-width:320px;overflow-wrap:break-word}
tr.total td{font-weight:600;border-bottom:none}
tr.fail td{background:rgba(207,34,46,.12)}
table.sizes tr.lowrank td:first-child{font-weight:600}
.badge{font-size:12px;border:1px solid currentColor;border-radius:10px;padding:1px 8px;vertical-align:2px}
table.eval th{font-weight:500}
table.kv th{color:var(--muted);font-weight:500}
.run dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0;font-size:12.5px}
.run dt{color:var(--muted)}.run dd{margin:0}
@media (max-width:820px){.charts{grid-template-columns:1fr}}
@media print{
:root{--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--grid:#e4e4e4;--card:#fff;--before:#aab2bb;--after:#1d4ed8;--mid:#93b4f5;--kept:#d0d7de;--area:rgba(29,78,216,.16);--quant:#7c3aed;--rank:#c2410c;--good:#146c2e;--bad:#b91c1c;--warn:#8a5a00}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{font-size:11px}main{max-width:none;padding:0}
section,.panel,figure,.card,tr{break-inside:avoid}
h2{break-after:avoid}
.spectra{grid-template-columns:repeat(3,1fr)}
.scroll{overflow:visible}
}
`;
