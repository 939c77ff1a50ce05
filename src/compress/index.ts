/**
 * `compress()`: prepare → plan → factorize → tune → measure → build the report → write. Each stage is a
 * function in this folder with typed input and output; this file only runs them in order. Returns the
 * report and the files written; never prints, never exits. Progress goes to the `onEvent` listener.
 */
import { factorizeModel, planRun } from './factorize.js';
import { measure } from './measure.js';
import { prepare } from './prepare.js';
import { buildReport } from './report.js';
import { compressStored } from './stored.js';
import { tune } from './tune.js';
import type { CompressResult, CompressRunInput } from './types.js';
import { writeOutput } from './write.js';

/**
 * Compress a model as the CLI's `compress` does. With gate limits the report carries `gates`; a failed
 * gate is not an error here (the output is still written): callers read `report.gates`.
 */
export async function compress(input: CompressRunInput): Promise<CompressResult> {
  const run = await prepare(input);
  // Layer classes tfjs lacks: everything that works on the JSON and the stored weights, nothing more.
  if ('unknownClasses' in run) return compressStored(run);
  const disposables: Array<{ dispose(): void }> = [run.original];
  try {
    const planStarted = performance.now();
    const plan = await planRun(run);
    if (run.options.dryRun) return { report: null, plan, files: [] };
    const { factorized, factorizeMs } = await factorizeModel(run, plan, performance.now() - planStarted);
    disposables.push(factorized.model);
    const tuned = await tune(run, factorized);
    if (tuned.context !== null) disposables.push(tuned.context.reference);
    const measured = await measure(run, factorized, tuned.context);
    const { data } = run;
    const report = buildReport({
      options: run.options,
      backend: run.backend,
      createdAt: new Date(),
      plan: plan.entries,
      budget: plan.budget,
      input: { params: run.original.countParams(), ...measured.inputBytes },
      outputParams: factorized.model.countParams(),
      data: data === undefined ? null : { file: data.file, samples: data.samples, streamed: 'batches' in data.train, trainSamples: data.train.count, validationSamples: data.validation.count },
      loss: run.loss,
      objective: run.objective,
      evaluation: tuned.evaluation,
      training: tuned.training,
      sizes: measured.sizes,
      speed: measured.speed,
      flops: measured.flops,
      timings: { loadMs: run.loadMs, factorizeMs, evaluateMs: tuned.evaluateMs, fineTuneMs: tuned.fineTuneMs, measureMs: measured.measureMs },
    });
    const files = await writeOutput(run, measured.written, report);
    return { report, plan, files };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

// Re-exported so library users need only this module for the common path.
export type { CompressEvent, CompressResult, CompressRunInput } from './types.js';
export type { CompressInput, CompressOptions } from './options.js';
export { tf } from '../tf.js';
