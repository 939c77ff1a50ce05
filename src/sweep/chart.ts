/**
 * The sweep's chart as a standalone SVG (sweep.svg, a picture a README can show; the HTML page inlines
 * the same markup): the metric (y) against parameters (x, log scale), one line per method through its
 * points in rank (or ratio) order, the ranks (or ratios) on the top axis, and the original as a dashed reference line. With
 * fine-tuning, the before-tuning scores are thin dashed lines in the method's colour. Every value drawn
 * comes from the report; the only arithmetic here is geometry. Text is escaped by the `html` template.
 */
import path from 'node:path';
import { html, join, type SafeHtml } from '../report/html/template.js';
import { int, metric } from '../report/format.js';
import type { SweepMethod, SweepPoint, SweepReport } from './schema.js';
import { pointName, settingValue, sweepMetric, sweepSetting } from './render.js';

const W = 640;
const H = 400;
const PLOT = { L: 64, R: 24, T: 58, B: 50 };
/** Colour-blind-safe (Okabe–Ito) blue and vermillion; grey for the reference. */
const COLORS: Record<SweepMethod, string> = { svd: '#0072b2', whiten: '#d55e00' };
const REFERENCE = '#5f6872';
const FONT = 'system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif';

/** SVG coordinates to one decimal. */
const f = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Ticks of a log axis over [lo, hi]: 1, 2 and 5 times powers of ten (only powers of ten past four decades). */
function logTicks(lo: number, hi: number): number[] {
  const mantissas = Math.log10(hi / lo) > 4 ? [1] : [1, 2, 5];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) if (m * 10 ** e >= lo && m * 10 ** e <= hi) ticks.push(m * 10 ** e);
  }
  return ticks;
}

/** A parameter count as an axis label: 500, 2k, 50k, 1M. */
function countLabel(t: number): string {
  const [value, unit] = t >= 1e9 ? [t / 1e9, 'G'] : t >= 1e6 ? [t / 1e6, 'M'] : t >= 1e3 ? [t / 1e3, 'k'] : [t, ''];
  return `${Number(value.toPrecision(3))}${unit}`;
}

/** About 4–8 round ticks spanning [lo, hi]. */
function linearTicks(lo: number, hi: number): { ticks: number[]; step: number } {
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100].find((s) => (hi - lo) / s <= 8) ?? (hi - lo) / 5;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return { ticks, step };
}

/** The y range: the values with a little room, on round ticks; shares stay within [0, 1]. */
function yRange(values: readonly number[], share: boolean): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.05 * (Math.abs(lo) || 1), hi + 0.05 * (Math.abs(hi) || 1)];
  const { step } = linearTicks(lo, hi);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  return share ? [Math.max(0, lo), Math.min(1, hi)] : [lo, hi];
}

interface Series {
  method: SweepMethod;
  before: boolean;
  points: Array<{ point: SweepPoint; value: number }>;
}

export function renderSweepSvg(report: SweepReport): string {
  return `${sweepChart(report).toString()}\n`;
}

