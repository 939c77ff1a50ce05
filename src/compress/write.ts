/**
 * The last stage: the output folder, whole or not at all, with report.json stating how long the
 * model's files took to write.
 */
import path from 'node:path';
import { modelFolderFiles, writeFolderAtomically, type ModelFiles } from '../io/index.js';
import { ReportSchema, type CompressionReport } from '../report/schema.js';
import type { Prepared, PreparedStored } from './prepare.js';

/** Write the output and report.json; returns the absolute paths written. Fills report.timings' write and total. */
export async function writeOutput(run: Prepared | PreparedStored, files: ModelFiles, report: CompressionReport): Promise<string[]> {
  const { options } = run;
  run.emit({ status: 'stage', stage: 'write', message: `writing ${options.out}` });
  const folder = modelFolderFiles(files);
  await writeFolderAtomically(options.out, folder, options.force, run.signal, (writeMs) => {
    report.timings.writeMs = writeMs;
    report.timings.totalMs = performance.now() - run.started;
    return new Map([['report.json', `${JSON.stringify(ReportSchema.parse(report), null, 2)}\n`]]);
  });
  return [...folder.keys(), 'report.json'].map((name) => path.resolve(options.out, name));
}
