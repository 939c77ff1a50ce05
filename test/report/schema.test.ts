/**
 * The report's published schema: the committed JSON Schema is what `npm run schema` generates from the
 * zod schema now, reports compress writes validate against both, and unknown versions are refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compress } from '../../src/compress/index.js';
import { ReportFormatError } from '../../src/errors.js';
import { reportJsonSchemaText } from '../../src/report/json-schema.js';
import { readReport } from '../../src/report/read.js';
import { DIGITS_MLP, DIGITS_TEST, DIGITS_TRAIN, FIXTURES, ROOT, useTempDirAndLeakCheck } from '../helpers.js';
import { assertValidReport, jsonSchemaProblems, REPORT_JSON_SCHEMA } from './valid-report.js';

const tmp = useTempDirAndLeakCheck();
const fixture = path.join(ROOT, 'test', 'report', 'fixtures', 'report.json');

describe('report schema', () => {
  it('schema/report.schema.json is what `npm run schema` generates now', async () => {
    const committed = await readFile(path.join(ROOT, 'schema', 'report.schema.json'), 'utf8');
    assert.equal(committed, reportJsonSchemaText(), 'run `npm run schema` and commit schema/report.schema.json');
  });

  it('the fixed report of the snapshot tests validates', async () => {
    assertValidReport(JSON.parse(await readFile(fixture, 'utf8')));
  });

  it('the JSON Schema check catches what zod would (a missing field, a wrong type, an unknown variant)', async () => {
    const report = JSON.parse(await readFile(fixture, 'utf8')) as Record<string, unknown>;
    const { flops: _, ...noFlops } = report;
    assert.deepEqual(jsonSchemaProblems(REPORT_JSON_SCHEMA, noFlops), ['$.flops: required']);
    assert.deepEqual(jsonSchemaProblems(REPORT_JSON_SCHEMA, { ...report, backend: 3 }), ['$.backend: expected string, got number']);
    const sizes = (report['sizes'] as Array<Record<string, unknown>>).map((s, i) => (i === 0 ? { ...s, variant: 'int4' } : s));
    assert.match(jsonSchemaProblems(REPORT_JSON_SCHEMA, { ...report, sizes })[0] ?? '', /^\$\.sizes\[0\]\.variant: not one of/);
  });

  it('reports compress writes validate: without data, and with data, --quantize and gates', async () => {
    const bare = await compress({ model: DIGITS_MLP, rank: '8', epochs: 0, out: path.join(tmp(), 'bare') });
    const onDisk = assertValidReport(JSON.parse(await readFile(path.join(tmp(), 'bare', 'report.json'), 'utf8')));
    assert.deepEqual(onDisk, bare.report);
    assert.equal(onDisk.evaluation, null);
    assert.ok(onDisk.sizes.every((s) => s.metrics === null), 'no data: sizes measured, nothing evaluated');
    assert.equal(onDisk.gates, undefined);

    const full = await compress({
      model: DIGITS_MLP,
      rank: '16',
      data: DIGITS_TRAIN,
      validationData: DIGITS_TEST,
      epochs: 1,
      quantize: 'uint8',
      minSizeReduction: 10,
      maxAgreementLoss: 1,
      out: path.join(tmp(), 'full'),
    });
    const report = assertValidReport(JSON.parse(await readFile(path.join(tmp(), 'full', 'report.json'), 'utf8')));
    assert.deepEqual(report, full.report);
    assert.equal(report.options.quantize, 'uint8');
    assert.deepEqual(report.gates?.map((g) => [g.gate, g.passed]), [['max-agreement-loss', true], ['min-size-reduction', true]]);

    const cnn = await compress({ model: path.join(FIXTURES, 'digits-cnn', 'model.json'), rank: '4', epochs: 0, out: path.join(tmp(), 'cnn') });
    assertValidReport(JSON.parse(await readFile(path.join(tmp(), 'cnn', 'report.json'), 'utf8')));
    assert.ok(cnn.report !== null && cnn.report.flops !== null && cnn.report.flops.output < cnn.report.flops.original);
  });

  it('reading a report of an unknown schemaVersion is a clear error', async () => {
    const report = JSON.parse(await readFile(fixture, 'utf8')) as Record<string, unknown>;
    const file = path.join(tmp(), 'future.json');
    await writeFile(file, JSON.stringify({ ...report, schemaVersion: 2 }));
    await assert.rejects(readReport(file), (err: unknown) => {
      assert.ok(err instanceof ReportFormatError);
      assert.equal(err.file, file);
      assert.equal(err.message, 'report schemaVersion 2 is not one this lowrank reads (1)');
      return true;
    });
    await writeFile(file, JSON.stringify({ ...report, sizes: 'big' }));
    await assert.rejects(readReport(file), /not a lowrank report: sizes: /);
  });
});
