/**
 * The HTML report's stylesheet: light and dark colours, print layout, charts' classes. A constant of
 * this codebase, so the page takes it as trusted markup; nothing in it comes from a report.
 */
export const CSS = `
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
table.sizes tr.written td{font-weight:600}
.badge{font-size:12px;border:1px solid currentColor;border-radius:10px;padding:1px 8px;vertical-align:2px}
table.eval th{font-weight:500}
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
