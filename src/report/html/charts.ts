/**
 * The HTML report's charts, drawn here as inline SVG: each layer's singular value spectrum, parameters
 * per layer, size and speed relative to the original, one metric per evaluated stage, and bytes per
 * way of storing the model. They draw numbers of the report's view and print its strings; the only
 * arithmetic here is geometry.
 */
import { num, pct } from '../format.js';
import type { LayerRow, Measure, MetricRow, SizeRow, StageName } from '../view.js';
import { html, join, type SafeHtml } from './template.js';

/** SVG coordinates: one decimal is below a pixel and keeps the file small. */
const f = (x: number): string => (Math.round(x * 10) / 10).toString();

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
export const SPECTRUM_POINTS = 160;

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

const SPECTRUM = { W: 320, H: 180, L: 40, R: 10, T: 12, B: 24 };

/** The log-scale axes of a spectrum of `n` values spanning its positive values. */
function spectrumScale(s: readonly number[]): { lo: number; hi: number; x: (i: number) => number; y: (v: number) => number } {
  const { W, H, L, R, T, B } = SPECTRUM;
  const n = s.length;
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
  return { lo, hi, x, y };
}

/** A layer's singular values on a log scale: kept ones shaded, the chosen rank and break-even rank marked. */
export function spectrumChart(row: LayerRow, maxPoints: number): SafeHtml {
  const { W, H, L, R, T, B } = SPECTRUM;
  const s = row.layer.singularValues;
  const n = s.length;
  const { lo, hi, x, y } = spectrumScale(s);
  const bottom = H - B;
  const rank = row.layer.rank;
  const idx = downsample(s, maxPoints, rank === null ? [] : [rank - 2, rank - 1, rank]);
  const pt = (i: number): string => `${f(x(i + 1))},${f(y(s[i] as number))}`;

  const axes = [
    ...logTicks(lo, hi).map((t) => html`<line class="grid" x1="${L}" x2="${W - R}" y1="${f(y(t))}" y2="${f(y(t))}"/><text x="${L - 4}" y="${f(y(t) + 3.5)}" text-anchor="end">${tickLabel(t)}</text>`),
    ...linearTicks(n).map((t) => html`<text x="${f(x(t))}" y="${H - 8}" text-anchor="${x(t) > W - R - 12 ? 'end' : 'middle'}">${t}</text>`),
    html`<line class="axis" x1="${L}" x2="${W - R}" y1="${bottom}" y2="${bottom}"/><line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${bottom}"/>`,
  ];
  let lines: SafeHtml;
  if (rank !== null && rank > 0) {
    const kept = idx.filter((i) => i < rank);
    const dropped = idx.filter((i) => i >= rank - 1);
    const area = `M${f(x(1))},${bottom}L${kept.map(pt).join('L')}L${f(x(rank))},${bottom}Z`;
    lines = html`<path class="kept-area" d="${area}"><title>${row.energyKept} of the energy (Σσ²) kept by the first ${rank} singular values</title></path>${dropped.length > 1 && html`<polyline class="dropped-line" points="${dropped.map(pt).join(' ')}"/>`}<polyline class="kept-line" points="${kept.map(pt).join(' ')}"/>`;
  } else {
    lines = html`<polyline class="spectrum-line" points="${idx.map(pt).join(' ')}"/>`;
  }

  // The break-even rank: above it a factor pair holds more parameters than the kernel itself.
  const useful = row.layer.maxUsefulRank;
  const breakeven = useful > 0 && useful < n && html`<line class="breakeven" x1="${f(x(useful))}" x2="${f(x(useful))}" y1="${T}" y2="${bottom}"><title>break-even rank ${useful}: a larger rank saves nothing</title></line>`;
  let marker: SafeHtml | false = false;
  if (rank !== null && rank > 0) {
    const rx = x(rank);
    const right = rx < (L + W - R) / 2;
    const lx = f(right ? rx + 4 : rx - 4);
    const anchor = right ? 'start' : 'end';
    marker = html`<line class="rank-marker" x1="${f(rx)}" x2="${f(rx)}" y1="${T - 4}" y2="${bottom}"/><text class="rank-label" x="${lx}" y="${T + 6}" text-anchor="${anchor}">rank ${rank}</text>${row.layer.energyKept !== undefined && html`<text class="energy-label" x="${lx}" y="${T + 19}" text-anchor="${anchor}">${row.energyKept} energy kept</text>`}`;
  }
  const top = row.layer.singularValuesComplete === false ? `The top ${n} of ${Math.min(...row.layer.shape)} singular values` : 'Singular values';
  const label = `${top} of ${row.name}${rank === null ? '' : `, rank ${rank} marked`}`;
  return html`<svg class="spectrum" viewBox="0 0 ${W} ${H}" role="img" aria-label="${label}">${axes}${lines}${breakeven}${marker}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// Bar charts

/** The parameters chart shows at most this many layers, the largest. */
export const PARAM_BAR_LAYERS = 40;

/** Parameters before and after, one pair of bars per layer. */
export function paramsChart(rows: readonly LayerRow[]): SafeHtml | null {
  if (rows.length === 0) return null;
  const W = 1000;
  // Room for the longest name up to 56 characters (11px text is about 6.4 units a character).
  const maxChars = Math.min(56, Math.max(...rows.map((l) => l.name.length)));
  const labelW = Math.max(90, Math.round(maxChars * 6.4 + 12));
  const valueW = 170;
  const row = 30;
  const top = 6;
  const H = top + rows.length * row + 4;
  const max = Math.max(1, ...rows.map((l) => l.layer.paramsBefore));
  const bw = (v: number): number => (v / max) * (W - labelW - valueW - 10);
  const bars = rows.map((l, i) => {
    const y0 = top + i * row;
    const { paramsBefore, paramsAfter } = l.layer;
    const change = l.change === '' ? ' kept' : html` <tspan class="${paramsAfter <= paramsBefore ? 'good' : 'bad'}">${l.change}</tspan>`;
    return html`<g><title>${l.name}: ${l.paramsBefore} → ${l.paramsAfter} parameters${l.factorized ? ` at rank ${l.rank}` : ' (kept)'}</title><text class="rowlabel" x="${labelW - 6}" y="${y0 + 16}" text-anchor="end">${clip(l.name, 56)}</text><rect class="bar-before" x="${labelW}" y="${y0 + 3}" width="${f(Math.max(1, bw(paramsBefore)))}" height="10" rx="1.5"/><rect class="${l.factorized ? 'bar-after' : 'bar-kept'}" x="${labelW}" y="${y0 + 15}" width="${f(Math.max(1, bw(paramsAfter)))}" height="10" rx="1.5"/><text class="value" x="${f(labelW + bw(paramsBefore) + 6)}" y="${y0 + 17}">${l.paramsBefore} → ${l.paramsAfter}${change}</text></g>`;
  });
  return html`<svg class="params-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Parameters before and after, per layer">${bars}</svg>`;
}

/** Size and speed of the output as a share of the original's, one pair of bars per measure. */
export function relativeChart(measures: readonly Measure[]): SafeHtml {
  const W = 560;
  const labelW = 112;
  const row = 34;
  const top = 20;
  const H = top + measures.length * row + 6;
  const plotW = W - labelW - 110;
  const maxShare = Math.max(1, ...measures.map((m) => m.share));
  const bw = (share: number): number => (share / maxShare) * plotW;
  const bars = measures.map((m, i) => {
    const y0 = top + i * row;
    const vx = f(labelW + Math.max(bw(1), bw(m.share)) + 5);
    return html`<g><title>${m.label}: ${m.original} → ${m.output}</title><text class="rowlabel" x="${labelW - 6}" y="${y0 + 17}" text-anchor="end">${m.label}</text><rect class="bar-before" x="${labelW}" y="${y0 + 3}" width="${f(bw(1))}" height="11" rx="1.5"/><rect class="bar-after" x="${labelW}" y="${y0 + 16}" width="${f(Math.max(1, bw(m.share)))}" height="11" rx="1.5"/><text class="value" x="${vx}" y="${y0 + 12}">${m.original}</text><text class="value strong" x="${vx}" y="${y0 + 26}">${m.output} <tspan class="${m.share <= 1 ? 'good' : 'bad'}">${pct(m.share, m.share < 0.1 ? 1 : 0)}</tspan></text></g>`;
  });
  const x100 = f(labelW + bw(1));
  return html`<svg class="size-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Size and speed before and after, relative to the original"><line class="grid" x1="${x100}" x2="${x100}" y1="${top - 8}" y2="${H - 4}"/><text x="${x100}" y="${top - 10}" text-anchor="middle">100%</text>${bars}</svg>`;
}

/** Vertical bars of one metric for the original, factorized and fine-tuned models; null when no stage has it. */
export function metricChart(stages: readonly StageName[], metric: MetricRow): SafeHtml | null {
  const shown = stages.map((name, i) => ({ name, value: metric.values[i], text: metric.cells[i] ?? '' })).filter((s): s is { name: StageName; value: number; text: string } => s.value !== undefined);
  if (shown.length === 0) return null;
  const W = 300;
  const H = 210;
  const L = 36;
  const T = 22;
  const B = 36;
  // Accuracy is a share, drawn on a 0–100% axis; other metrics from 0 to a little above the largest.
  const share = metric.key === 'accuracy';
  const max = share ? 1 : Math.max(...shown.map((s) => s.value)) * 1.1 || 1;
  const y = (v: number): number => T + (1 - v / max) * (H - T - B);
  const slot = (W - L - 8) / shown.length;
  const grid = [0, 0.25, 0.5, 0.75, 1].map(
    (t) => html`<line class="grid" x1="${L}" x2="${W - 8}" y1="${f(y(t * max))}" y2="${f(y(t * max))}"/><text x="${L - 4}" y="${f(y(t * max) + 3.5)}" text-anchor="end">${share ? `${t * 100}%` : num(t * max, 2)}</text>`,
  );
  const bars = shown.map((s, i) => {
    const x0 = L + i * slot + slot * 0.18;
    const w = slot * 0.64;
    const cls = i === 0 ? 'bar-before' : s.name === 'factorized' && shown.length > 2 ? 'bar-mid' : 'bar-after';
    return html`<rect class="${cls}" x="${f(x0)}" y="${f(y(s.value))}" width="${f(w)}" height="${f(Math.max(0.5, y(0) - y(s.value)))}" rx="1.5"><title>${s.name}: ${s.text}</title></rect><text class="value strong" x="${f(x0 + w / 2)}" y="${f(y(s.value) - 4)}" text-anchor="middle">${s.text}</text><text class="rowlabel" x="${f(x0 + w / 2)}" y="${H - B + 15}" text-anchor="middle">${s.name}</text>`;
  });
  return html`<svg class="metric-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${metric.label} of the original, factorized and fine-tuned models">${grid}${bars}<line class="axis" x1="${L}" x2="${W - 8}" y1="${f(y(0))}" y2="${f(y(0))}"/></svg>`;
}

/** Weight bytes per way of storing the model: the original, quantized, low rank. */
export function sizesChart(rows: readonly SizeRow[]): SafeHtml {
  const W = 1000;
  const labelW = 150;
  const row = 26;
  const H = rows.length * row + 6;
  const max = Math.max(1, ...rows.map((r) => r.weightBytes));
  const plot = W - labelW - 260;
  const bars = rows.map((r, i) => {
    const w = (r.weightBytes / max) * plot;
    const cls = r.kind === 'original' ? 'bar-before' : r.kind === 'lowrank' ? 'bar-after' : 'bar-quant';
    const detail = join([r.kind === 'original' || r.smaller === '' ? '' : ` · ${r.smaller} smaller`, r.accuracy === null ? '' : ` · accuracy ${r.accuracy}`], '');
    return html`<g><title>${r.label}: ${r.weightText} weight bytes, ${r.gzipText} gzip bytes</title><text class="rowlabel" x="${labelW - 6}" y="${i * row + 18}" text-anchor="end">${clip(r.label, 22)}</text><rect class="${cls}" x="${labelW}" y="${i * row + 6}" width="${f(Math.max(1, w))}" height="15" rx="1.5"/><text class="value" x="${f(labelW + w + 6)}" y="${i * row + 18}"><tspan class="strong">${r.weightText}</tspan>${detail}</text></g>`;
  });
  return html`<svg class="sizes-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Weight bytes per way of storing the model">${bars}</svg>`;
}