export function sweepChart(report: SweepReport): SafeHtml {
  const key = sweepMetric(report);
  const tuned = report.options.epochs > 0;
  const series: Series[] = [];
  for (const method of report.options.methods) {
    const own = report.points.filter((p) => p.method === method).sort((a, b) => settingValue(a) - settingValue(b));
    const line = (before: boolean): Series => ({
      method,
      before,
      points: own.flatMap((point) => {
        const value = (before || !tuned ? point.factorized : point.fineTuned)?.[key];
        return value === undefined ? [] : [{ point, value }];
      }),
    });
    if (tuned) series.push(line(true));
    series.push(line(false));
  }
  const drawn = series.filter((s) => s.points.length > 0);
  const reference = report.original[key];
  const values = [...drawn.flatMap((s) => s.points.map((p) => p.value)), ...(reference !== undefined ? [reference] : [])];
  const params = [...report.points.map((p) => p.params), report.model.params];
  const xLo = Math.min(...params) / 1.25;
  const xHi = report.model.params * 1.25;
  const [yLo, yHi] = values.length > 0 ? yRange(values, key !== 'loss') : [0, 1];
  const x = (p: number): number => PLOT.L + ((Math.log10(p) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo))) * (W - PLOT.L - PLOT.R);
  const y = (v: number): number => PLOT.T + (1 - (v - yLo) / (yHi - yLo)) * (H - PLOT.T - PLOT.B);
  const bottom = H - PLOT.B;
  const right = W - PLOT.R;
  const label = key === 'loss' ? 'loss (lower is better)' : key;
  const show = (v: number): string => (key === 'loss' ? metric('loss', v) : `${(v * 100).toFixed(1)}%`);

  const xTicks = logTicks(xLo, xHi).map(
    (t) => html`<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${PLOT.T}" y2="${bottom}" stroke="#eaeef2"/><text x="${f(x(t))}" y="${bottom + 16}" text-anchor="middle">${countLabel(t)}</text>`,
  );
  const yTicks = linearTicks(yLo, yHi).ticks.map(
    (t) => html`<line x1="${PLOT.L}" x2="${right}" y1="${f(y(t))}" y2="${f(y(t))}" stroke="#eaeef2"/><text x="${PLOT.L - 6}" y="${f(y(t) + 4)}" text-anchor="end">${key === 'loss' ? num3(t) : `${Number((t * 100).toFixed(1))}%`}</text>`,
  );
  // Every method has the same parameters at a rank; at a ratio nearly so (each allocation stays within
  // the same budget): the top axis names each setting at its points' mean position.
  const at = new Map<number, number[]>();
  for (const p of report.points) at.set(settingValue(p), [...(at.get(settingValue(p)) ?? []), x(p.params)]);
  const settings = [...at].map(([value, xs]) => {
    const mid = xs.reduce((a, b) => a + b, 0) / xs.length;
    return html`<line x1="${f(mid)}" x2="${f(mid)}" y1="${PLOT.T - 4}" y2="${PLOT.T}" stroke="${REFERENCE}"/><text x="${f(mid)}" y="${PLOT.T - 8}" text-anchor="middle">${value}</text>`;
  });
  const lines = drawn.map((s) => {
    const color = COLORS[s.method];
    const d = s.points.map((p) => `${f(x(p.point.params))},${f(y(p.value))}`).join(' ');
    const dots = s.points.map(
      (p) =>
        html`<circle cx="${f(x(p.point.params))}" cy="${f(y(p.value))}" r="${s.before ? 2.5 : 3.5}" fill="${s.before ? '#fff' : color}" stroke="${color}" stroke-width="1.5"><title>${s.method} ${pointName(p.point)}${tuned ? (s.before ? ', before fine-tuning' : ', fine-tuned') : ''}: ${int(p.point.params)} params, ${label} ${show(p.value)}</title></circle>`,
    );
    return html`<g><polyline points="${d}" fill="none" stroke="${color}" stroke-width="${s.before ? 1.2 : 2}"${s.before ? html` stroke-dasharray="4 3"` : ''}/>${dots}</g>`;
  });
  const original =
    reference === undefined
      ? null
      : html`<g><line x1="${PLOT.L}" x2="${right}" y1="${f(y(reference))}" y2="${f(y(reference))}" stroke="${REFERENCE}" stroke-dasharray="6 4"/><path d="M${f(x(report.model.params))} ${f(y(reference) - 6)}l6 6l-6 6l-6 -6z" fill="${REFERENCE}"><title>original: ${int(report.model.params)} params, ${label} ${show(reference)}</title></path><text x="${f(x(report.model.params) - 10)}" y="${f(y(reference) + (y(reference) - PLOT.T < 20 ? 16 : -8))}" text-anchor="end" fill="${REFERENCE}">original ${show(reference)}</text></g>`;
  const legendItems = drawn.map((s) => ({ text: `${s.method}${tuned ? (s.before ? ' before fine-tuning' : ' fine-tuned') : ''}`, color: COLORS[s.method], dashed: s.before }));
  const legendWidth = 34 + Math.max(...legendItems.map((i) => i.text.length)) * 6.5;
  const legend = legendItems.map(
    (item, i) =>
      html`<g transform="translate(${f(right - legendWidth)},${f(bottom - 10 - (legendItems.length - 1 - i) * 16)})"><line x1="0" x2="18" y1="-4" y2="-4" stroke="${item.color}" stroke-width="2"${item.dashed ? html` stroke-dasharray="4 3"` : ''}/><text x="24" y="0">${item.text}</text></g>`,
  );
  const name = path.basename(path.dirname(report.model.path));
  const title = `${name}: ${label} on ${report.data.validationSamples} held-out samples, ${tuned ? `before and after ${report.options.epochs} epoch${report.options.epochs === 1 ? '' : 's'} of fine-tuning` : 'factorized, not fine-tuned'}`;
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="${FONT}" font-size="11" fill="#1f2328" role="img" aria-label="${title}">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${PLOT.L}" y="18" font-size="13" font-weight="600">${title}</text>
<text x="${PLOT.L - 6}" y="${PLOT.T - 8}" text-anchor="end" fill="${REFERENCE}">${sweepSetting(report)}</text>
${join(yTicks, '')}${join(xTicks, '')}
<rect x="${PLOT.L}" y="${PLOT.T}" width="${right - PLOT.L}" height="${bottom - PLOT.T}" fill="none" stroke="#d8dee4"/>
${join(settings, '')}
${original}
${join(lines, '\n')}
${join(legend, '')}
<text x="${f((PLOT.L + right) / 2)}" y="${H - 12}" text-anchor="middle">parameters (log scale)</text>
<text transform="translate(16 ${f((PLOT.T + bottom) / 2)}) rotate(-90)" text-anchor="middle">${label}</text>
</svg>`;
}

function num3(v: number): string {
  return Number(v.toPrecision(3)).toString();
}
