/**
 * A --ratio report as the renderers show it: the budget line, and per whitened layer the output error
 * predicted next to the one measured; reports without them render as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Chalk } from 'chalk';
import { reportView } from '../../src/report/view.js';
import { renderText } from '../../src/report/render-text.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { renderHtml } from '../../src/report/html/page.js';
import { ReportSchema, type CompressionReport } from '../../src/report/schema.js';
import { ROOT } from '../helpers.js';
import { jsonSchemaProblems, REPORT_JSON_SCHEMA } from './valid-report.js';

const base = ReportSchema.parse(JSON.parse(readFileSync(path.join(ROOT, 'test', 'report', 'fixtures', 'report.json'), 'utf8')));

/** The fixture report as a --ratio 0.2 run with whitened layers would have written it. */
function ratioReport(): CompressionReport {
  const report = structuredClone(base) as CompressionReport;
  const considered = report.layers.filter((l) => l.reason !== 'not selected');
  const before = considered.reduce((s, l) => s + l.paramsBefore, 0);
  const after = considered.reduce((s, l) => s + l.paramsAfter, 0);
  report.options.ratio = 0.2;
  report.budget = { ratio: 0.2, paramsBefore: before, paramsAfter: after, budget: Math.floor(0.2 * before), score: 'relative', spectra: 'whiten' };
  for (const l of report.layers) {
    if (l.rank === null) continue;
    l.method = 'whiten';
    l.predictedOutputError = 0.3124;
    l.outputError = 0.2871;
  }
  return report;
}

describe('--ratio in the report', () => {
  it('parses under both schemas; reports without the fields still do', () => {
    const report = ratioReport();
    assert.doesNotThrow(() => ReportSchema.parse(report));
    assert.deepEqual(jsonSchemaProblems(REPORT_JSON_SCHEMA, JSON.parse(JSON.stringify(report))), []);
    assert.equal(base.budget, undefined);
  });

  it('the view states the budget share and each layer\'s predicted and measured output error', () => {
    const report = ratioReport();
    const v = reportView(report);
    const b = report.budget!;
    assert.ok(v.budget !== null);
    assert.equal(v.budget.text, `parameters ${((100 * b.paramsAfter) / b.paramsBefore).toFixed(1)}% of the original's, budget 20%`);
    assert.equal(v.budget.within, b.paramsAfter <= b.budget);
    for (const row of v.layers) assert.deepEqual(row.outputError, row.factorized ? { predicted: '0.312', measured: '0.287' } : null);
    assert.equal(reportView(base).budget, null);
    assert.ok(reportView(base).layers.every((l) => l.outputError === null));
  });

  it('text, Markdown and HTML show them; without them, no extra column', () => {
    const report = ratioReport();
    const text = renderText(report, new Chalk({ level: 0 }));
    assert.match(text, /--ratio: parameters [0-9.]+% of the original's, budget 20%/);
    assert.match(text, /pred\/meas/);
    assert.match(text, /0\.312\/0\.287/);
    for (const line of text.split('\n')) assert.ok([...line].length <= 80, line);
    const md = renderMarkdown(report);
    assert.match(md, /\| output error predicted \| measured \|/);
    assert.match(md, /\| 0\.312 \| 0\.287 \|/);
    assert.match(md, /--ratio: parameters [0-9.]+% of the original's, budget 20%\./);
    const html = renderHtml(report);
    assert.match(html, /output error predicted<\/th>/);
    assert.match(html, /--ratio: parameters [0-9.]+% of the original&#39;s, budget 20%/);
    assert.doesNotMatch(renderText(base, new Chalk({ level: 0 })), /pred\/meas|--ratio/);
    assert.doesNotMatch(renderMarkdown(base), /output error predicted|--ratio/);
    assert.doesNotMatch(renderHtml(base), /output error predicted|--ratio:/);
  });
});
