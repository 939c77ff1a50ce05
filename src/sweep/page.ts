/**
 * sweep.html: one self-contained page (no scripts, no external files) with the chart inline and the
 * table below it; the same cells as the text and Markdown tables (render.ts).
 */
import { shortPath } from '../report/format.js';
import { html, SafeHtml } from '../report/html/template.js';
import { sweepChart } from './chart.js';
import { sweepSummary, sweepTable } from './render.js';
import type { SweepReport } from './schema.js';

const CSS = `
body{margin:0;background:#fff;color:#1f2328;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-variant-numeric:tabular-nums}
main{max-width:980px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:22px;margin:0 0 6px;font-weight:650;overflow-wrap:anywhere}
.muted{color:#5f6872}
figure{margin:18px 0}
figure svg{display:block;max-width:100%;height:auto;border:1px solid #d8dee4;border-radius:8px}
table{border-collapse:collapse;margin:12px 0}
th,td{padding:4px 10px;border-bottom:1px solid #eaeef2;white-space:nowrap}
th{font-weight:600;border-bottom-color:#d8dee4}
td.r,th.r{text-align:right}
tr.original td{color:#5f6872}
`;

export function renderSweepHtml(report: SweepReport, cwd = process.cwd()): string {
  const t = sweepTable(report);
  const cls = (i: number): string => (t.align[i] === 'r' ? 'r' : '');
  const head = t.head.map((h, i) => html`<th class="${cls(i)}">${h}</th>`);
  const rows = t.rows.map((row, r) => html`<tr${r === 0 ? html` class="original"` : ''}>${row.map((c, i) => html`<td class="${cls(i)}">${c}</td>`)}</tr>`);
  const model = shortPath(report.model.path, cwd);
  return `${html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lowrank sweep: ${model}</title>
<style>${SafeHtml.trusted(CSS)}</style>
</head>
<body>
<main>
<h1>lowrank sweep: ${model}</h1>
<p class="muted">${sweepSummary(report, cwd)} · backend ${report.backend} · lowrank ${report.tool.version}</p>
<figure>${sweepChart(report)}</figure>
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>`.toString()}\n`;
}
