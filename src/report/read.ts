/**
 * Read a report.json (or the folder holding one) back, validated against the schema.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ReportFormatError } from '../errors.js';
import { describeZodError } from '../io/model-json.js';
import { REPORT_SCHEMA_VERSION, ReportSchema, type CompressionReport } from './schema.js';

/** The report.json a target names: the file itself, or report.json inside a folder. */
export async function locateReport(target: string): Promise<string> {
  try {
    return (await stat(target)).isDirectory() ? path.join(target, 'report.json') : target;
  } catch {
    throw new ReportFormatError(target, 'no such file or folder');
  }
}

/** Read and validate a report (a report.json, or the output folder holding one). */
export async function readReport(target: string): Promise<CompressionReport> {
  const file = await locateReport(target);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ReportFormatError(file, e.code === 'ENOENT' ? 'no report.json here (is this a lowrank output folder?)' : `not valid JSON: ${e.message}`);
  }
  const version = (raw as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== REPORT_SCHEMA_VERSION) {
    throw new ReportFormatError(file, `report schemaVersion ${JSON.stringify(version)} is not one this lowrank reads (${REPORT_SCHEMA_VERSION})`);
  }
  const parsed = ReportSchema.safeParse(raw);
  if (!parsed.success) throw new ReportFormatError(file, `not a lowrank report: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
