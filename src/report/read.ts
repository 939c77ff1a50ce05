/**
 * Read a report.json (or the folder holding one) back, validated against the schema.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
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

/** The report `lowrank report` shows when given no path, and how it was found. */
export interface DefaultReport {
  /** The report.json to show. */
  file: string;
  /** The lowrank output folders found under the folder (empty when ./report.json was taken). */
  candidates: string[];
}

/**
 * The report a user most likely means in `dir`: its report.json, else the newest lowrank output folder
 * directly under it (a folder holding a report.json that lowrank wrote; newest by the report's
 * createdAt). Throws a UsageError-like ReportFormatError naming what to pass when there is none.
 */
export async function findDefaultReport(dir: string): Promise<DefaultReport> {
  const here = path.join(dir, 'report.json');
  if (await isFile(here)) return { file: here, candidates: [] };
  const found: Array<{ folder: string; createdAt: number }> = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const folder = path.join(dir, entry.name);
    const createdAt = await lowrankReportTime(path.join(folder, 'report.json'));
    if (createdAt !== undefined) found.push({ folder, createdAt });
  }
  if (found.length === 0) {
    throw new ReportFormatError(dir, 'no report.json here and no lowrank output folder in this folder; pass one: lowrank report <output folder or report.json>');
  }
  found.sort((a, b) => b.createdAt - a.createdAt || a.folder.localeCompare(b.folder));
  const newest = found[0] as { folder: string };
  return { file: path.join(newest.folder, 'report.json'), candidates: found.map((f) => f.folder) };
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** When lowrank wrote the report at `file` (ms), or undefined when it is not a lowrank report. */
async function lowrankReportTime(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    if (!info.isFile() || info.size > 64 * 1024 * 1024) return undefined;
    const raw = JSON.parse(await readFile(file, 'utf8')) as { tool?: { name?: unknown }; createdAt?: unknown };
    if (raw?.tool?.name !== 'lowrank') return undefined;
    const created = typeof raw.createdAt === 'string' ? Date.parse(raw.createdAt) : NaN;
    return Number.isFinite(created) ? created : info.mtimeMs;
  } catch {
    return undefined;
  }
}
